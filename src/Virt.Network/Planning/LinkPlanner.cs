using System.Net;
using Virt.Network.Definitions;
using Virt.Network.Host;
using Virt.Networking;
using static Virt.Network.Planning.NetworkAddressing;

namespace Virt.Network.Planning;

/// <summary>
/// The link layer's half of a plan: what a definition wants on the host (its bridge, addresses, routes, VXLAN device
/// with its FDB entries, VLAN uplink, connected ports) compared with what <see cref="ILinkHost.ReadAsync(HostLinkParts, CancellationToken)"/> found, as
/// the operations that make the host match. It deletes only links whose alias marks them as the SDK's, never an
/// adopted bridge, and never an IPv6 link-local address the kernel put on a link.
/// </summary>
internal static class LinkPlanner
{
    public static List<LinkOperation> Plan(NetworkDefinition definition, NetworkDefinition? applied, IEnumerable<PortRecord> ports, HostLinkState host)
    {
        var operations = new List<LinkOperation>();
        var bridge = definition.EffectiveBridgeName;
        var fresh = PlanBridge(definition, applied, host, operations);
        PlanAddresses(definition, applied, host, fresh, operations);
        PlanRoutes(definition, applied, host, fresh, operations);
        var wantedLinks = new HashSet<string>(StringComparer.Ordinal) { bridge };
        switch (definition)
        {
            case VxlanNetworkDefinition vxlan:
                wantedLinks.Add(PlanVxlan(vxlan, host, operations));
                break;
            case VlanNetworkDefinition vlan when vlan.Uplink is not null:
                PlanUplink(vlan, ports, host, operations);
                break;
        }

        // What this network made earlier and no longer wants (a VXLAN device after a change of kind, a bridge renamed).
        var alias = NetworkAlias(definition.Name);
        operations.AddRange(host.Links.Where(l => l.Alias == alias && !wantedLinks.Contains(l.Name)).Select(l => new DeleteLink(l.Name)));
        // The ports come after the network's own operations, each in its own order (its VLANs only once it is enslaved).
        // A thousand ports look their links up by name: the host's indexes, built once per read, not a scan per port.
        var ordered = Ordered(operations);
        foreach (var port in ports.Where(p => p.Connected))
        {
            ordered.AddRange(PortOperations(definition, port, host.Link(port.Request.HostInterface), host.PortVlansOf(port.Request.HostInterface)));
        }

        return ordered;
    }

    /// <summary>What takes a network off the host: its own links deleted; on an adopted bridge, only what the SDK put there.</summary>
    public static List<LinkOperation> Teardown(string network, NetworkDefinition? applied, HostLinkState host)
    {
        var alias = NetworkAlias(network);
        var operations = new List<LinkOperation>(host.Links.Where(l => l.Alias == alias).Select(l => new DeleteLink(l.Name)));
        if (applied is { AdoptExistingBridge: true } && host.Link(applied.EffectiveBridgeName) is not null)
        {
            var bridge = applied.EffectiveBridgeName;
            operations.AddRange(GatewayAddresses(applied)
                .Where(g => host.Addresses.Any(a => a.Link == bridge && a.Address.Equals(g.Gateway)))
                .Select(g => new DeleteAddress(bridge, g.Subnet, g.Gateway)));
            operations.AddRange(Routes(applied)
                .Where(r => host.Routes.Any(h => Same(h, r.Destination, r.Via, bridge)))
                .Select(r => new DeleteRoute(r.Destination, r.Via, bridge)));
        }

        return Ordered(operations);
    }

    /// <summary>
    /// Puts a connected port's host interface on the bridge, with its alias, MTU, VLAN and link up, in that order; nothing
    /// when the interface is gone. On a VLAN network a port tagged other than the default leaves the default VLAN, which
    /// the kernel gives every port it enslaves: otherwise the port would also see the default VLAN's untagged traffic.
    /// </summary>
    public static IEnumerable<LinkOperation> PortOperations(NetworkDefinition definition, PortRecord port, HostLinkState host)
    {
        var operations = PortOperations(definition, port, host.Link(port.Request.HostInterface), host.PortVlansOf(port.Request.HostInterface));

        // A trunk that carries "every VLAN a port uses" gets a port's new tag when the port connects, not only at the next apply.
        return definition is VlanNetworkDefinition { Uplink: { } uplink, TrunkVlans.Count: 0 } vlan && host.Link(uplink) is not null
            ? operations.Concat(TrunkVlans(vlan, [port]).Where(v => !host.PortVlans.Any(p => p.Port == uplink && p.Vlan == v)).Select(v => new AddPortVlan(uplink, v, Pvid: false, Untagged: false)))
            : operations;
    }

