using System.Globalization;
using System.IO.Abstractions;

namespace Virt.IO;

/// <summary>
/// Writes the SDK's state files (specs, runtime records, pidfiles, pool definitions, journals) so that after
/// a crash or a power cut a reader finds the old content or the new content, never a torn file: a temporary
/// file beside the target, created with its mode (never opened to others, even for a moment), written,
/// flushed to disk, renamed over the target, and the directory flushed so that the rename itself survives.
/// </summary>
/// <remarks>
/// The directory is flushed when the file system is the real <see cref="FileSystem"/> or an
/// <see cref="IDurableFileSystem"/>; an in-memory file system has nothing to flush. A temporary file left by
/// a process that died mid-write is removed by the next write of the same file. When a step fails, the
/// target is left as it was, the temporary file is removed, and the <see cref="IOException"/> names the file,
/// the step and what the operating system said.
/// </remarks>
public static class StateFile
{
    private const string TemporaryMarker = ".tmp-";

    /// <summary>Replaces the file at <paramref name="path"/> with <paramref name="content"/>, crash-safely.</summary>
    /// <param name="fileSystem">The file system to write through (the real one on a host).</param>
    /// <param name="path">The state file; its directory must exist.</param>
    /// <param name="content">The whole new content.</param>
    /// <param name="mode">The file's permissions, given at creation (<see cref="OwnerOnly.FileMode"/> for anything private).</param>
    /// <param name="cancellationToken">Cancels the write before the rename; the old file then stays.</param>
    /// <exception cref="IOException">A step failed; the message names the file, the step and the OS error.</exception>
    public static async Task WriteAsync(IFileSystem fileSystem, string path, ReadOnlyMemory<byte> content, UnixFileMode mode, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(fileSystem);
        ArgumentException.ThrowIfNullOrEmpty(path);
        var temporary = Prepare(fileSystem, path);
        var step = "create the temporary file";
        try
        {
            var stream = CreateTemporary(fileSystem, temporary, mode);
            await using (stream.ConfigureAwait(false))
            {
                step = "write";
                await stream.WriteAsync(content, cancellationToken).ConfigureAwait(false);
                step = "flush to disk (fsync)";
#pragma warning disable CA1849 // fsync has no asynchronous form; it is what makes the rename safe.
                stream.Flush(flushToDisk: true);
#pragma warning restore CA1849
            }

            cancellationToken.ThrowIfCancellationRequested();
            step = "rename over the target";
            fileSystem.File.Move(temporary, path, overwrite: true);
        }
        catch (Exception exception)
        {
            throw Failed(fileSystem, path, temporary, step, exception);
        }

        FlushDirectory(fileSystem, path);
    }

    /// <summary>Replaces the file at <paramref name="path"/> with <paramref name="content"/>, crash-safely (the synchronous form of <see cref="WriteAsync"/>).</summary>
    /// <param name="fileSystem">The file system to write through (the real one on a host).</param>
    /// <param name="path">The state file; its directory must exist.</param>
    /// <param name="content">The whole new content.</param>
    /// <param name="mode">The file's permissions, given at creation (<see cref="OwnerOnly.FileMode"/> for anything private).</param>
    /// <exception cref="IOException">A step failed; the message names the file, the step and the OS error.</exception>
    public static void Write(IFileSystem fileSystem, string path, ReadOnlySpan<byte> content, UnixFileMode mode)
    {
        ArgumentNullException.ThrowIfNull(fileSystem);
        ArgumentException.ThrowIfNullOrEmpty(path);
        var temporary = Prepare(fileSystem, path);
        var step = "create the temporary file";
        try
        {
            using (var stream = CreateTemporary(fileSystem, temporary, mode))
            {
                step = "write";
                stream.Write(content);
                step = "flush to disk (fsync)";
                stream.Flush(flushToDisk: true);
            }

            step = "rename over the target";
            fileSystem.File.Move(temporary, path, overwrite: true);
        }
        catch (Exception exception)
        {
            throw Failed(fileSystem, path, temporary, step, exception);
        }

        FlushDirectory(fileSystem, path);
    }

