using System.Net;
using System.Net.Sockets;

namespace Virt.Network.Dhcp;

/// <summary>A CIDR as the user wrote it: the subnet when it parsed, or the subnet it was probably meant to be.</summary>
/// <param name="Subnet">The subnet, when the text is a valid CIDR whose address is the network address.</param>
/// <param name="Suggested">When the address had host bits set (<c>192.0.2.5/24</c>): the network it belongs to (<c>192.0.2.0/24</c>).</param>
internal readonly record struct CidrParse(IPNetwork? Subnet, IPNetwork? Suggested);

/// <summary>
/// Address arithmetic for subnets, gateways, DHCP ranges and reservations, over <see cref="IPNetwork"/> and
/// <see cref="IPAddress"/>: parsing, containment, overlap, the network and broadcast addresses, ordering.
/// </summary>
internal static class Ipam
{
    /// <summary>
    /// Parses a CIDR with <see cref="IPNetwork.TryParse(string, out IPNetwork)"/>, which refuses an address with host
    /// bits set; for that case it also returns the network the address belongs to, for the message's fix.
    /// </summary>
    public static CidrParse ParseCidr(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return default;
        }

        var slash = text.LastIndexOf('/');
        if (IPNetwork.TryParse(text, out var subnet))
        {
            // .NET's parser clears host bits silently (192.0.2.5/24 becomes 192.0.2.0/24); a subnet written that way
            // is more likely a typo for an address than a network, so it is refused with the network as the fix.
            var written = slash > 0 && IPAddress.TryParse(text.AsSpan(0, slash), out var address) ? address : subnet.BaseAddress;
            return written.Equals(subnet.BaseAddress) ? new CidrParse(subnet, null) : new CidrParse(null, subnet);
        }

        // Older parsers refuse host bits instead: the suggestion then needs the parts, each parsed by the framework.
        if (slash > 0
            && IPAddress.TryParse(text.AsSpan(0, slash), out var host)
            && int.TryParse(text.AsSpan(slash + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var prefix)
            && prefix <= BitCount(host))
        {
            return new CidrParse(null, new IPNetwork(Mask(host, prefix), prefix));
        }

        return default;
    }

    /// <summary>Parses a single address or a CIDR (a firewall source, an allowed address); a single address is a /32 or /128.</summary>
    public static CidrParse ParseAddressOrCidr(string? text)
    {
        if (text is not null && !text.Contains('/', StringComparison.Ordinal) && IPAddress.TryParse(text, out var address) && text.Trim() == text)
        {
            return new CidrParse(new IPNetwork(address, BitCount(address)), null);
        }

        return ParseCidr(text);
    }

    /// <summary>Parses an address (no prefix, no scope, nothing around it).</summary>
    public static IPAddress? ParseAddress(string? text) =>
        text is not null && text.Length > 0 && !text.Contains('/', StringComparison.Ordinal) && !text.Contains('%', StringComparison.Ordinal) && IPAddress.TryParse(text, out var address) && text.Trim() == text
            ? address
            : null;

    /// <summary>Whether two subnets share any address (one contains the other's network address).</summary>
    public static bool Overlaps(IPNetwork first, IPNetwork second) =>
        first.BaseAddress.AddressFamily == second.BaseAddress.AddressFamily
        && (first.Contains(second.BaseAddress) || second.Contains(first.BaseAddress));

    /// <summary>Whether the subnet contains the address (false for the other family).</summary>
    public static bool Contains(IPNetwork subnet, IPAddress address) => subnet.Contains(address);

    /// <summary>The subnet's network address (its first one).</summary>
    public static IPAddress NetworkAddress(IPNetwork subnet) => subnet.BaseAddress;

    /// <summary>An IPv4 subnet's broadcast address (its last one); <see langword="null"/> for IPv6, which has none.</summary>
    public static IPAddress? BroadcastAddress(IPNetwork subnet)
    {
        if (subnet.BaseAddress.AddressFamily != AddressFamily.InterNetwork)
        {
            return null;
        }

        var bytes = subnet.BaseAddress.GetAddressBytes();
        for (var bit = subnet.PrefixLength; bit < 32; bit++)
        {
            bytes[bit / 8] |= (byte)(0x80 >> (bit % 8));
        }

        return new IPAddress(bytes);
    }

    /// <summary>An IPv4 subnet's netmask in dotted form (<c>255.255.255.0</c>), as dnsmasq's dhcp-range takes it.</summary>
    public static IPAddress Netmask(IPNetwork subnet) => Mask(IPAddress.Broadcast, subnet.PrefixLength);

    /// <summary>Whether the address is inside the subnet and is neither its network nor its broadcast address.</summary>
    public static bool IsHostAddress(IPNetwork subnet, IPAddress address) =>
        subnet.Contains(address) && !address.Equals(NetworkAddress(subnet)) && !address.Equals(BroadcastAddress(subnet));

    /// <summary>Orders two addresses of one family numerically (negative when <paramref name="first"/> comes first).</summary>
    public static int Compare(IPAddress first, IPAddress second)
    {
        ArgumentOutOfRangeException.ThrowIfNotEqual((int)first.AddressFamily, (int)second.AddressFamily);
        return first.GetAddressBytes().AsSpan().SequenceCompareTo(second.GetAddressBytes());
    }

    /// <summary>32 for IPv4, 128 for IPv6.</summary>
    public static int BitCount(IPAddress address) => address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;

    /// <summary>The address with every bit after the prefix cleared.</summary>
    private static IPAddress Mask(IPAddress address, int prefix)
    {
        var bytes = address.GetAddressBytes();
        for (var bit = prefix; bit < bytes.Length * 8; bit++)
        {
            bytes[bit / 8] &= (byte)~(0x80 >> (bit % 8));
        }

        return new IPAddress(bytes);
    }
}