    private static IEnumerable<LinkOperation> PortOperations(NetworkDefinition definition, PortRecord port, LinkState? link, IEnumerable<PortVlanState> vlans)
    {
        var name = port.Request.HostInterface;
        if (link is null)
        {
            yield break;
        }

        if (link.Alias != port.Alias)
        {
            yield return new SetAlias(name, port.Alias);
        }

        if (Mtu(definition) is { } mtu && link.Mtu != mtu)
        {
            yield return new SetMtu(name, mtu);
        }

        var enslaving = link.Master != definition.EffectiveBridgeName;
        if (enslaving)
        {
            yield return new SetMaster(name, definition.EffectiveBridgeName);
        }

        if (definition is VlanNetworkDefinition vlan)
        {
            var tag = port.Request.VlanTag ?? vlan.DefaultVlan;
            if (!vlans.Any(v => v.Vlan == tag && v.Pvid && v.Untagged))
            {
                yield return new AddPortVlan(name, tag, Pvid: true, Untagged: true);
            }

            if (tag != vlan.DefaultVlan && (enslaving || vlans.Any(v => v.Vlan == vlan.DefaultVlan)))
            {
                yield return new DeletePortVlan(name, vlan.DefaultVlan);
            }
        }

        if (!link.Up)
        {
            yield return new SetLinkUp(name);
        }
    }

    /// <summary>Deletes first (routes, FDB entries, addresses, VLANs, links), then creates, settings, enslaving, link up, addresses, FDB entries, routes.</summary>
    public static List<LinkOperation> Ordered(IEnumerable<LinkOperation> operations) => [.. operations.Select((op, i) => (op, i)).OrderBy(x => Phase(x.op)).ThenBy(x => x.i).Select(x => x.op)];

    private static int Phase(LinkOperation operation) => operation switch
    {
        DeleteRoute => 0,
        DeleteFdbEntry => 1,
        DeleteAddress => 2,
        DeletePortVlan => 3,
        DeleteLink => 4,
        CreateBridge or CreateVxlan or CreateVeth => 5,
        SetAlias or SetMtu => 6,
        SetMaster => 7,
        AddPortVlan => 8,
        SetLinkUp => 9,
        AddAddress => 10,
        AddFdbEntry => 11,
        _ => 12,
    };

    /// <summary>Plans the bridge itself; returns whether it is created by this plan.</summary>
    private static bool PlanBridge(NetworkDefinition definition, NetworkDefinition? applied, HostLinkState host, List<LinkOperation> operations)
    {
        var bridge = definition.EffectiveBridgeName;
        var alias = NetworkAlias(definition.Name);
        var existing = host.Link(bridge);
        if (definition.AdoptExistingBridge)
        {
            CheckAdoptable(definition, applied, existing, host);
        }
        else if (existing is null)
        {
            var vlan = definition as VlanNetworkDefinition;
            operations.Add(new CreateBridge(bridge, alias, Mtu(definition), VlanFiltering: vlan is not null, vlan?.DefaultVlan ?? 1));
            operations.Add(new SetLinkUp(bridge));
            return true;
        }
        else if (existing.Alias != alias)
        {
            throw new NetworkException(VirtErrorKind.Conflict, $"network '{definition.Name}': link '{bridge}' exists and is not this network's (its alias is '{existing.Alias}'): choose another BridgeName, or adopt the bridge with AdoptExistingBridge = true");
        }
        else if (Mtu(definition) is { } mtu && existing.Mtu != mtu)
        {
            operations.Add(new SetMtu(bridge, mtu));
        }

        if (!existing!.Up)
        {
            operations.Add(new SetLinkUp(bridge));
        }

        return false;
    }

