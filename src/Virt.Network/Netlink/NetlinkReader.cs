using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Text;

namespace Virt.Network.Netlink;

/// <summary>One netlink message of a received datagram: its header fields and its payload (family header and attributes).</summary>
internal readonly ref struct NetlinkMessage(ushort type, ushort flags, uint sequence, ReadOnlySpan<byte> payload)
{
    public ushort Type { get; } = type;

    public ushort Flags { get; } = flags;

    public uint Sequence { get; } = sequence;

    public ReadOnlySpan<byte> Payload { get; } = payload;
}

/// <summary>Walks the messages of one datagram, each aligned to 4 bytes.</summary>
internal ref struct NetlinkMessageEnumerator(ReadOnlySpan<byte> datagram)
{
    private ReadOnlySpan<byte> rest = datagram;

    public NetlinkMessage Current { get; private set; }

    public readonly NetlinkMessageEnumerator GetEnumerator() => this;

    public bool MoveNext()
    {
        if (rest.Length < 16)
        {
            return false;
        }

        var length = (int)BinaryPrimitives.ReadUInt32LittleEndian(rest);
        if (length < 16 || length > rest.Length)
        {
            throw new InvalidDataException($"netlink message of length {length} in a datagram of {rest.Length} bytes");
        }

        Current = new NetlinkMessage(
            BinaryPrimitives.ReadUInt16LittleEndian(rest[4..]),
            BinaryPrimitives.ReadUInt16LittleEndian(rest[6..]),
            BinaryPrimitives.ReadUInt32LittleEndian(rest[8..]),
            rest[16..length]);
        rest = rest[Math.Min(rest.Length, (length + 3) & ~3)..];
        return true;
    }
}

/// <summary>One attribute: its type (without the nested / byte-order bits) and payload, with typed readers.</summary>
internal readonly ref struct NetlinkAttribute(ushort type, ReadOnlySpan<byte> payload)
{
    public ushort Type { get; } = type;

    public ReadOnlySpan<byte> Payload { get; } = payload;

    public byte AsByte() => Payload[0];

    public ushort AsUInt16() => BinaryPrimitives.ReadUInt16LittleEndian(Payload);

    public ushort AsUInt16BigEndian() => BinaryPrimitives.ReadUInt16BigEndian(Payload);

    public uint AsUInt32() => BinaryPrimitives.ReadUInt32LittleEndian(Payload);

    public int AsInt32() => BinaryPrimitives.ReadInt32LittleEndian(Payload);

    /// <summary>A NUL-terminated string.</summary>
    public string AsString()
    {
        var end = Payload.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? Payload : Payload[..end]);
    }

    public IPAddress AsIPAddress() => new(Payload);

    /// <summary>A hardware address as lowercase colon-separated hex (<c>52:54:00:12:34:56</c>).</summary>
    public string AsMacAddress() => string.Join(':', Payload.ToArray().Select(octet => octet.ToString("x2", CultureInfo.InvariantCulture)));

    /// <summary>The attributes nested in this one.</summary>
    public NetlinkAttributeEnumerator Nested => new(Payload);
}

/// <summary>Walks a run of attributes, each aligned to 4 bytes.</summary>
internal ref struct NetlinkAttributeEnumerator(ReadOnlySpan<byte> attributes)
{
    private const ushort TypeMask = 0x3FFF; // NLA_TYPE_MASK: without NLA_F_NESTED and NLA_F_NET_BYTEORDER

    private ReadOnlySpan<byte> rest = attributes;

    public NetlinkAttribute Current { get; private set; }

    public readonly NetlinkAttributeEnumerator GetEnumerator() => this;

    public bool MoveNext()
    {
        if (rest.Length < 4)
        {
            return false;
        }

        var length = BinaryPrimitives.ReadUInt16LittleEndian(rest);
        if (length < 4 || length > rest.Length)
        {
            throw new InvalidDataException($"netlink attribute of length {length} in {rest.Length} bytes");
        }

        Current = new NetlinkAttribute((ushort)(BinaryPrimitives.ReadUInt16LittleEndian(rest[2..]) & TypeMask), rest[4..length]);
        rest = rest[Math.Min(rest.Length, (length + 3) & ~3)..];
        return true;
    }
}
