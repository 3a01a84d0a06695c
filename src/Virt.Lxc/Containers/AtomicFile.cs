using System.IO.Abstractions;

namespace Virt.Lxc.Containers;

/// <summary>Writes a file so readers see the old or the new content, never half of it: temp file, flush to disk, rename.</summary>
internal static class AtomicFile
{
    public static async Task WriteAsync(IFileSystem fileSystem, string path, byte[] content, CancellationToken cancellationToken)
    {
        var temporary = $"{path}.tmp-{Environment.ProcessId}";
        var stream = fileSystem.FileStream.New(temporary, FileMode.Create, FileAccess.Write, FileShare.None);
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
