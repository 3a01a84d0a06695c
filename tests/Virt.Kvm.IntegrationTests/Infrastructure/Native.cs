using System.Runtime.InteropServices;

namespace Virt.Kvm.IntegrationTests.Infrastructure;

/// <summary>The few libc calls the tests need that .NET does not expose.</summary>
internal static partial class Native
{
    public const int SigKill = 9;
    public const int SigStop = 19;
    public const int SigCont = 18;

    private const int AfUnix = 1;
    private const int SockStream = 1;
    private const int FSetFd = 2;
    private const int FdCloexec = 1;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    public static partial int Kill(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "prctl", SetLastError = true)]
    private static partial int Prctl(int option, nint argument2, nint argument3, nint argument4, nint argument5);

    /// <summary>
    /// Makes the test process adopt orphaned descendants (a QEMU whose starting manager exited), so
    /// that they are reaped here rather than left as zombies under a PID 1 that may never reap.
    /// </summary>
    public static void BecomeSubreaper() => _ = Prctl(36 /* PR_SET_CHILD_SUBREAPER */, 1, 0, 0, 0);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "socketpair", SetLastError = true)]
    private static unsafe partial int SocketPair(int domain, int type, int protocol, int* fds);

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int Fcntl(int fd, int command, int argument);

    /// <summary>Whether a process has ended: gone, or a zombie nobody reaped yet.</summary>
    public static bool HasEnded(int pid) => Virt.Tests.ProcessTable.HasEnded(pid);

    /// <summary>A unix socket pair; the first end is close-on-exec (ours), the second is inherited by the next child.</summary>
    public static unsafe (int Ours, int Theirs) CreateSocketPair()
    {
        var fds = stackalloc int[2];
        if (SocketPair(AfUnix, SockStream, 0, fds) != 0)
        {
            throw new System.ComponentModel.Win32Exception(Marshal.GetLastPInvokeError());
        }

        if (Fcntl(fds[0], FSetFd, FdCloexec) != 0)
        {
            throw new System.ComponentModel.Win32Exception(Marshal.GetLastPInvokeError());
        }

        return (fds[0], fds[1]);
    }
}
