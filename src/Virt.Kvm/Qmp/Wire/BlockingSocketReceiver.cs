using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Virt.Kvm.Qmp.Wire;

/// <summary>
/// A truly blocking <c>recv(2)</c> for the QMP reader thread. .NET's synchronous
/// <see cref="Socket.Receive(Span{byte})"/> on a socket that was ever used asynchronously (an async
/// connect is enough) is emulated: the data wakes .NET's epoll thread, which then wakes the caller —
/// two thread switches per reply. Calling <c>recv</c> and, on EAGAIN, <c>poll</c> directly lets the
/// kernel wake the reader thread itself, as a C client's blocking read does.
/// </summary>
internal static unsafe partial class BlockingSocketReceiver
{
    private const int Eintr = 4;
    private const int Eagain = 11;
    private const short PollIn = 0x001;

    /// <summary>Receives into <paramref name="into"/>; 0 when the peer closed or the socket was shut down.</summary>
    /// <exception cref="ObjectDisposedException">The socket was disposed.</exception>
    /// <exception cref="IOException">recv or poll failed.</exception>
    public static int Receive(Socket socket, Span<byte> into)
    {
        // The reference keeps the descriptor number from being closed and reused while the thread
        // blocks; it is taken per call, so a Dispose on this same thread never waits for itself.
        var handle = socket.SafeHandle;
        var added = false;
        handle.DangerousAddRef(ref added);
        try
        {
            var fd = (int)handle.DangerousGetHandle();
            fixed (byte* bytes = into)
            {
                while (true)
                {
                    var received = Recv(fd, bytes, (nuint)into.Length, 0);
                    if (received >= 0)
                    {
                        return (int)received;
                    }

                    var errno = Marshal.GetLastPInvokeError();
                    if (errno == Eintr)
                    {
                        continue;
                    }

                    if (errno != Eagain)
                    {
                        throw new IOException($"recv on the QMP socket failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
                    }

                    // The descriptor is non-blocking (.NET sets that for async calls): wait in the kernel.
                    // A shutdown of the socket wakes this poll, so closing the client ends the wait.
                    var wait = new PollDescriptor { Fd = fd, Events = PollIn };
                    if (Poll(&wait, 1, -1) < 0 && Marshal.GetLastPInvokeError() is var pollErrno && pollErrno != Eintr)
                    {
                        throw new IOException($"poll on the QMP socket failed: {Marshal.GetPInvokeErrorMessage(pollErrno)} (errno {pollErrno})");
                    }
                }
            }
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "recv", SetLastError = true)]
    private static partial nint Recv(int fd, byte* buffer, nuint length, int flags);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static partial int Poll(PollDescriptor* descriptors, nuint count, int timeoutMilliseconds);

    [StructLayout(LayoutKind.Sequential)]
    private struct PollDescriptor
    {
        public int Fd;
        public short Events;
        public short ReturnedEvents;
    }
}
