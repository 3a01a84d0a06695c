using System.Net;

namespace Virt.Network.Host;

// The link layer's operations, as plain data: the planner produces them, the netlink client runs them in batches, and
// each one describes itself for the public plan. Every operation names links by name; the netlink client resolves
// ifindexes when it runs the batch (links created earlier in the same batch included).

/// <summary>One rtnetlink operation of a plan.</summary>
internal abstract record LinkOperation
{
    /// <summary>The rtnetlink message type, e.g. RTM_NEWLINK.</summary>
    public abstract string Operation { get; }

    /// <summary>The object touched, e.g. "link vn-lab".</summary>
    public abstract string Object { get; }

    /// <summary>The parameters in words.</summary>
    public abstract string Detail { get; }
}

/// <summary>Create a bridge (down; <see cref="SetLinkUp"/> brings it up), marked with <paramref name="Alias"/>.</summary>
internal sealed record CreateBridge(string Name, string Alias, int? Mtu, bool VlanFiltering, int DefaultPvid = 1) : LinkOperation
{
    public override string Operation => "RTM_NEWLINK";

    public override string Object => "link " + Name;

    public override string Detail => $"bridge, mtu {Mtu?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "default"}, vlan_filtering {(VlanFiltering ? 1 : 0)}, alias '{Alias}'";
}

/// <summary>Create a VXLAN device with learning off (FDB entries added separately).</summary>
internal sealed record CreateVxlan(string Name, string Alias, int Vni, IPAddress Local, int Port, string? UnderlayInterface, int? Mtu) : LinkOperation
{
    public override string Operation => "RTM_NEWLINK";

    public override string Object => "link " + Name;

    public override string Detail => $"vxlan id {Vni} local {Local} dstport {Port}{(UnderlayInterface is null ? string.Empty : " dev " + UnderlayInterface)} nolearning, mtu {Mtu?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "default"}, alias '{Alias}'";
}

/// <summary>Create a veth pair; the peer optionally goes into another network namespace (a path under /run/netns, or /proc/PID/ns/net).</summary>
internal sealed record CreateVeth(string Name, string PeerName, string Alias, int? Mtu, string? PeerNamespace = null) : LinkOperation
{
    public override string Operation => "RTM_NEWLINK";

    public override string Object => "link " + Name;

    public override string Detail => $"veth peer {PeerName}{(PeerNamespace is null ? string.Empty : " in " + PeerNamespace)}, alias '{Alias}'";
}

/// <summary>Delete a link (a veth's peer goes with it).</summary>
internal sealed record DeleteLink(string Name) : LinkOperation
{
    public override string Operation => "RTM_DELLINK";

    public override string Object => "link " + Name;

    public override string Detail => "delete";
}

/// <summary>
/// Move a link into another network namespace (a path under /run/netns, or /proc/PID/ns/net): a VM's tap or a container's
/// veth end made in the process's namespace joins a network managed in another one. Run in the namespace the link is in.
/// </summary>
internal sealed record MoveLinkToNamespace(string Name, string NamespacePath) : LinkOperation
{
    public override string Operation => "RTM_NEWLINK";

    public override string Object => "link " + Name;

    public override string Detail => "netns " + NamespacePath;
}

/// <summary>Bring a link up (or down).</summary>
internal sealed record SetLinkUp(string Name, bool Up = true) : LinkOperation
{
    public override string Operation => "RTM_NEWLINK";

    public override string Object => "link " + Name;

    public override string Detail => Up ? "set up" : "set down";
}

/// <summary>Make a link a port of a bridge, or no bridge's port (<paramref name="Master"/> null).</summary>
internal sealed record SetMaster(string Name, string? Master) : LinkOperation
{
    public override string Operation => "RTM_NEWLINK";

    public override string Object => "link " + Name;

    public override string Detail => Master is null ? "nomaster" : "master " + Master;
}

/// <summary>Set a link's MTU.</summary>
internal sealed record SetMtu(string Name, int Mtu) : LinkOperation
{
    public override string Operation => "RTM_NEWLINK";

    public override string Object => "link " + Name;

    public override string Detail => "mtu " + Mtu.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>Set a link's ifalias (how the SDK marks what it owns).</summary>
internal sealed record SetAlias(string Name, string Alias) : LinkOperation
{
    public override string Operation => "RTM_NEWLINK";

    public override string Object => "link " + Name;

    public override string Detail => $"alias '{Alias}'";
}

/// <summary>Add an address (with prefix) to a link.</summary>
internal sealed record AddAddress(string Link, IPNetwork Network, IPAddress Address) : LinkOperation
{
    public override string Operation => "RTM_NEWADDR";

    public override string Object => $"address {Address}/{Network.PrefixLength} on {Link}";

    public override string Detail => "add";
}

/// <summary>Remove an address from a link.</summary>
internal sealed record DeleteAddress(string Link, IPNetwork Network, IPAddress Address) : LinkOperation
{
    public override string Operation => "RTM_DELADDR";

    public override string Object => $"address {Address}/{Network.PrefixLength} on {Link}";

    public override string Detail => "delete";
}

/// <summary>Add a route in the main table through a link (and a gateway, when given).</summary>
internal sealed record AddRoute(IPNetwork Destination, IPAddress? Gateway, string Link) : LinkOperation
{
    public override string Operation => "RTM_NEWROUTE";

    public override string Object => $"route {Destination}";

    public override string Detail => $"dev {Link}{(Gateway is null ? string.Empty : " via " + Gateway)}";
}

/// <summary>Delete a route from the main table.</summary>
internal sealed record DeleteRoute(IPNetwork Destination, IPAddress? Gateway, string Link) : LinkOperation
{
    public override string Operation => "RTM_DELROUTE";

    public override string Object => $"route {Destination}";

    public override string Detail => $"dev {Link}{(Gateway is null ? string.Empty : " via " + Gateway)}";
}

/// <summary>Append a bridge FDB entry on a VXLAN device: <c>00:00:00:00:00:00 dst PEER</c> for head-end replication.</summary>
internal sealed record AddFdbEntry(string VxlanDevice, string MacAddress, IPAddress Destination) : LinkOperation
{
    public override string Operation => "RTM_NEWNEIGH";

    public override string Object => $"fdb {MacAddress} dst {Destination} on {VxlanDevice}";

    public override string Detail => "append";
}

/// <summary>Delete a bridge FDB entry on a VXLAN device.</summary>
internal sealed record DeleteFdbEntry(string VxlanDevice, string MacAddress, IPAddress Destination) : LinkOperation
{
    public override string Operation => "RTM_DELNEIGH";

    public override string Object => $"fdb {MacAddress} dst {Destination} on {VxlanDevice}";

    public override string Detail => "delete";
}

/// <summary>Give a bridge port a VLAN (AF_BRIDGE RTM_SETLINK with IFLA_BRIDGE_VLAN_INFO).</summary>
internal sealed record AddPortVlan(string Port, int Vlan, bool Pvid, bool Untagged) : LinkOperation
{
    public override string Operation => "RTM_SETLINK";

    public override string Object => $"vlan {Vlan} on port {Port}";

    public override string Detail => $"add{(Pvid ? " pvid" : string.Empty)}{(Untagged ? " untagged" : string.Empty)}";
}

/// <summary>Take a VLAN off a bridge port.</summary>
internal sealed record DeletePortVlan(string Port, int Vlan) : LinkOperation
{
    public override string Operation => "RTM_DELLINK";

    public override string Object => $"vlan {Vlan} on port {Port}";

    public override string Detail => "delete";
}
