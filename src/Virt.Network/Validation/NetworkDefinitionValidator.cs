using System.Net;
using System.Net.Sockets;
using Virt.Network.Dhcp;
using Virt.Networking;

namespace Virt.Network.Validation;

/// <summary>
/// Checks a network definition before it is saved or planned: names, MTU, VNI, ports, VLANs, subnets and reservations,
/// its firewall, and its conflicts with the other definitions. Pure: no host access; every problem is returned at once.
/// </summary>
internal static class NetworkDefinitionValidator
{
    /// <summary>The smallest MTU IPv4 allows.</summary>
    public const int MinimumMtu = 68;

    /// <summary>The largest MTU a link can have.</summary>
    public const int MaximumMtu = 65535;

    /// <summary>The largest VXLAN network identifier (24 bits).</summary>
    public const int MaximumVni = 16_777_215;

    /// <summary>
    /// Every problem of <paramref name="definition"/>. <paramref name="otherDefinitions"/> are the definitions already
    /// saved; one with the same name is the one being replaced and is skipped. With <paramref name="underlayMtu"/> (the
    /// MTU of the VXLAN underlay interface, when the planner knows it) the overlay's MTU is checked against it too.
    /// </summary>
    public static IReadOnlyList<NetworkProblem> Validate(NetworkDefinition definition, IReadOnlyList<NetworkDefinition> otherDefinitions, int? underlayMtu = null)
    {
        ArgumentNullException.ThrowIfNull(definition);
        ArgumentNullException.ThrowIfNull(otherDefinitions);
        var problems = new ProblemList();
        problems.AddIfAny("Name", NameRules.NetworkName("Name", definition.Name));
        if (definition.BridgeName is not null)
        {
            problems.AddIfAny("BridgeName", NameRules.InterfaceName("BridgeName", definition.BridgeName));
        }
        else if (definition.AdoptExistingBridge)
        {
            problems.Add("BridgeName", "BridgeName is null but AdoptExistingBridge is set: adopting needs the existing bridge's name; set BridgeName (e.g. 'vmbr0')");
        }

        if (definition.Mtu is { } mtu && mtu is < MinimumMtu or > MaximumMtu)
        {
            problems.Add("Mtu", $"Mtu {mtu} is outside {MinimumMtu}–{MaximumMtu}: use e.g. 1500, or null for the default");
        }

        if (definition.Firewall is { } firewall)
        {
            FirewallRuleValidator.AddFirewallProblems(problems, "Firewall", firewall);
        }

        switch (definition)
        {
            case NatNetworkDefinition nat:
                AddUplinkProblem(problems, nat.Uplink);
                if (nat.DnsDomain is not null)
                {
                    problems.AddIfAny("DnsDomain", NameRules.DnsDomain("DnsDomain", nat.DnsDomain));
                }

                break;
            case RoutedNetworkDefinition routed:
                AddRouteProblems(problems, routed);
                break;
            case VlanNetworkDefinition vlan:
                AddVlanProblems(problems, vlan);
                break;
            case VxlanNetworkDefinition vxlan:
                AddVxlanProblems(problems, vxlan);
                if (underlayMtu is { } underlay)
                {
                    problems.AddRange(ValidateVxlanMtu(vxlan, underlay));
                }

                break;
        }

        foreach (var (field, subnet, family) in Subnets(definition))
        {
            if (subnet is null)
            {
                problems.Add(field, $"{field} is null: give the subnet, e.g. new NetworkSubnet(\"192.0.2.0/24\", \"192.0.2.1\")");
                continue;
            }

            SubnetValidator.AddProblems(problems, field, subnet, family);
        }

        AddConflictProblems(problems, definition, otherDefinitions);
        return problems;
    }