    private static void CheckAdoptable(NetworkDefinition definition, NetworkDefinition? applied, LinkState? existing, HostLinkState host)
    {
        var bridge = definition.EffectiveBridgeName;
        if (existing is null)
        {
            throw new NetworkException(VirtErrorKind.NotFound, $"network '{definition.Name}' adopts bridge '{bridge}', which does not exist on the host: create it, or unset AdoptExistingBridge to let the SDK create its own");
        }

        if (existing.Kind != "bridge")
        {
            throw new NetworkException(VirtErrorKind.InvalidInput, $"network '{definition.Name}' adopts '{bridge}', which is a {existing.Kind ?? "plain"} link, not a bridge: name a bridge in BridgeName");
        }

        if (definition.AllowBridgeWithHostAddresses)
        {
            return;
        }

        // Addresses and routes the SDK put there itself (this definition's, or the one applied before) are not the host's.
        var ours = GatewayAddresses(definition).Concat(applied is null ? [] : GatewayAddresses(applied)).Select(g => g.Gateway).ToList();
        var hostAddresses = host.Addresses.Where(a => a.Link == bridge && !IsLinkLocal(a.Address) && !ours.Any(o => o.Equals(a.Address))).Select(a => $"{a.Address}/{a.PrefixLength}").ToList();
        var subnets = host.Addresses.Where(a => a.Link == bridge).Select(a => Masked(a.Address, a.PrefixLength)).ToList();
        var ourRoutes = Routes(definition).Concat(applied is null ? [] : Routes(applied)).ToList();
        var hostRoutes = host.Routes
            .Where(r => r.Link == bridge && !subnets.Contains(r.Destination) && !ourRoutes.Any(o => Same(r, o.Destination, o.Via, bridge)) && !IsLinkLocal(r.Destination.BaseAddress))
            .Select(r => r.Destination.ToString())
            .ToList();
        if (hostAddresses.Count > 0 || hostRoutes.Count > 0)
        {
            var found = string.Join(", ", hostAddresses.Select(a => "address " + a).Concat(hostRoutes.Select(r => "route " + r)));
            throw new NetworkException(VirtErrorKind.Refused, $"network '{definition.Name}': bridge '{bridge}' carries the host's own {found}; adopting it could cut the host off: move them off the bridge, or set AllowBridgeWithHostAddresses = true to adopt it as it is");
        }
    }

    private static void PlanAddresses(NetworkDefinition definition, NetworkDefinition? applied, HostLinkState host, bool fresh, List<LinkOperation> operations)
    {
        var bridge = definition.EffectiveBridgeName;
        List<AddressState> present = fresh ? [] : host.Addresses.Where(a => a.Link == bridge).ToList();
        var wanted = GatewayAddresses(definition);
        foreach (var (subnet, gateway) in wanted.Where(w => !present.Any(a => a.Address.Equals(w.Gateway) && a.PrefixLength == w.Subnet.PrefixLength)))
        {
            operations.Add(new AddAddress(bridge, subnet, gateway));
        }

        // On its own bridge the SDK removes every address it does not want; on an adopted one, only those it put there.
        var removable = definition.AdoptExistingBridge
            ? present.Where(a => applied is not null && GatewayAddresses(applied).Any(g => g.Gateway.Equals(a.Address)))
            : present.Where(a => !IsLinkLocal(a.Address));
        operations.AddRange(removable
            .Where(a => !wanted.Any(w => w.Gateway.Equals(a.Address) && w.Subnet.PrefixLength == a.PrefixLength))
            .Select(a => new DeleteAddress(bridge, Masked(a.Address, a.PrefixLength), a.Address)));
    }

    private static void PlanRoutes(NetworkDefinition definition, NetworkDefinition? applied, HostLinkState host, bool fresh, List<LinkOperation> operations)
    {
        var bridge = definition.EffectiveBridgeName;
        var wanted = Routes(definition);
        operations.AddRange(wanted.Where(r => fresh || !host.Routes.Any(h => Same(h, r.Destination, r.Via, bridge))).Select(r => new AddRoute(r.Destination, r.Via, bridge)));
        if (applied is not null && !fresh)
        {
            operations.AddRange(Routes(applied)
                .Where(r => !wanted.Contains(r) && host.Routes.Any(h => Same(h, r.Destination, r.Via, bridge)))
                .Select(r => new DeleteRoute(r.Destination, r.Via, bridge)));
        }
    }

    private static string PlanVxlan(VxlanNetworkDefinition vxlan, HostLinkState host, List<LinkOperation> operations)
    {
        var device = VxlanDevice(vxlan.Name);
        var bridge = vxlan.EffectiveBridgeName;
        var alias = NetworkAlias(vxlan.Name);
        var local = Address(vxlan, "LocalAddress", vxlan.LocalAddress);
        var peers = vxlan.Peers.Select(p => Address(vxlan, "peer", p)).ToList();
        var mtu = Mtu(vxlan);
        var link = host.Link(device);
        if (link is not null && link.Alias != alias)
        {
            throw new NetworkException(VirtErrorKind.Conflict, $"network '{vxlan.Name}': link '{device}' exists and is not this network's (its alias is '{link.Alias}'): delete it or rename the network");
        }

        // The kernel cannot change a VXLAN device's id, local address or port: a device that differs is made again.
        var fresh = link?.Vxlan is not { } state || state.Vni != vxlan.Vni || !Equals(state.Local, local) || state.Port != vxlan.Port;
        if (fresh)
        {
            if (link is not null)
            {
                operations.Add(new DeleteLink(device));
            }

            operations.Add(new CreateVxlan(device, alias, vxlan.Vni, local, vxlan.Port, vxlan.UnderlayInterface, mtu));
        }
        else if (mtu is { } m && link!.Mtu != m)
        {
            operations.Add(new SetMtu(device, m));
        }

        if (fresh || link!.Master != bridge)
        {
            operations.Add(new SetMaster(device, bridge));
        }

        if (fresh || !link!.Up)
        {
            operations.Add(new SetLinkUp(device));
        }

        List<IPAddress> present = fresh ? [] : host.Fdb.Where(f => f.Device == device && f.MacAddress == AllZeroMac && f.Destination is not null).Select(f => f.Destination!).ToList();
        operations.AddRange(peers.Where(p => !present.Contains(p)).Select(p => new AddFdbEntry(device, AllZeroMac, p)));
        operations.AddRange(present.Where(p => !peers.Contains(p)).Select(p => new DeleteFdbEntry(device, AllZeroMac, p)));
        return device;
    }

