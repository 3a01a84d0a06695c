using System.Net;

namespace Virt.Network.Host;

/// <summary>A link as rtnetlink dumps it, with what the planner compares.</summary>
internal sealed record LinkState(string Name, int Index, string? Kind, string? MacAddress, int Mtu, bool Up, string? Master, string? Alias)
{
    /// <summary>For a bridge: whether vlan_filtering is on.</summary>
    public bool VlanFiltering { get; init; }

    /// <summary>For a VXLAN device: its VNI, local address and port.</summary>
    public VxlanState? Vxlan { get; init; }

    /// <summary>For a veth: the peer's ifindex (in whatever namespace it is).</summary>
    public int? PeerIndex { get; init; }
}

/// <summary>A VXLAN device's settings.</summary>
internal sealed record VxlanState(int Vni, IPAddress? Local, int Port, bool Learning, int? UnderlayIndex);

/// <summary>An address on a link.</summary>
internal sealed record AddressState(string Link, IPAddress Address, int PrefixLength);

/// <summary>A route in the main table.</summary>
internal sealed record RouteState(IPNetwork Destination, IPAddress? Gateway, string? Link);

/// <summary>A bridge FDB entry with a remote destination (VXLAN).</summary>
internal sealed record FdbState(string Device, string MacAddress, IPAddress? Destination);

/// <summary>A VLAN on a bridge port (or on the bridge itself).</summary>
internal sealed record PortVlanState(string Port, int Vlan, bool Pvid, bool Untagged);

/// <summary>Everything the planner compares, read in one set of dumps.</summary>
internal sealed record HostLinkState(
    IReadOnlyList<LinkState> Links,
    IReadOnlyList<AddressState> Addresses,
    IReadOnlyList<RouteState> Routes,
    IReadOnlyList<FdbState> Fdb,
    IReadOnlyList<PortVlanState> PortVlans)
{
    // Planning a thousand ports looks links up by name thousands of times: a scan each was quadratic.
    private readonly Dictionary<string, LinkState> byName = ByName(Links);

    private ILookup<string, PortVlanState>? vlansByPort;

    /// <summary>The link of that name, or null.</summary>
    public LinkState? Link(string name) => byName.GetValueOrDefault(name);

    /// <summary>The VLANs of the bridge port of that name (empty for none).</summary>
    public IEnumerable<PortVlanState> PortVlansOf(string port) =>
        (vlansByPort ??= PortVlans.ToLookup(v => v.Port, StringComparer.Ordinal))[port];

    private static Dictionary<string, LinkState> ByName(IReadOnlyList<LinkState> links)
    {
        var byName = new Dictionary<string, LinkState>(links.Count, StringComparer.Ordinal);
        foreach (var link in links)
        {
            byName.TryAdd(link.Name, link);
        }

        return byName;
    }
}