    /// <summary>
    /// Checks a VXLAN overlay's MTU against its underlay's: the encapsulation takes 50 bytes over IPv4 and 70 over IPv6,
    /// so the overlay's MTU (its own, or the 1500 default) must leave that room.
    /// </summary>
    public static IReadOnlyList<NetworkProblem> ValidateVxlanMtu(VxlanNetworkDefinition definition, int underlayMtu)
    {
        ArgumentNullException.ThrowIfNull(definition);
        var problems = new ProblemList();
        var overhead = VxlanOverhead(definition);
        var room = underlayMtu - overhead;
        var underlay = definition.UnderlayInterface is null ? "the underlay" : $"the underlay '{definition.UnderlayInterface}'";
        if (room < MinimumMtu)
        {
            problems.Add("Mtu", $"Mtu: {underlay} has MTU {underlayMtu}, which leaves {room} bytes after the {overhead}-byte VXLAN header, less than {MinimumMtu}: raise the underlay's MTU to at least {MinimumMtu + overhead}");
        }
        else if (definition.Mtu is { } mtu && mtu > room)
        {
            problems.Add("Mtu", $"Mtu {mtu} is too large for VXLAN over {underlay} with MTU {underlayMtu} (the header takes {overhead} bytes): set Mtu to at most {room}, or raise the underlay's MTU to {mtu + overhead}");
        }

        return problems;
    }

    /// <summary>The bytes VXLAN encapsulation adds: 50 over an IPv4 underlay, 70 over IPv6.</summary>
    public static int VxlanOverhead(VxlanNetworkDefinition definition) =>
        Ipam.ParseAddress(definition.LocalAddress)?.AddressFamily == AddressFamily.InterNetworkV6 ? 70 : 50;

    /// <summary>The subnets a definition has, with their field and the family each must be.</summary>
    public static IEnumerable<(string Field, NetworkSubnet? Subnet, AddressFamily Family)> Subnets(NetworkDefinition definition)
    {
        switch (definition)
        {
            case NatNetworkDefinition nat:
                yield return ("Ipv4", nat.Ipv4, AddressFamily.InterNetwork);
                if (nat.Ipv6 is not null)
                {
                    yield return ("Ipv6", nat.Ipv6, AddressFamily.InterNetworkV6);
                }

                break;
            case RoutedNetworkDefinition routed:
                yield return ("Ipv4", routed.Ipv4, AddressFamily.InterNetwork);
                break;
            case VxlanNetworkDefinition { Ipv4: not null } vxlan:
                yield return ("Ipv4", vxlan.Ipv4, AddressFamily.InterNetwork);
                break;
        }
    }

    private static void AddUplinkProblem(ProblemList problems, string? uplink)
    {
        if (uplink is not null)
        {
            problems.AddIfAny("Uplink", NameRules.InterfaceName("Uplink", uplink));
        }
    }

    private static void AddRouteProblems(ProblemList problems, RoutedNetworkDefinition routed)
    {
        var subnet = routed.Ipv4 is null ? null : Ipam.ParseCidr(routed.Ipv4.Cidr).Subnet;
        for (var i = 0; i < routed.Routes.Count; i++)
        {
            var field = $"Routes[{i}]";
            var route = routed.Routes[i];
            var destination = Ipam.ParseCidr(route.Destination);
            if (destination.Subnet is null)
            {
                problems.Add(field + ".Destination", destination.Suggested is { } suggested
                    ? $"{field}.Destination '{route.Destination}' has host bits set after the prefix: write '{suggested}'"
                    : $"{field}.Destination '{NameRules.Printable(route.Destination)}' is not a CIDR: write e.g. '203.0.113.0/24'");
            }

            if (route.Via is not null && subnet is not null)
            {
                SubnetValidator.HostAddress(problems, field + ".Via", route.Via, subnet.Value, required: true);
            }
        }
    }

    private static void AddVlanProblems(ProblemList problems, VlanNetworkDefinition vlan)
    {
        AddUplinkProblem(problems, vlan.Uplink);
        AddVlanIdProblem(problems, "DefaultVlan", vlan.DefaultVlan);
        var seen = new Dictionary<int, int>();
        for (var i = 0; i < vlan.TrunkVlans.Count; i++)
        {
            var field = $"TrunkVlans[{i}]";
            AddVlanIdProblem(problems, field, vlan.TrunkVlans[i]);
            if (!seen.TryAdd(vlan.TrunkVlans[i], i))
            {
                problems.Add(field, $"{field} {vlan.TrunkVlans[i]} repeats TrunkVlans[{seen[vlan.TrunkVlans[i]]}]: list each VLAN once");
            }
        }
    }