    /// <summary>
    /// The VLANs the trunk carries tagged: <see cref="VlanNetworkDefinition.TrunkVlans"/>, or when that is empty every tag a
    /// connected port uses. The default VLAN is left out of the latter: the kernel already gives it to the uplink untagged
    /// (pvid) when it enslaves it, and adding it tagged would take that native VLAN away.
    /// </summary>
    private static IEnumerable<int> TrunkVlans(VlanNetworkDefinition vlan, IEnumerable<PortRecord> ports) =>
        vlan.TrunkVlans.Count > 0
            ? vlan.TrunkVlans
            : ports.Where(p => p.Connected).Select(p => p.Request.VlanTag ?? vlan.DefaultVlan).Where(tag => tag != vlan.DefaultVlan).Distinct().Order();

    private static void PlanUplink(VlanNetworkDefinition vlan, IEnumerable<PortRecord> ports, HostLinkState host, List<LinkOperation> operations)
    {
        var uplink = vlan.Uplink!;
        if (host.Link(uplink) is not { } link)
        {
            throw new NetworkException(VirtErrorKind.NotFound, $"network '{vlan.Name}': uplink '{uplink}' does not exist on the host: name an existing interface in Uplink, or leave it unset");
        }

        if (link.Master != vlan.EffectiveBridgeName)
        {
            operations.Add(new SetMaster(uplink, vlan.EffectiveBridgeName));
        }

        var wanted = TrunkVlans(vlan, ports).ToList();
        var carried = host.PortVlans.Where(p => p.Port == uplink).ToList();
        operations.AddRange(wanted
            .Where(v => !carried.Any(p => p.Vlan == v))
            .Select(v => new AddPortVlan(uplink, v, Pvid: false, Untagged: false)));

        operations.AddRange(UnusedTrunkVlans(vlan, ports, host));
        if (!link.Up)
        {
            operations.Add(new SetLinkUp(uplink));
        }
    }

    /// <summary>
    /// A tag whose last port went away (or one taken out of TrunkVlans) leaves the trunk, so the uplink stops carrying
    /// that VLAN's traffic into the bridge; the default VLAN, the trunk's untagged one since it was enslaved, stays.
    /// </summary>
    public static IEnumerable<LinkOperation> UnusedTrunkVlans(VlanNetworkDefinition vlan, IEnumerable<PortRecord> ports, HostLinkState host)
    {
        if (vlan.Uplink is not { } uplink || host.Link(uplink) is null)
        {
            return [];
        }

        var wanted = TrunkVlans(vlan, ports).ToList();
        return [.. host.PortVlansOf(uplink)
            .Where(p => !p.Pvid && p.Vlan != vlan.DefaultVlan && !wanted.Contains(p.Vlan))
            .Select(p => new DeletePortVlan(uplink, p.Vlan))];
    }

    private static List<(IPNetwork Destination, IPAddress? Via)> Routes(NetworkDefinition definition) =>
        definition is RoutedNetworkDefinition routed
            ? [.. routed.Routes.Select(r => (Subnet(definition, r.Destination), r.Via is null ? null : Address(definition, "route via", r.Via)))]
            : [];

    private static bool Same(RouteState route, IPNetwork destination, IPAddress? via, string link) =>
        route.Destination == destination && Equals(route.Gateway, via) && route.Link == link;

    /// <summary>The subnet an address lies in (host bits cleared), as <see cref="IPNetwork"/> wants it.</summary>
    public static IPNetwork Masked(IPAddress address, int prefixLength)
    {
        var bytes = address.GetAddressBytes();
        for (var bit = prefixLength; bit < bytes.Length * 8; bit++)
        {
            bytes[bit / 8] &= (byte)~(0x80 >> (bit % 8));
        }

        return new IPNetwork(new IPAddress(bytes), prefixLength);
    }
}
