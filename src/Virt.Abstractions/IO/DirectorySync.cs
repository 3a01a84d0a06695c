using System.Runtime.InteropServices;

namespace Virt.IO;

/// <summary>fsync of a directory: .NET opens no directory as a stream, so this goes to libc.</summary>
internal static partial class DirectorySync
{
    // O_RDONLY | O_CLOEXEC: the same values on every Linux architecture (O_DIRECTORY is not, and a read-only open of a directory needs none).
    private const int ReadOnlyCloseOnExec = 0x80000;

    public static void Flush(string directory)
    {
        var descriptor = Open(directory, ReadOnlyCloseOnExec);
        if (descriptor < 0)
        {
            throw new IOException($"open '{directory}' failed: {Marshal.GetLastPInvokeErrorMessage()}");
        }

        try
        {
            if (Fsync(descriptor) != 0)
            {
                throw new IOException($"fsync of '{directory}' failed: {Marshal.GetLastPInvokeErrorMessage()}");
            }
        }
        finally
        {
            _ = Close(descriptor);
        }
    }

    /// <summary>Flushes everything written to the file system that holds <paramref name="directory"/> (syncfs(2)): one call for many files.</summary>
    public static void FlushFileSystem(string directory)
    {
        var descriptor = Open(directory, ReadOnlyCloseOnExec);
        if (descriptor < 0)
        {
            throw new IOException($"open '{directory}' failed: {Marshal.GetLastPInvokeErrorMessage()}");
        }

        try
        {
            if (SyncFs(descriptor) != 0)
            {
                throw new IOException($"syncfs of the file system holding '{directory}' failed: {Marshal.GetLastPInvokeErrorMessage()}");
            }
        }
        finally
        {
            _ = Close(descriptor);
        }
    }

    [LibraryImport("libc", EntryPoint = "syncfs", SetLastError = true)]
    private static partial int SyncFs(int descriptor);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int descriptor);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int descriptor);
}
