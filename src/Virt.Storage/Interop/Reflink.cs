using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Virt.Storage.Interop;

/// <summary>
/// FICLONE: makes a file share all its blocks with another (xfs with reflink, btrfs), in constant time
/// whatever the size. Fails with EOPNOTSUPP/EXDEV/EINVAL where the file system cannot, which callers
/// treat as "copy instead". An ioctl needs real file descriptors, so this opens the host's files
/// directly; callers use it only when the pool's file system is the host's own.
/// </summary>
internal static partial class Reflink
{
    private const ulong Ficlone = 0x40049409;

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    private static partial int Ioctl(SafeFileHandle fd, ulong request, IntPtr argument);

    /// <summary>
    /// Makes the existing empty file <paramref name="target"/> (created by the caller, with the caller's
    /// mode) share every block of <paramref name="source"/>; false, leaving it empty, where the file system cannot.
    /// </summary>
    public static bool TryClone(string source, string target)
    {
        using var from = File.OpenHandle(source, FileMode.Open, FileAccess.Read);
        using var to = File.OpenHandle(target, FileMode.Open, FileAccess.Write);
        return Ioctl(to, Ficlone, from.DangerousGetHandle()) == 0;
    }
}