    /// <summary>
    /// Replaces many files at once, each crash-safely as <see cref="Write"/> does (after a crash each holds its old content
    /// or its new one, never a torn one), with two flushes of the file system in all instead of two per file: every
    /// temporary file is written, the file system is flushed (syncfs), every temporary is renamed over its target, and the
    /// file system is flushed again. For records written by the hundred (a thousand ports prepared in one change).
    /// </summary>
    /// <param name="fileSystem">The file system to write through (the real one on a host).</param>
    /// <param name="files">Each state file's path (its directory must exist) and whole new content; all on one file system.</param>
    /// <param name="mode">The files' permissions, given at creation.</param>
    /// <exception cref="IOException">A step failed; the message names the file, the step and the OS error. Files renamed before it have their new content, the others their old one.</exception>
    public static void WriteAll(IFileSystem fileSystem, IReadOnlyDictionary<string, byte[]> files, UnixFileMode mode)
    {
        ArgumentNullException.ThrowIfNull(fileSystem);
        ArgumentNullException.ThrowIfNull(files);
        if (files.Count == 0)
        {
            return;
        }

        var real = fileSystem is FileSystem;
        var written = new List<(string Path, string Temporary)>(files.Count);
        var (path, temporary, step) = (string.Empty, string.Empty, "create the temporary file");
        try
        {
            foreach (var (target, content) in files)
            {
                ArgumentException.ThrowIfNullOrEmpty(target);
                (path, temporary, step) = (target, Prepare(fileSystem, target), "create the temporary file");
                using (var stream = CreateTemporary(fileSystem, temporary, mode))
                {
                    written.Add((path, temporary));
                    step = "write";
                    stream.Write(content);
                    if (!real)
                    {
                        step = "flush to disk (fsync)";
                        stream.Flush(flushToDisk: true);
                    }
                }
            }

            if (real)
            {
                (path, temporary, step) = (written[0].Path, written[0].Temporary, "flush the file system (syncfs)");
                DirectorySync.FlushFileSystem(fileSystem.Path.GetDirectoryName(fileSystem.Path.GetFullPath(path))!);
            }

            foreach (var file in written)
            {
                (path, temporary, step) = (file.Path, file.Temporary, "rename over the target");
                fileSystem.File.Move(file.Temporary, file.Path, overwrite: true);
            }
        }
        catch (Exception exception)
        {
            foreach (var file in written)
            {
                TryDelete(fileSystem, file.Temporary);
            }

            throw Failed(fileSystem, path, temporary, step, exception);
        }

        if (real)
        {
            var anyDirectory = fileSystem.Path.GetDirectoryName(fileSystem.Path.GetFullPath(written[0].Path))!;
            try
            {
                DirectorySync.FlushFileSystem(anyDirectory);
            }
            catch (IOException exception)
            {
                throw new IOException($"wrote {written.Count} state files ('{written[0].Path}' and others), but the step 'flush the file system (syncfs)' failed: {exception.Message}; the new contents are in place but may not survive a power cut", exception);
            }
        }
        else
        {
            foreach (var file in written.DistinctBy(f => fileSystem.Path.GetDirectoryName(f.Path)))
            {
                FlushDirectory(fileSystem, file.Path);
            }
        }
    }

    /// <summary>
    /// Flushes a directory's entries to disk (open it read-only, fsync, close) on the real file system, so that a
    /// rename or a removal in it survives a power cut. For wrappers around the real file system that implement
    /// <see cref="IDurableFileSystem"/>.
    /// </summary>
    /// <param name="directory">The directory, on the real file system.</param>
    /// <exception cref="IOException">The directory could not be opened or flushed; the message carries the OS error.</exception>
    public static void FlushDirectoryToDisk(string directory) => DirectorySync.Flush(directory);

