using System.Buffers.Binary;
using System.Net;
using System.Text;

namespace Virt.Network.Netlink;

/// <summary>
/// Builds one send's worth of netlink messages in one buffer: each message is a header (nlmsghdr), a fixed family
/// header (ifinfomsg, ifaddrmsg, rtmsg, ndmsg) and attributes, every part padded to 4 bytes as NLMSG_ALIGN/NLA_ALIGN
/// require. Numbers are in host order (little-endian here) except where the kernel wants network order.
/// </summary>
internal sealed class NetlinkMessageWriter
{
    private const int HeaderLength = 16;
    private byte[] buffer = new byte[4096];
    private int messageStart = -1;
    private uint nextSequence = 1;

    /// <summary>Bytes written so far.</summary>
    public int Length { get; private set; }

    /// <summary>How many messages the buffer holds.</summary>
    public int MessageCount { get; private set; }

    /// <summary>The sequence number of the first message since <see cref="Clear"/>; the others follow it one by one.</summary>
    public uint FirstSequence { get; private set; } = 1;

    /// <summary>The finished messages.</summary>
    public ReadOnlySpan<byte> Written => buffer.AsSpan(0, Length);

    /// <summary>Empties the buffer for the next send.</summary>
    public void Clear()
    {
        Length = 0;
        MessageCount = 0;
        messageStart = -1;
        FirstSequence = nextSequence;
    }

    /// <summary>
    /// Starts a request with the next sequence number; its length is filled in by <see cref="EndMessage"/>. The port id
    /// is 0: the kernel is the peer.
    /// </summary>
    public void BeginRequest(ushort type, ushort flags)
    {
        if (messageStart >= 0)
        {
            throw new InvalidOperationException("the previous netlink message was not ended");
        }

        messageStart = Length;
        var header = Reserve(HeaderLength);
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], type);
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], (ushort)(flags | MessageFlags.Request));
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], nextSequence++);
    }

    /// <summary>Writes the message's length into its header.</summary>
    public void EndMessage()
    {
        BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(messageStart), (uint)(Length - messageStart));
        messageStart = -1;
        MessageCount++;
    }

    /// <summary>struct ifinfomsg: family, type 0, index, flags and the mask of flags to change.</summary>
    public void WriteLinkHeader(byte family, int index, uint flags = 0, uint change = 0)
    {
        var header = Reserve(16);
        header[0] = family;
        BinaryPrimitives.WriteInt32LittleEndian(header[4..], index);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], flags);
        BinaryPrimitives.WriteUInt32LittleEndian(header[12..], change);
    }

    /// <summary>struct ifaddrmsg: family, prefix length, flags 0, scope universe, index.</summary>
    public void WriteAddressHeader(byte family, int prefixLength, int index)
    {
        var header = Reserve(8);
        header[0] = family;
        header[1] = (byte)prefixLength;
        BinaryPrimitives.WriteInt32LittleEndian(header[4..], index);
    }

    /// <summary>struct rtmsg: family, destination prefix length, table, protocol, scope, type; no source, TOS or flags.</summary>
    public void WriteRouteHeader(byte family, int destinationLength, byte table, byte protocol, byte scope, byte type)
    {
        var header = Reserve(12);
        header[0] = family;
        header[1] = (byte)destinationLength;
        header[4] = table;
        header[5] = protocol;
        header[6] = scope;
        header[7] = type;
    }

    /// <summary>struct ndmsg: family, index, state, flags, type 0.</summary>
    public void WriteNeighbourHeader(byte family, int index, ushort state, byte flags)
    {
        var header = Reserve(12);
        header[0] = family;
        BinaryPrimitives.WriteInt32LittleEndian(header[4..], index);
        BinaryPrimitives.WriteUInt16LittleEndian(header[8..], state);
        header[10] = flags;
    }

    /// <summary>Bytes as they are (a family header written by the caller), padded.</summary>
    public void AddRaw(ReadOnlySpan<byte> bytes) => bytes.CopyTo(Reserve(bytes.Length));

    /// <summary>An attribute with raw bytes as its payload.</summary>
    public void AddAttribute(ushort type, ReadOnlySpan<byte> payload)
    {
        var attribute = Reserve(4 + payload.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(attribute, (ushort)(4 + payload.Length));
        BinaryPrimitives.WriteUInt16LittleEndian(attribute[2..], type);
        payload.CopyTo(attribute[4..]);
    }

    public void AddByte(ushort type, byte value) => AddAttribute(type, [value]);

    public void AddUInt16(ushort type, ushort value)
    {
        Span<byte> payload = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(payload, value);
        AddAttribute(type, payload);
    }

    /// <summary>A 16-bit value in network byte order (a UDP port).</summary>
    public void AddUInt16BigEndian(ushort type, ushort value)
    {
        Span<byte> payload = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(payload, value);
        AddAttribute(type, payload);
    }

    public void AddUInt32(ushort type, uint value)
    {
        Span<byte> payload = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(payload, value);
        AddAttribute(type, payload);
    }

    public void AddInt32(ushort type, int value) => AddUInt32(type, unchecked((uint)value));

    /// <summary>A NUL-terminated string (names, kinds, aliases).</summary>
    public void AddString(ushort type, string value)
    {
        var payload = new byte[Encoding.UTF8.GetByteCount(value) + 1];
        Encoding.UTF8.GetBytes(value, payload);
        AddAttribute(type, payload);
    }

    /// <summary>An IPv4 or IPv6 address in network byte order (4 or 16 bytes).</summary>
    public void AddIPAddress(ushort type, IPAddress address)
    {
        Span<byte> payload = stackalloc byte[16];
        address.TryWriteBytes(payload, out var written);
        AddAttribute(type, payload[..written]);
    }

    /// <summary>Opens a nested attribute; returns where it starts, for <see cref="EndNested"/>.</summary>
    public int BeginNested(ushort type)
    {
        var start = Length;
        AddAttribute(type, []);
        return start;
    }

    /// <summary>Closes a nested attribute: its length covers everything written since <see cref="BeginNested"/>.</summary>
    public void EndNested(int start) => BinaryPrimitives.WriteUInt16LittleEndian(buffer.AsSpan(start), (ushort)(Length - start));

    // Hands out the next 'length' bytes, zeroed, and moves past them and their padding to the next 4-byte boundary.
    private Span<byte> Reserve(int length)
    {
        var aligned = (length + 3) & ~3;
        if (Length + aligned > buffer.Length)
        {
            Array.Resize(ref buffer, Math.Max(buffer.Length * 2, Length + aligned));
        }

        var span = buffer.AsSpan(Length, aligned);
        span.Clear();
        Length += aligned;
        return span[..length];
    }
}
