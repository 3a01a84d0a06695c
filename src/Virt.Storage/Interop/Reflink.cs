using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Virt.Storage.Interop;

/// <summary>
/// FICLONE: makes a file share all its blocks with another (xfs with reflink, btrfs), in constant time
/// whatever the size. Fails with EOPNOTSUPP/EXDEV/EINVAL where the file system cannot, which callers
/// treat as "copy instead".
/// </summary>
internal static partial class Reflink
{
    private const ulong Ficlone = 0x40049409;

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    private static partial int Ioctl(SafeFileHandle fd, ulong request, IntPtr argument);

    /// <summary>Clones <paramref name="source"/> into a new <paramref name="target"/>; false (and no target) where the file system cannot.</summary>
    public static bool TryClone(string source, string target)
    {
        using var from = File.OpenHandle(source, FileMode.Open, FileAccess.Read);
        using (var to = File.OpenHandle(target, FileMode.CreateNew, FileAccess.Write))
        {
            if (Ioctl(to, Ficlone, from.DangerousGetHandle()) == 0)
            {
                return true;
            }
        }

        File.Delete(target);
        return false;
    }
}
