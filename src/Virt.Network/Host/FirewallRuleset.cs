using System.Net;
using Virt.Networking;

namespace Virt.Network.Host;

// The whole firewall and NAT state the SDK wants in its one nftables table, as data. The planner builds it from every
// applied network and attached port; the nftables layer compiles it to one JSON transaction that replaces the table.

/// <summary>Masquerade a network's subnet when it leaves by anything but its bridge (or only by <see cref="Uplink"/>).</summary>
internal sealed record NatRule(string Network, string Bridge, IPNetwork Subnet, string? Uplink);

/// <summary>A network's bridge with its network-level firewall.</summary>
internal sealed record FirewalledNetwork(string Network, string Bridge, NetworkFirewall Firewall);

/// <summary>
/// One port's filter: its host interface on its bridge, the MAC and addresses anti-spoofing allows, and its rules with
/// security groups already resolved (the NIC's rules, then each group's, then the network's), with the defaults to fall to.
/// </summary>
internal sealed record FirewalledPort(
    string Network,
    string Owner,
    string NicId,
    string HostInterface,
    string Bridge,
    string MacAddress,
    IReadOnlyList<IPAddress> AllowedSources,
    bool AntiSpoofing,
    IReadOnlyList<ScopedRule> Rules,
    FirewallAction DefaultIn,
    FirewallAction DefaultOut);

/// <summary>A rule with where it came from, so counters can be reported per scope (<c>port:vm:a/net0</c>, <c>group:web</c>, <c>network:lab</c>) and index.</summary>
internal sealed record ScopedRule(string Scope, int Index, FirewallRule Rule);

/// <summary>The complete desired content of the SDK's nftables table.</summary>
internal sealed record FirewallRuleset(IReadOnlyList<NatRule> Nat, IReadOnlyList<FirewalledNetwork> Networks, IReadOnlyList<FirewalledPort> Ports)
{
    public static FirewallRuleset Empty { get; } = new([], [], []);

    public bool IsEmpty => Nat.Count == 0 && Networks.Count == 0 && Ports.Count == 0;
}
