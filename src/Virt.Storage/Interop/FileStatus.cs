using System.IO.Abstractions;
using System.Runtime.InteropServices;

namespace Virt.Storage.Interop;

/// <summary>
/// A file's size and the bytes it really occupies (st_blocks × 512), from statx — no qemu-img process for a
/// raw file. statx needs the real path on the host, which no <see cref="IFileSystem"/> method gives (it knows
/// only lengths); on any other file system (a test's, in memory) a file occupies its length.
/// </summary>
internal static partial class FileStatus
{
    private const uint StatxSize = 0x200;
    private const uint StatxBlocks = 0x400;

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Statx(int directoryFd, string path, int flags, uint mask, [Out] byte[] buffer);

    public static (long Size, long Allocated) Of(IFileSystem files, string path)
    {
        if (files is not FileSystem)
        {
            var length = files.FileInfo.New(path).Length;
            return (length, length);
        }

        // AT_FDCWD = -100; struct statx: stx_size u64 at 40, stx_blocks u64 at 48.
        var buffer = new byte[256];
        if (Statx(-100, path, 0, StatxSize | StatxBlocks, buffer) != 0)
        {
            throw new IOException($"cannot stat '{path}': {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        }

        return (BitConverter.ToInt64(buffer, 40), BitConverter.ToInt64(buffer, 48) * 512);
    }
}
