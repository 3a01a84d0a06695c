using Virt.Network.Definitions;
using Virt.Network.Host;
using Virt.Networking;

namespace Virt.Network.Planning;

/// <summary>
/// The dnsmasq instance a network wants (NAT networks with DHCP or DNS, routed networks with DHCP), with the
/// definition's reservations followed by one per port that has a fixed address; <see langword="null"/> for none.
/// </summary>
internal static class DhcpPlanner
{
    public static DhcpInstance? Desired(NetworkDefinition definition, IEnumerable<PortRecord> ports)
    {
        var (subnet, dns, domain, ipv6) = definition switch
        {
            NatNetworkDefinition nat when nat.Dhcp || nat.Dns => (nat.Ipv4, nat.Dns, nat.DnsDomain, nat.Ipv6),
            RoutedNetworkDefinition { Dhcp: true } routed => (routed.Ipv4, false, null, null),
            _ => ((NetworkSubnet?)null, false, (string?)null, (NetworkSubnet?)null),
        };
        if (subnet is null)
        {
            return null;
        }

        // A port's fixed address replaces the definition's reservation for the same MAC.
        var byPort = ports.Where(p => p.Request.Ipv4Address is not null)
            .OrderBy(p => p.Request.Owner, StringComparer.Ordinal)
            .ThenBy(p => p.Request.NicId, StringComparer.Ordinal)
            .Select(p => new DhcpReservation(p.Request.MacAddress, p.Request.Ipv4Address!, p.Request.Hostname))
            .ToList();
        var portMacs = byPort.Select(h => h.MacAddress).ToHashSet(StringComparer.OrdinalIgnoreCase);
        List<DhcpReservation> hosts = [.. subnet.Reservations.Where(r => !portMacs.Contains(r.MacAddress)), .. byPort];

        return new DhcpInstance(
            definition.Name,
            definition.EffectiveBridgeName,
            NetworkAddressing.Address(definition, "gateway", subnet.Gateway),
            NetworkAddressing.Subnet(definition, subnet.Cidr),
            subnet.DhcpStart is null ? null : NetworkAddressing.Address(definition, "DhcpStart", subnet.DhcpStart),
            subnet.DhcpEnd is null ? null : NetworkAddressing.Address(definition, "DhcpEnd", subnet.DhcpEnd),
            subnet.LeaseTime,
            hosts,
            dns,
            domain)
        {
            Ipv6Subnet = ipv6 is null ? null : NetworkAddressing.Subnet(definition, ipv6.Cidr),
            Ipv6Gateway = ipv6 is null ? null : NetworkAddressing.Address(definition, "IPv6 gateway", ipv6.Gateway),
        };
    }
}
