using System.IO.Abstractions;

namespace Virt.Lxc.Containers;

/// <summary>
/// Writes a file so readers see the old or the new content, never half of it: temp file, flush to disk,
/// rename. The file is created 0600 (LXC's config and the SDK's record carry the container's environment
/// values): the mode is given at creation, so there is no moment when other users could open it.
/// </summary>
internal static class AtomicFile
{
    public const UnixFileMode Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    public static async Task WriteAsync(IFileSystem fileSystem, string path, byte[] content, CancellationToken cancellationToken)
    {
        var temporary = $"{path}.tmp-{Environment.ProcessId}";

        // A leftover of a crash would keep its own mode: an open that does not create applies none.
        fileSystem.File.Delete(temporary);
        var stream = fileSystem.FileStream.New(temporary, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None, UnixCreateMode = Mode });
        await using (stream.ConfigureAwait(false))
        {
            await stream.WriteAsync(content, cancellationToken).ConfigureAwait(false);
#pragma warning disable CA1849 // fsync has no asynchronous form; it is what makes the rename safe.
            stream.Flush(flushToDisk: true);
#pragma warning restore CA1849
        }

        fileSystem.File.Move(temporary, path, overwrite: true);
    }
}
