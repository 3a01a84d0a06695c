using System.Buffers.Binary;
using System.Net;
using System.Text;
using Virt.Networking;

namespace Virt.Network.Planning;

/// <summary>What a definition means on the host: its bridge's addresses and MTU, its VXLAN device's name, a port's address.</summary>
internal static class NetworkAddressing
{
    /// <summary>The MTU of a VXLAN network that names none: a 1500-byte underlay less VXLAN's 50 bytes of headers.</summary>
    public const int DefaultVxlanMtu = 1450;

    public const string AllZeroMac = "00:00:00:00:00:00";

    public static string NetworkAlias(string network) => "virt:network:" + network;

    public static string? NetworkOfAlias(string? alias) =>
        alias is not null && alias.StartsWith("virt:network:", StringComparison.Ordinal) ? alias["virt:network:".Length..] : null;

    /// <summary>The MTU the bridge and its ports get; <see langword="null"/> leaves the kernel's default.</summary>
    public static int? Mtu(NetworkDefinition definition) =>
        definition is VxlanNetworkDefinition ? definition.Mtu ?? DefaultVxlanMtu : definition.Mtu;

    /// <summary>
    /// The VXLAN device of a network: <c>vx-NAME</c>, or for a name that would pass the kernel's 15 bytes, <c>vx-</c>, the
    /// name's first four characters and eight hex digits of a stable hash of the whole name.
    /// </summary>
    public static string VxlanDevice(string network)
    {
        var plain = "vx-" + network;
        if (Encoding.UTF8.GetByteCount(plain) <= 15)
        {
            return plain;
        }

        var hash = 2166136261u;
        foreach (var b in Encoding.UTF8.GetBytes(network))
        {
            hash = (hash ^ b) * 16777619u;
        }

        return string.Create(System.Globalization.CultureInfo.InvariantCulture, $"vx-{network[..4]}{hash:x8}");
    }

    /// <summary>The subnets whose gateway address sits on the bridge (NAT, routed, and VXLAN with a subnet).</summary>
    public static IReadOnlyList<NetworkSubnet> GatewaySubnets(NetworkDefinition definition) => definition switch
    {
        NatNetworkDefinition nat when nat.Ipv6 is not null => [nat.Ipv4, nat.Ipv6],
        NatNetworkDefinition nat => [nat.Ipv4],
        RoutedNetworkDefinition routed => [routed.Ipv4],
        VxlanNetworkDefinition { Ipv4: { } subnet } => [subnet],
        _ => [],
    };

    public static NetworkSubnet? Ipv4Subnet(NetworkDefinition definition) => definition switch
    {
        NatNetworkDefinition nat => nat.Ipv4,
        RoutedNetworkDefinition routed => routed.Ipv4,
        VxlanNetworkDefinition vxlan => vxlan.Ipv4,
        _ => null,
    };

    public static IReadOnlyList<(IPNetwork Subnet, IPAddress Gateway)> GatewayAddresses(NetworkDefinition definition) =>
        [.. GatewaySubnets(definition).Select(s => (Subnet(definition, s.Cidr), Address(definition, "gateway", s.Gateway)))];

    public static IPNetwork Subnet(NetworkDefinition definition, string cidr) =>
        IPNetwork.TryParse(cidr, out var subnet)
            ? subnet
            : throw new NetworkException(VirtErrorKind.InvalidInput, $"network '{definition.Name}': '{cidr}' is not a subnet in CIDR form (e.g. 192.0.2.0/24): correct the definition and define it again");

    public static IPAddress Address(NetworkDefinition definition, string field, string text) =>
        IPAddress.TryParse(text, out var address)
            ? address
            : throw new NetworkException(VirtErrorKind.InvalidInput, $"network '{definition.Name}': {field} '{text}' is not an IP address: correct the definition and define it again");

    /// <summary>A port's fixed IPv4 address: the one it asked for, else the network's reservation for its MAC.</summary>
    public static string? PortAddress(NetworkDefinition definition, NetworkPortRequest request) =>
        request.Ipv4Address ?? Ipv4Subnet(definition)?.Reservations.FirstOrDefault(r => string.Equals(r.MacAddress, request.MacAddress, StringComparison.OrdinalIgnoreCase))?.Address;

    /// <summary>Whether an address is IPv6 link-local (fe80::/10): the kernel puts one on every link, and it is never the SDK's to remove.</summary>
    public static bool IsLinkLocal(IPAddress address) =>
        address.IsIPv6LinkLocal || (address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && BinaryPrimitives.ReadUInt16BigEndian(address.GetAddressBytes()) == 0xA9FE);
}
