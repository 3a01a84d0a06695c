using System.Net;
using Virt.Network.Host;

namespace Virt.Network.Planning;

/// <summary>
/// The operations that undo a link operation, computed from the host state read before the plan ran: what a failed
/// apply runs, newest first, to put the host back as it was.
/// </summary>
internal static class LinkInverses
{
    public static IReadOnlyList<LinkOperation> Of(LinkOperation operation, HostLinkState before) => operation switch
    {
        CreateBridge create => [new DeleteLink(create.Name)],
        CreateVxlan create => [new DeleteLink(create.Name)],
        CreateVeth create => [new DeleteLink(create.Name)],
        DeleteLink delete => Recreate(delete.Name, before),
        SetLinkUp up => [new SetLinkUp(up.Name, !up.Up)],
        SetMaster master => [new SetMaster(master.Name, before.Link(master.Name)?.Master)],

        // A link made in the same plan has no MTU or alias to go back to: its own inverse deletes it.
        SetMtu mtu => before.Link(mtu.Name) is { } link ? [new SetMtu(mtu.Name, link.Mtu)] : [],
        SetAlias alias => before.Link(alias.Name) is { } link ? [new SetAlias(alias.Name, link.Alias ?? string.Empty)] : [],
        AddAddress add => [new DeleteAddress(add.Link, add.Network, add.Address)],
        DeleteAddress delete => [new AddAddress(delete.Link, delete.Network, delete.Address)],
        AddRoute add => [new DeleteRoute(add.Destination, add.Gateway, add.Link)],
        DeleteRoute delete => [new AddRoute(delete.Destination, delete.Gateway, delete.Link)],
        AddFdbEntry add => [new DeleteFdbEntry(add.VxlanDevice, add.MacAddress, add.Destination)],
        DeleteFdbEntry delete => [new AddFdbEntry(delete.VxlanDevice, delete.MacAddress, delete.Destination)],
        AddPortVlan add => [new DeletePortVlan(add.Port, add.Vlan)],
        DeletePortVlan delete => before.PortVlans.FirstOrDefault(v => v.Port == delete.Port && v.Vlan == delete.Vlan) is { } vlan
            ? [new AddPortVlan(delete.Port, delete.Vlan, vlan.Pvid, vlan.Untagged)]
            : [],
        _ => [],
    };

    /// <summary>The undo of every completed operation, newest first.</summary>
    public static List<LinkOperation> Rollback(IReadOnlyList<IReadOnlyList<LinkOperation>> inverses, int completed)
    {
        var rollback = new List<LinkOperation>();
        for (var i = completed - 1; i >= 0; i--)
        {
            rollback.AddRange(inverses[i]);
        }

        return rollback;
    }

    /// <summary>A deleted SDK link made again as it was: kind, alias, MTU, master, addresses, FDB entries, its ports, up.</summary>
    private static List<LinkOperation> Recreate(string name, HostLinkState before)
    {
        if (before.Link(name) is not { } link)
        {
            return [];
        }

        var operations = new List<LinkOperation>();
        switch (link)
        {
            case { Kind: "bridge" }:
                operations.Add(new CreateBridge(name, link.Alias ?? string.Empty, link.Mtu, link.VlanFiltering));
                break;
            case { Kind: "vxlan", Vxlan: { } vxlan }:
                var underlay = before.Links.FirstOrDefault(l => l.Index == vxlan.UnderlayIndex)?.Name;
                operations.Add(new CreateVxlan(name, link.Alias ?? string.Empty, vxlan.Vni, vxlan.Local ?? IPAddress.Any, vxlan.Port, underlay, link.Mtu));
                break;
            default:
                // The planner deletes only the SDK's bridges and VXLAN devices; anything else is not its to make again.
                return [];
        }

        if (link.Master is not null)
        {
            operations.Add(new SetMaster(name, link.Master));
        }

        operations.AddRange(before.Links.Where(l => l.Master == name).Select(l => new SetMaster(l.Name, name)));
        if (link.Up)
        {
            operations.Add(new SetLinkUp(name));
        }

        operations.AddRange(before.Addresses.Where(a => a.Link == name && !NetworkAddressing.IsLinkLocal(a.Address)).Select(a => new AddAddress(name, LinkPlanner.Masked(a.Address, a.PrefixLength), a.Address)));
        operations.AddRange(before.Fdb.Where(f => f.Device == name && f.Destination is not null).Select(f => new AddFdbEntry(name, f.MacAddress, f.Destination!)));
        return operations;
    }
}
