using System.Net;
using Virt.Networking;

namespace Virt.Network.Host;

/// <summary>
/// What one network's dnsmasq serves: on which bridge and gateway addresses, which ranges, which fixed hosts (the
/// definition's reservations and the attached ports' addresses), and the DNS domain.
/// </summary>
internal sealed record DhcpInstance(
    string Network,
    string Bridge,
    IPAddress Ipv4Gateway,
    IPNetwork Ipv4Subnet,
    IPAddress? Ipv4RangeStart,
    IPAddress? Ipv4RangeEnd,
    TimeSpan LeaseTime,
    IReadOnlyList<DhcpReservation> Hosts,
    bool Dns,
    string? DnsDomain)
{
    /// <summary>Optional IPv6: router advertisements and DHCPv6 on the gateway's subnet.</summary>
    public IPNetwork? Ipv6Subnet { get; init; }

    /// <summary>The IPv6 gateway, with <see cref="Ipv6Subnet"/>.</summary>
    public IPAddress? Ipv6Gateway { get; init; }
}

/// <summary>How a network's dnsmasq is now.</summary>
/// <param name="Running">Its process is alive (pid file and /proc agree).</param>
/// <param name="ConfigurationMatches">Its configuration and hosts file on disk are what the SDK renders for the instance.</param>
/// <param name="ProcessId">The pid, or null.</param>
internal sealed record DhcpStatus(bool Running, bool ConfigurationMatches, int? ProcessId);
