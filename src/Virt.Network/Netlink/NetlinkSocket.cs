using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Virt.Networking;

namespace Virt.Network.Netlink;

/// <summary>The kernel's answer to one request: 0 or its errno, and the extended-ack text when it gave one.</summary>
internal readonly record struct NetlinkAck(int Errno, string? KernelMessage);

/// <summary>Receives the data messages (not acks) of a request or dump.</summary>
internal delegate void NetlinkMessageHandler(NetlinkMessage message);

/// <summary>
/// An AF_NETLINK / NETLINK_ROUTE socket (raw syscalls, so it is AOT-safe and needs no endpoint marshalling). It belongs
/// to the network namespace of the thread that opened it, for its whole life. The kernel handles a request inside the
/// sendmsg that carries it, so every answer is queued before <see cref="Exchange"/> starts reading.
/// </summary>
internal sealed partial class NetlinkSocket : IDisposable
{
    private const int AfNetlink = 16;
    private const int SockRaw = 3;
    private const int SockCloexec = 0x80000;
    private const int NetlinkRoute = 0;
    private const int SolSocket = 1;
    private const int SoRcvbuf = 8;
    private const int SoRcvbufForce = 33;
    private const int SoRcvtimeo = 20;
    private const int SolNetlink = 270;
    private const int NetlinkCapAck = 10;
    private const int NetlinkExtAck = 11;
    private const int MsgTrunc = 0x20;
    private const int ReceiveBufferBytes = 4 << 20;
    private const int NlmsgerrAttrMessage = 1; // NLMSGERR_ATTR_MSG

    private readonly byte[] datagram = new byte[64 * 1024];
    private int descriptor;

    private NetlinkSocket(int descriptor)
    {
        this.descriptor = descriptor;
    }

    /// <summary>The writer whose messages the next <see cref="Exchange"/> sends; its sequence numbers run on across sends.</summary>
    public NetlinkMessageWriter Writer { get; } = new();

    /// <summary>Opens a socket in the calling thread's network namespace, with extended acks on and a receive buffer big enough for a batch's acks.</summary>
    public static NetlinkSocket Open()
    {
        var descriptor = Socket(AfNetlink, SockRaw | SockCloexec, NetlinkRoute);
        if (descriptor < 0)
        {
            throw SyscallFailed("socket(AF_NETLINK, NETLINK_ROUTE)");
        }

        var socket = new NetlinkSocket(descriptor);
        try
        {
            // sockaddr_nl with pid 0: the kernel picks our port id.
            Span<byte> address = stackalloc byte[12];
            address.Clear();
            BinaryPrimitives.WriteUInt16LittleEndian(address, AfNetlink);
            if (Bind(descriptor, address, address.Length) != 0)
            {
                throw SyscallFailed("bind(AF_NETLINK)");
            }

            socket.SetOption(SolNetlink, NetlinkExtAck, 1);
            socket.SetOption(SolNetlink, NetlinkCapAck, 1);

            // A big batch is acknowledged message by message before we read; FORCE needs CAP_NET_ADMIN, which the SDK has.
            if (!TrySetOption(descriptor, SolSocket, SoRcvbufForce, ReceiveBufferBytes))
            {
                socket.SetOption(SolSocket, SoRcvbuf, ReceiveBufferBytes);
            }

            // Every answer is queued while the request is sent, so a read that waits is a bug: fail it instead of hanging.
            Span<byte> timeout = stackalloc byte[16];
            timeout.Clear();
            BinaryPrimitives.WriteInt64LittleEndian(timeout, 30);
            if (SetSockOpt(descriptor, SolSocket, SoRcvtimeo, timeout, timeout.Length) != 0)
            {
                throw SyscallFailed("setsockopt(SO_RCVTIMEO)");
            }

            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Sends the writer's messages in one send and reads one ack per message (in order), passing data replies (a GET's
    /// answer) to <paramref name="onData"/>. The kernel runs every message of a send even after one fails.
    /// </summary>
    public NetlinkAck[] Exchange(NetlinkMessageHandler? onData = null)
    {
        var first = Writer.FirstSequence;
        var acks = new NetlinkAck?[Writer.MessageCount];
        Send(Writer.Written);
        Writer.Clear();
        var pending = acks.Length;
        while (pending > 0)
        {
            foreach (var message in new NetlinkMessageEnumerator(Receive()))
            {
                var slot = unchecked((int)(message.Sequence - first));
                if (slot < 0 || slot >= acks.Length)
                {
                    continue; // an answer to an earlier request of this socket
                }

                if (message.Type == MessageType.Error)
                {
                    acks[slot] = ReadAck(message);
                    pending--;
                }
                else
                {
                    onData?.Invoke(message);
                }
            }
        }

        return [.. acks.Select(ack => ack!.Value)];
    }

    /// <summary>
    /// Sends the writer's one dump request and passes every message of the multipart answer to <paramref name="onData"/>
    /// until NLMSG_DONE. Returns false when the kernel flagged the dump inconsistent (the table changed meanwhile).
    /// </summary>
    public bool Dump(string what, NetlinkMessageHandler onData)
    {
        var sequence = Writer.FirstSequence;
        var consistent = true;
        Send(Writer.Written);
        Writer.Clear();
        while (true)
        {
            foreach (var message in new NetlinkMessageEnumerator(Receive()))
            {
                if (message.Sequence != sequence)
                {
                    continue;
                }

                var errno = message.Type is MessageType.Error or MessageType.Done && message.Payload.Length >= 4
                    ? -BinaryPrimitives.ReadInt32LittleEndian(message.Payload)
                    : 0;
                if (errno != 0)
                {
                    var ack = message.Type == MessageType.Error ? ReadAck(message) : new NetlinkAck(errno, null);
                    throw new NetworkException(VirtErrorKind.Failed, $"netlink dump of {what} failed: {NetlinkErrors.Describe(ack)} (errno {errno})");
                }

                consistent &= (message.Flags & MessageFlags.DumpInterrupted) == 0;
                if (message.Type is MessageType.Done or MessageType.Error)
                {
                    return consistent;
                }

                onData(message);
            }
        }
    }

    // A change monitor lives as long as its link host, which a caller may drop without disposing: the descriptor (and
    // the namespace it keeps alive) goes when the socket is collected.
    ~NetlinkSocket() => Release();

    public void Dispose()
    {
        Release();
        GC.SuppressFinalize(this);
    }

    private void Release()
    {
        var open = Interlocked.Exchange(ref descriptor, -1);
        if (open >= 0)
        {
            _ = Close(open);
        }
    }

    // struct nlmsgerr: the negative errno, the request's header (only the header: NETLINK_CAP_ACK), then extended-ack attributes.
    internal static NetlinkAck ReadAck(NetlinkMessage message)
    {
        var errno = -BinaryPrimitives.ReadInt32LittleEndian(message.Payload);
        string? text = null;
        if ((message.Flags & MessageFlags.AckTlvs) != 0)
        {
            var echoed = (message.Flags & MessageFlags.Capped) != 0 ? 16 : (int)BinaryPrimitives.ReadUInt32LittleEndian(message.Payload[4..]);
            var offset = Math.Min(message.Payload.Length, 4 + ((echoed + 3) & ~3));
            foreach (var attribute in new NetlinkAttributeEnumerator(message.Payload[offset..]))
            {
                if (attribute.Type == NlmsgerrAttrMessage)
                {
                    text = attribute.AsString();
                }
            }
        }

        return new NetlinkAck(errno, text);
    }

    private static NetworkException SyscallFailed(string call)
    {
        var errno = Marshal.GetLastPInvokeError();
        return new NetworkException(
            errno is 1 or 13 ? VirtErrorKind.Refused : VirtErrorKind.Failed,
            $"netlink: {call} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno}); rtnetlink needs a Linux kernel and CAP_NET_ADMIN (run as root)");
    }

    private static bool TrySetOption(int descriptor, int level, int name, int value)
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, value);
        return SetSockOpt(descriptor, level, name, bytes, bytes.Length) == 0;
    }

