using System.Runtime.InteropServices;

namespace Virt.Kvm.Interop;

/// <summary>
/// A process descriptor (<c>pidfd_open</c>): it names one process for as long as it is held, so a
/// signal sent through it (<c>pidfd_send_signal</c>) can never reach another process that reused
/// the pid after the first one ended. Linux 5.3 and later.
/// </summary>
internal sealed partial class PidFd : SafeHandle
{
    private const long SysPidfdSendSignal = 424;
    private const long SysPidfdOpen = 434;
    private const int Enosys = 38;
    private const short PollIn = 1;

    private PidFd()
        : base(new IntPtr(-1), ownsHandle: true)
    {
    }

    /// <summary>The pid the descriptor was opened for.</summary>
    public int Pid { get; private set; }

    public override bool IsInvalid => handle == new IntPtr(-1);

    /// <summary>
    /// Opens a descriptor for the process that has <paramref name="pid"/> now; null when no process
    /// has it. Throws <see cref="PlatformNotSupportedException"/> on kernels before 5.3.
    /// </summary>
    public static PidFd? Open(int pid)
    {
        var fd = Syscall(SysPidfdOpen, pid, 0, 0, 0);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            return errno switch
            {
                LibC.Esrch => null,
                Enosys => throw new PlatformNotSupportedException("pidfd_open is not available (Linux 5.3 or later is needed to signal QEMU without a pid-reuse race)"),
                _ => throw new IOException($"pidfd_open({pid}) failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})"),
            };
        }

        var handle = new PidFd { Pid = pid };
        handle.SetHandle(new IntPtr(fd));
        return handle;
    }

    /// <summary>Sends a signal to exactly this process; false when it has already exited (or the descriptor was closed).</summary>
    public bool Signal(int signal)
    {
        var added = false;
        try
        {
            DangerousAddRef(ref added);
            if (Syscall(SysPidfdSendSignal, (long)DangerousGetHandle(), signal, 0, 0) == 0)
            {
                return true;
            }

            var errno = Marshal.GetLastPInvokeError();
            return errno == LibC.Esrch ? false : throw new IOException($"pidfd_send_signal to pid {Pid} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
        finally
        {
            if (added)
            {
                DangerousRelease();
            }
        }
    }

    /// <summary>Whether the process has exited (the descriptor polls readable then); true once the descriptor is closed.</summary>
    public unsafe bool HasExited
    {
        get
        {
            var added = false;
            try
            {
                DangerousAddRef(ref added);
                var poll = new PollFd { Fd = (int)DangerousGetHandle(), Events = PollIn };
                return Poll(&poll, 1, 0) != 0;
            }
            catch (ObjectDisposedException)
            {
                return true;
            }
            finally
            {
                if (added)
                {
                    DangerousRelease();
                }
            }
        }
    }

    protected override bool ReleaseHandle() => LibC.Close((int)handle) == 0;

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall(long number, long argument1, long argument2, long argument3, long argument4);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static unsafe partial int Poll(PollFd* fds, ulong count, int timeout);
}
