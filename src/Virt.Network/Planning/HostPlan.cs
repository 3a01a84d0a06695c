using System.Globalization;
using Virt.Network.Host;
using Virt.Networking;

namespace Virt.Network.Planning;

/// <summary>What dnsmasq needs for one network: start, reload (configuration changed) or stop.</summary>
internal sealed record DhcpChange(string Network, string Action, DhcpInstance? Instance, bool RemoveLeases = false)
{
    public string Detail => Instance is null
        ? "stop the network's dnsmasq"
        : string.Create(CultureInfo.InvariantCulture, $"on {Instance.Bridge}, {Instance.Ipv4Subnet}, range {Instance.Ipv4RangeStart?.ToString() ?? "none"}-{Instance.Ipv4RangeEnd?.ToString() ?? "none"}, {Instance.Hosts.Count} reservations, dns {(Instance.Dns ? "on" : "off")}");
}

/// <summary>
/// A plan as the manager runs it: the link operations with the undo of each (from the host state read before), the
/// ruleset the firewall should hold (and whether it differs from the host's), and the dnsmasq changes. With
/// <see cref="AddedPort"/> the host's table holds the ruleset less that one port, and only the port is added.
/// </summary>
internal sealed record HostPlan(
    string Network,
    IReadOnlyList<LinkOperation> LinkOperations,
    IReadOnlyList<IReadOnlyList<LinkOperation>> Inverses,
    FirewallRuleset Ruleset,
    bool FirewallChanges,
    int FirewallCommands,
    IReadOnlyList<DhcpChange> Dhcp,
    FirewalledPort? AddedPort = null)
{
    public bool IsEmpty => LinkOperations.Count == 0 && !FirewallChanges && Dhcp.Count == 0;

    public NetworkPlan ToPublic(string table)
    {
        var changes = new List<NetworkChange>(LinkOperations.Count + 1 + Dhcp.Count);
        changes.AddRange(LinkOperations.Select(op => new NetworkChange(NetworkChangeLayer.Netlink, op.Operation, op.Object, op.Detail)));
        if (FirewallChanges)
        {
            changes.Add(AddedPort is { } port
                ? new NetworkChange(NetworkChangeLayer.Nftables, "add port chains", "table bridge " + table, string.Create(CultureInfo.InvariantCulture, $"port {port.Owner}/{port.NicId} on {port.HostInterface}"))
                : new NetworkChange(NetworkChangeLayer.Nftables, "replace table", "table inet " + table, string.Create(CultureInfo.InvariantCulture, $"{FirewallCommands} commands")));
        }

        changes.AddRange(Dhcp.Select(d => new NetworkChange(NetworkChangeLayer.Dnsmasq, d.Action, "dnsmasq for " + d.Network, d.Detail)));
        return new NetworkPlan(Network, changes);
    }
}