    private void SetOption(int level, int name, int value)
    {
        if (!TrySetOption(descriptor, level, name, value))
        {
            throw SyscallFailed($"setsockopt({level}, {name})");
        }
    }

    private void Send(ReadOnlySpan<byte> messages)
    {
        ObjectDisposedException.ThrowIf(descriptor < 0, this);
        var sent = SendBytes(descriptor, messages, messages.Length, 0);
        if (sent < 0)
        {
            throw SyscallFailed("send");
        }

        if (sent != messages.Length)
        {
            throw new NetworkException(VirtErrorKind.Failed, $"netlink: send took {sent} of {messages.Length} bytes");
        }
    }

    private ReadOnlySpan<byte> Receive()
    {
        ObjectDisposedException.ThrowIf(descriptor < 0, this);
        var received = ReceiveBytes(descriptor, datagram, datagram.Length, MsgTrunc);
        if (received < 0)
        {
            throw SyscallFailed("recv (an answer the kernel should have queued did not come, or the receive buffer overflowed)");
        }

        if (received > datagram.Length)
        {
            throw new NetworkException(VirtErrorKind.Failed, $"netlink: a {received}-byte answer does not fit the {datagram.Length}-byte receive buffer");
        }

        return datagram.AsSpan(0, (int)received);
    }

    [LibraryImport("libc", EntryPoint = "socket", SetLastError = true)]
    private static partial int Socket(int domain, int type, int protocol);

    [LibraryImport("libc", EntryPoint = "bind", SetLastError = true)]
    private static partial int Bind(int descriptor, ReadOnlySpan<byte> address, int length);

    [LibraryImport("libc", EntryPoint = "setsockopt", SetLastError = true)]
    private static partial int SetSockOpt(int descriptor, int level, int name, ReadOnlySpan<byte> value, int length);

    [LibraryImport("libc", EntryPoint = "send", SetLastError = true)]
    private static partial nint SendBytes(int descriptor, ReadOnlySpan<byte> buffer, nint length, int flags);

    [LibraryImport("libc", EntryPoint = "recv", SetLastError = true)]
    private static partial nint ReceiveBytes(int descriptor, Span<byte> buffer, nint length, int flags);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int descriptor);
}
