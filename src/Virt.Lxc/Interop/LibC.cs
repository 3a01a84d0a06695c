using System.Runtime.InteropServices;

namespace Virt.Lxc.Interop;

/// <summary>
/// The libc calls the container backend needs and .NET does not expose: <c>openat2</c> (path resolution
/// confined to a container's root), <c>lchown</c>/<c>fchown</c> (ownership of unpacked and pushed files),
/// <c>mkfifo</c>, and <c>statx</c> for a file's type through its descriptor.
/// </summary>
internal static partial class LibC
{
    public const int ORdonly = 0;
    public const int OWronly = 1;
    public const int OCreat = 0x40;
    public const int OTrunc = 0x200;
    public const int ONonblock = 0x800;
    public const int ODirectory = 0x10000;
    public const int ONofollow = 0x20000;
    public const int OCloexec = 0x80000;
    public const int OPath = 0x200000;
    public const ulong ResolveNoMagicLinks = 0x02;
    public const ulong ResolveInRoot = 0x10;
    public const int AtEmptyPath = 0x1000;
    public const uint StatxType = 0x0001;
    public const int SIfmt = 0xF000;
    public const int SIfreg = 0x8000;
    public const int SIfdir = 0x4000;

    /// <summary>The openat2 system call number: the same on x86-64 and arm64 (the generic table).</summary>
    private const long SysOpenat2 = 437;

    [StructLayout(LayoutKind.Sequential)]
    public struct OpenHow
    {
        public ulong Flags;
        public ulong Mode;
        public ulong Resolve;
    }

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial long Syscall(long number, int directoryFd, string path, ref OpenHow how, nuint size);

    /// <summary>openat2(2): returns a descriptor or -1 with errno set.</summary>
    public static int OpenAt2(int directoryFd, string path, ref OpenHow how) =>
        (int)Syscall(SysOpenat2, directoryFd, path, ref how, (nuint)Marshal.SizeOf<OpenHow>());

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "lchown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int LChown(string path, int owner, int group);

    [LibraryImport("libc", EntryPoint = "fchown", SetLastError = true)]
    public static partial int FChown(int fd, int owner, int group);

    [LibraryImport("libc", EntryPoint = "link", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Link(string existingPath, string newPath);

    [LibraryImport("libc", EntryPoint = "mkfifo", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int MkFifo(string path, uint mode);

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Statx(int directoryFd, string path, int flags, uint mask, [Out] byte[] buffer);

    /// <summary>The file type bits (S_IFMT) of an open descriptor, or -1 with errno set.</summary>
    public static int FileType(int fd)
    {
        var buffer = new byte[256];
        if (Statx(fd, string.Empty, AtEmptyPath, StatxType, buffer) != 0)
        {
            return -1;
        }

        // struct statx: stx_mask u32, stx_blksize u32, stx_attributes u64, stx_nlink u32, stx_uid u32, stx_gid u32, stx_mode u16 at 28.
        return BitConverter.ToUInt16(buffer, 28) & SIfmt;
    }

    /// <summary>The message of the last errno, for error text.</summary>
    public static string LastError() => Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError());
}