    /// <summary>
    /// Removes a state file so that its absence survives a power cut: the unlink, then an fsync of its directory. For a
    /// file whose absence means something (a step completed), which a crash must not bring back.
    /// </summary>
    /// <param name="fileSystem">The file system (the real one on a host).</param>
    /// <param name="path">The state file; nothing happens if it is absent.</param>
    /// <exception cref="IOException">The directory could not be flushed; the message carries the OS error.</exception>
    public static void Delete(IFileSystem fileSystem, string path)
    {
        ArgumentNullException.ThrowIfNull(fileSystem);
        ArgumentException.ThrowIfNullOrEmpty(path);
        fileSystem.File.Delete(path);
        FlushDirectory(fileSystem, path);
    }

    /// <summary>The temporary file's name for this write, once the temporaries of writers that died are removed.</summary>
    private static string Prepare(IFileSystem fileSystem, string path)
    {
        RemoveStaleTemporaries(fileSystem, path);
        return string.Create(CultureInfo.InvariantCulture, $"{path}{TemporaryMarker}{Environment.ProcessId}-{Guid.NewGuid():N}");
    }

    /// <summary>
    /// Removes the temporaries of this file whose writer is gone (a crash between create and rename). A live
    /// process's temporary may be a write in progress, so it stays; this process's own never outlive a write.
    /// </summary>
    private static void RemoveStaleTemporaries(IFileSystem fileSystem, string path)
    {
        var directory = fileSystem.Path.GetDirectoryName(path);
        if (string.IsNullOrEmpty(directory) || !fileSystem.Directory.Exists(directory))
        {
            return;
        }

        var prefix = fileSystem.Path.GetFileName(path) + TemporaryMarker;
        foreach (var candidate in fileSystem.Directory.EnumerateFiles(directory, prefix + "*"))
        {
            var rest = fileSystem.Path.GetFileName(candidate)[prefix.Length..];
            var dash = rest.IndexOf('-', StringComparison.Ordinal);
            var pidText = dash < 0 ? rest : rest[..dash];
            if (int.TryParse(pidText, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && pid != Environment.ProcessId && !ProcessIsAlive(pid))
            {
                TryDelete(fileSystem, candidate);
            }
        }
    }

    private static bool ProcessIsAlive(int pid)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private static FileSystemStream CreateTemporary(IFileSystem fileSystem, string temporary, UnixFileMode mode) =>
        fileSystem.FileStream.New(temporary, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None, UnixCreateMode = mode });

    private static Exception Failed(IFileSystem fileSystem, string path, string temporary, string step, Exception exception)
    {
        TryDelete(fileSystem, temporary);
        if (exception is OperationCanceledException)
        {
            return exception;
        }

        return new IOException($"could not write state file '{path}': the step '{step}' failed on '{temporary}': {exception.Message}; the previous content of '{path}' is unchanged", exception);
    }

    private static void TryDelete(IFileSystem fileSystem, string file)
    {
        try
        {
            fileSystem.File.Delete(file);
        }
        catch (IOException)
        {
            // The write's own error is the one to report; a temporary that cannot be removed now is removed by the next write.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static void FlushDirectory(IFileSystem fileSystem, string path)
    {
        var directory = fileSystem.Path.GetDirectoryName(fileSystem.Path.GetFullPath(path));
        if (string.IsNullOrEmpty(directory))
        {
            return;
        }

        try
        {
            switch (fileSystem)
            {
                case IDurableFileSystem durable:
                    durable.FlushDirectory(directory);
                    break;
                case FileSystem:
                    DirectorySync.Flush(directory);
                    break;
            }
        }
        catch (IOException exception)
        {
            throw new IOException($"wrote state file '{path}', but the step 'flush the directory (fsync)' failed on '{directory}': {exception.Message}; the new content is in place but may not survive a power cut", exception);
        }
    }
}
