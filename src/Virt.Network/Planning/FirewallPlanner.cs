using System.Net;
using System.Runtime.CompilerServices;
using Virt.Network.Definitions;
using Virt.Network.Host;
using Virt.Networking;

namespace Virt.Network.Planning;

/// <summary>
/// The whole ruleset the SDK's nftables table should hold, from every applied network and its ports: masquerade for
/// NAT networks, each network's rules, and one entry per port with its rules in the order they are matched — the
/// NIC's own, then its security groups' in the order it names them, then the network's — its default policies (the
/// NIC's, else the network's, else accept) and, with anti-spoofing, the addresses it may send from.
/// </summary>
/// <remarks>
/// Rule scopes name where a rule came from: <c>port:OWNER/NIC</c> (the NIC's own), <c>group:NAME</c>, <c>network:NAME</c>.
/// The nftables layer reports a counter of a group's or network's rule as <c>SCOPE via port:OWNER/NIC</c>, and the
/// port's own (its rules, default policies, anti-spoofing) as <c>port:OWNER/NIC</c>; that is how counters are filtered per network.
/// </remarks>
internal static class FirewallPlanner
{
    // A snapshot is immutable and reused until the state directory changes: its ruleset is built once (a thousand
    // ports take milliseconds to build and more to fingerprint, and every plan asks for it).
    private static readonly ConditionalWeakTable<NetworkState, FirewallRuleset> Built = [];

    public static FirewallRuleset Build(NetworkState state) => Built.GetValue(state, Compute);

    private static FirewallRuleset Compute(NetworkState state)
    {
        var nat = new List<NatRule>();
        var networks = new List<FirewalledNetwork>();
        var ports = new List<FirewalledPort>();
        foreach (var definition in state.Applied.Values.OrderBy(d => d.Name, StringComparer.Ordinal))
        {
            if (definition is NatNetworkDefinition natNetwork)
            {
                nat.Add(new NatRule(definition.Name, definition.EffectiveBridgeName, NetworkAddressing.Subnet(definition, natNetwork.Ipv4.Cidr), natNetwork.Uplink));
            }

            if (definition.Firewall is not null)
            {
                networks.Add(new FirewalledNetwork(definition.Name, definition.EffectiveBridgeName, definition.Firewall));
            }

            ports.AddRange(state.PortsOf(definition.Name)
                .OrderBy(p => p.Request.Owner, StringComparer.Ordinal)
                .ThenBy(p => p.Request.NicId, StringComparer.Ordinal)
                .Select(p => Port(definition, p.Request, state.Groups)));
        }

        return new FirewallRuleset(nat, networks, ports);
    }

    /// <summary>The scope prefix of a port's rules (and of their counters).</summary>
    public static string PortScope(string owner, string nicId) => $"port:{owner}/{nicId}";

    public static FirewalledPort Port(NetworkDefinition network, NetworkPortRequest request, IReadOnlyDictionary<string, SecurityGroup> groups)
    {
        var nic = request.Firewall;
        var scope = PortScope(request.Owner, request.NicId);
        var rules = new List<ScopedRule>();
        Add(rules, scope, nic?.Rules ?? []);
        foreach (var name in nic?.SecurityGroups ?? [])
        {
            var group = groups.TryGetValue(name, out var found)
                ? found
                : throw new NetworkException(VirtErrorKind.NotFound, $"port {request.Owner}/{request.NicId} on network '{network.Name}' names security group '{name}', which is not defined: define it with INetworkManager.DefineSecurityGroupAsync, or remove it from the NIC's firewall");
            Add(rules, "group:" + name, group.Rules);
        }

        Add(rules, "network:" + network.Name, network.Firewall?.Rules ?? []);
        return new FirewalledPort(
            network.Name,
            request.Owner,
            request.NicId,
            request.HostInterface,
            network.EffectiveBridgeName,
            request.MacAddress,
            AllowedSources(network, request),
            AntiSpoofing: nic?.AntiSpoofing ?? false,
            rules,
            nic?.DefaultIn ?? network.Firewall?.DefaultIn ?? FirewallAction.Accept,
            nic?.DefaultOut ?? network.Firewall?.DefaultOut ?? FirewallAction.Accept);
    }

    private static void Add(List<ScopedRule> rules, string scope, IReadOnlyList<FirewallRule> from) =>
        rules.AddRange(from.Select((rule, index) => new ScopedRule(scope, index, rule)));

    /// <summary>The port's own address (asked for, or reserved for its MAC) and the extra ones its firewall allows.</summary>
    private static List<IPAddress> AllowedSources(NetworkDefinition network, NetworkPortRequest request)
    {
        var sources = new List<IPAddress>();
        if (NetworkAddressing.PortAddress(network, request) is { } own)
        {
            sources.Add(NetworkAddressing.Address(network, $"address of port {request.Owner}/{request.NicId}", own));
        }

        foreach (var extra in request.Firewall?.AllowedAddresses ?? [])
        {
            var address = NetworkAddressing.Address(network, $"allowed address of port {request.Owner}/{request.NicId}", extra);
            if (!sources.Contains(address))
            {
                sources.Add(address);
            }
        }

        return sources;
    }
}
