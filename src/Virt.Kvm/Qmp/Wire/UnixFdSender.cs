using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Virt.Kvm.Qmp.Wire;

/// <summary>
/// Sends bytes together with file descriptors (SCM_RIGHTS) over a unix socket. .NET's
/// <see cref="Socket"/> has no API for ancillary data, so this calls <c>sendmsg(2)</c> directly.
/// QEMU keeps the descriptors that arrive with a command's bytes for that command (<c>getfd</c>,
/// <c>add-fd</c>), so the command and its descriptors travel in one call.
/// </summary>
internal static unsafe partial class UnixFdSender
{
    private const int SolSocket = 1;
    private const int ScmRights = 1;
    private const int MsgNoSignal = 0x4000;
    private const int Eagain = 11;
    private const int Eintr = 4;

    /// <summary>Sends <paramref name="data"/> with <paramref name="descriptors"/> attached to its first byte.</summary>
    /// <exception cref="SocketException">sendmsg failed.</exception>
    public static void Send(Socket socket, ReadOnlySpan<byte> data, IReadOnlyList<SafeHandle> descriptors, TimeSpan timeout)
    {
        ArgumentOutOfRangeException.ThrowIfZero(descriptors.Count);
        var added = new List<SafeHandle>(descriptors.Count);
        var socketAdded = false;
        try
        {
            var socketHandle = socket.SafeHandle;
            socketHandle.DangerousAddRef(ref socketAdded);
            var fd = (int)socketHandle.DangerousGetHandle();

            var dataLength = descriptors.Count * sizeof(int);
            var controlLength = CmsgSpace(dataLength);
            var control = stackalloc byte[controlLength];
            new Span<byte>(control, controlLength).Clear();
            var header = (CmsgHeader*)control;
            header->Length = (nuint)CmsgLength(dataLength);
            header->Level = SolSocket;
            header->Type = ScmRights;
            var fds = (int*)(control + sizeof(CmsgHeader));
            for (var i = 0; i < descriptors.Count; i++)
            {
                var ok = false;
                descriptors[i].DangerousAddRef(ref ok);
                added.Add(descriptors[i]);
                fds[i] = (int)descriptors[i].DangerousGetHandle();
            }

            var sent = 0;
            var deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
            fixed (byte* bytes = data)
            {
                while (sent < data.Length)
                {
                    var vector = new IoVector { Base = bytes + sent, Length = (nuint)(data.Length - sent) };
                    var message = new MessageHeader
                    {
                        Iov = &vector,
                        IovLength = 1,
                        Control = sent == 0 ? control : null,
                        ControlLength = sent == 0 ? (nuint)controlLength : 0,
                    };
                    var result = SendMessage(fd, &message, MsgNoSignal);
                    if (result >= 0)
                    {
                        sent += (int)result;
                        continue;
                    }

                    var errno = Marshal.GetLastPInvokeError();
                    if (errno == Eintr)
                    {
                        continue;
                    }

                    if (errno == Eagain && Environment.TickCount64 < deadline)
                    {
                        socket.Poll(TimeSpan.FromMilliseconds(50), SelectMode.SelectWrite);
                        continue;
                    }

                    throw new SocketException(errno);
                }
            }
        }
        finally
        {
            foreach (var handle in added)
            {
                handle.DangerousRelease();
            }

            if (socketAdded)
            {
                socket.SafeHandle.DangerousRelease();
            }
        }
    }

    private static int CmsgLength(int dataLength) => sizeof(CmsgHeader) + dataLength;

    private static int CmsgSpace(int dataLength) => sizeof(CmsgHeader) + ((dataLength + 7) & ~7);

    [LibraryImport("libc", EntryPoint = "sendmsg", SetLastError = true)]
    private static partial nint SendMessage(int socket, MessageHeader* message, int flags);

    [StructLayout(LayoutKind.Sequential)]
    private struct IoVector
    {
        public byte* Base;
        public nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct MessageHeader
    {
        public void* Name;
        public uint NameLength;
        public IoVector* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct CmsgHeader
    {
        public nuint Length;
        public int Level;
        public int Type;
    }
}
