using System.Runtime.InteropServices;

namespace Virt.Lxc.Interop;

/// <summary>
/// The calls that pin a process and inspect a descriptor: <c>pidfd_open</c> and <c>pidfd_send_signal</c>
/// (a handle on one process that a reused pid cannot redirect), <c>geteuid</c>, <c>fcntl</c> (clearing
/// <c>O_NONBLOCK</c>) and <c>fstatfs</c> (the filesystem a descriptor lives on).
/// </summary>
internal static partial class LibC
{
    public const int Esrch = 3;
    public const int FGetFl = 3;
    public const int FSetFl = 4;
    public const int OExcl = 0x80;
    public const uint StatxSize = 0x0200;

    /// <summary>Filesystems whose files are the kernel's, not data: proc, sysfs, cgroup v1/v2, debugfs, tracefs, securityfs, bpf, configfs, efivarfs, pstore, binfmt_misc, selinuxfs, fusectl.</summary>
    public static readonly IReadOnlySet<long> KernelFileSystems = new HashSet<long>
    {
        0x9fa0, 0x62656572, 0x27e0eb, 0x63677270, 0x64626720, 0x74726163, 0x73636673, unchecked((long)0xcafe4a11), 0x62656570, unchecked((long)0xde5e81e4), 0x6165676c, 0x42494e4d, unchecked((long)0xf97cff8c), 0x65735543,
    };

    /// <summary>pidfd_open and pidfd_send_signal: the same on x86-64 and arm64 (the generic table).</summary>
    private const long SysPidfdOpen = 434;
    private const long SysPidfdSendSignal = 424;

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall(long number, int argument1, nint argument2, nint argument3, uint argument4);

    /// <summary>pidfd_open(2): a descriptor on the process now holding <paramref name="pid"/>, or -1 with errno set.</summary>
    public static int PidfdOpen(int pid) => (int)Syscall(SysPidfdOpen, pid, 0, 0, 0);

    /// <summary>Whether the process behind a pidfd has not been reaped (signal 0 only checks).</summary>
    public static bool PidfdIsAlive(int pidfd) => Syscall(SysPidfdSendSignal, pidfd, 0, 0, 0) == 0;

    [LibraryImport("libc", EntryPoint = "geteuid")]
    public static partial uint GetEuid();

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    public static partial int Fcntl(int fd, int command, int argument);

    [LibraryImport("libc", EntryPoint = "fstatfs", SetLastError = true)]
    private static partial int FStatFs(int fd, [Out] byte[] buffer);

    /// <summary>The filesystem type (f_type) of an open descriptor, or -1 with errno set.</summary>
    public static long FileSystemType(int fd)
    {
        // struct statfs on 64-bit Linux begins with a long f_type.
        var buffer = new byte[256];
        return FStatFs(fd, buffer) != 0 ? -1 : BitConverter.ToInt64(buffer, 0);
    }

    /// <summary>A file's size (stx_size) through its descriptor, or -1 with errno set.</summary>
    public static long FileSize(int fd)
    {
        var buffer = new byte[256];
        if (Statx(fd, string.Empty, AtEmptyPath, StatxType | StatxSize, buffer) != 0)
        {
            return -1;
        }

        // struct statx: ... stx_mode u16 at 28, stx_ino u64 at 32, stx_size u64 at 40.
        return BitConverter.ToInt64(buffer, 40);
    }
}