    /// <summary>Adds a problem unless <paramref name="vlan"/> is a usable 802.1Q id (0 and 4095 are reserved).</summary>
    internal static void AddVlanIdProblem(ProblemList problems, string field, int vlan)
    {
        if (vlan is < 1 or > 4094)
        {
            problems.Add(field, $"{field} {vlan} is outside 1–4094 (0 and 4095 are reserved by 802.1Q): use a VLAN id from 1 to 4094");
        }
    }

    private static void AddVxlanProblems(ProblemList problems, VxlanNetworkDefinition vxlan)
    {
        if (vxlan.Vni is < 1 or > MaximumVni)
        {
            problems.Add("Vni", $"Vni {vxlan.Vni} is outside 1–{MaximumVni} (24 bits): use the same VNI in that range on every host");
        }

        if (vxlan.Port is < 1 or > 65535)
        {
            problems.Add("Port", $"Port {vxlan.Port} is outside 1–65535: use 4789 (IANA's VXLAN port) unless the hosts agree on another");
        }

        if (vxlan.UnderlayInterface is not null)
        {
            problems.AddIfAny("UnderlayInterface", NameRules.InterfaceName("UnderlayInterface", vxlan.UnderlayInterface));
        }

        var local = Ipam.ParseAddress(vxlan.LocalAddress);
        if (local is null)
        {
            problems.Add("LocalAddress", $"LocalAddress '{NameRules.Printable(vxlan.LocalAddress)}' is not an IP address: give this host's underlay address, e.g. '198.51.100.1'");
        }

        var peers = new Dictionary<IPAddress, int>();
        for (var i = 0; i < vxlan.Peers.Count; i++)
        {
            var field = $"Peers[{i}]";
            var peer = Ipam.ParseAddress(vxlan.Peers[i]);
            if (peer is null)
            {
                problems.Add(field, $"{field} '{NameRules.Printable(vxlan.Peers[i])}' is not an IP address: give the peer host's underlay address, e.g. '198.51.100.2'");
            }
            else if (local is not null && peer.AddressFamily != local.AddressFamily)
            {
                problems.Add(field, $"{field} '{peer}' is not of LocalAddress '{local}''s family: VXLAN needs one underlay family; give the peer's {(local.AddressFamily == AddressFamily.InterNetwork ? "IPv4" : "IPv6")} address");
            }
            else if (peer.Equals(local))
            {
                problems.Add(field, $"{field} '{peer}' is this host's LocalAddress: list only the other hosts");
            }
            else if (!peers.TryAdd(peer, i))
            {
                problems.Add(field, $"{field} '{peer}' repeats Peers[{peers[peer]}]: list each peer once");
            }
        }
    }

    private static void AddConflictProblems(ProblemList problems, NetworkDefinition definition, IReadOnlyList<NetworkDefinition> others)
    {
        var ownSubnets = Subnets(definition)
            .Select(s => (s.Field, Subnet: s.Subnet is null ? null : Ipam.ParseCidr(s.Subnet.Cidr).Subnet))
            .Where(s => s.Subnet is not null)
            .ToList();
        foreach (var other in others)
        {
            if (other is null || other.Name == definition.Name)
            {
                continue;
            }

            if (other.EffectiveBridgeName == definition.EffectiveBridgeName)
            {
                problems.Add("BridgeName", $"BridgeName '{definition.EffectiveBridgeName}' is the bridge of network '{other.Name}' already: give this network another BridgeName");
            }

            foreach (var (field, subnet) in ownSubnets)
            {
                foreach (var (_, otherSubnet, _) in Subnets(other))
                {
                    if (otherSubnet is not null && Ipam.ParseCidr(otherSubnet.Cidr).Subnet is { } taken && Ipam.Overlaps(subnet!.Value, taken))
                    {
                        problems.Add(field + ".Cidr", $"{field}.Cidr '{subnet}' overlaps network '{other.Name}''s subnet {taken}: choose a subnet that shares no address with it");
                    }
                }
            }

            if (definition is VxlanNetworkDefinition vxlan && other is VxlanNetworkDefinition otherVxlan && vxlan.Vni == otherVxlan.Vni && vxlan.Port == otherVxlan.Port)
            {
                problems.Add("Vni", $"Vni {vxlan.Vni} on port {vxlan.Port} is used by network '{other.Name}' already: give each overlay its own VNI");
            }
        }
    }
}
