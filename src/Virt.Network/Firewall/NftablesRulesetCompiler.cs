using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Virt.Network.Host;
using Virt.Networking;
using static Virt.Network.Firewall.NftablesExpressions;

namespace Virt.Network.Firewall;

/// <summary>The JSON transaction for a ruleset, its fingerprint and how many commands it holds.</summary>
internal sealed record CompiledRuleset(byte[] Json, string Fingerprint, int CommandCount);

/// <summary>
/// Compiles a <see cref="FirewallRuleset"/> into one libnftables JSON transaction over the SDK's two tables.
/// <para>
/// <c>bridge NAME</c> filters each port: base chains on the bridge hooks forward, input and output jump through verdict
/// maps keyed on the port's interface name (so a packet costs one map lookup whatever the port count, and the rules are in
/// force before the tap or veth exists) into <c>port-IF-out</c> (what the guest sends) and <c>port-IF-in</c> (what it
/// receives). Leaving and entering a port are separate base chains, so an accept on the way out never skips the other
/// port's rules on the way in.
/// </para>
/// <para>
/// Connection tracking does not exist in the bridge family unless the kernel has nf_conntrack_bridge (this project's CI
/// kernel does not), so <c>inet NAME</c> copies the conntrack state of every packet crossing an SDK bridge into two bits
/// of the packet mark (<see cref="EstablishedMark"/>, <see cref="InvalidMark"/>): in prerouting, which br_netfilter runs
/// for bridged IPv4/IPv6 frames before the bridge's forward and input hooks, and in postrouting for what the host sends
/// or routes into a bridge before the bridge's output hook. The port chains test those bits where they would say
/// <c>ct state</c>. <c>inet NAME</c> also holds the masquerade of NAT networks.
/// </para>
/// </summary>
internal sealed partial class NftablesRulesetCompiler
{
    /// <summary>The mark bit that says "conntrack state established or related".</summary>
    public const long EstablishedMark = 0x40000000;

    /// <summary>The mark bit that says "conntrack state invalid".</summary>
    public const long InvalidMark = 0x80000000;

    /// <summary>The name of the (hookless) chain whose one rule carries the fingerprint in its comment, in both tables.</summary>
    public const string FingerprintChain = "fingerprint";

    /// <summary>The comment prefix of the fingerprint rule.</summary>
    public const string FingerprintPrefix = "fingerprint:";

    /// <summary>The comment prefix of the first rule of each port chain, which names the port (chain comments are not in 1.0.6's JSON).</summary>
    public const string PortLabelPrefix = "scope ";

    private const long StateMarks = EstablishedMark | InvalidMark;

    private const string InfrastructureOut = "infra-out";

    private const string InfrastructureIn = "infra-in";

    // nftables keeps at most 128 bytes of comment.
    private const int MaxCommentBytes = 127;

    private static readonly string[] NeighbourDiscovery = ["nd-router-solicit", "nd-router-advert", "nd-neighbor-solicit", "nd-neighbor-advert"];

    private readonly string table;

    /// <summary>Creates a compiler for the tables named <paramref name="table"/> (NetworkOptions.NftablesTable).</summary>
    public NftablesRulesetCompiler(string table)
    {
        if (!TableName().IsMatch(table))
        {
            throw new ArgumentException(
                $"the nftables table name '{table}' (NetworkOptions.NftablesTable) must be 1-32 characters of a-z A-Z 0-9 _ - starting with a letter",
                nameof(table));
        }

        this.table = table;
    }

    /// <summary>The table's name.</summary>
    public string Table => table;

    /// <summary>Compiles the ruleset; an empty one compiles to the removal of both tables.</summary>
    public CompiledRuleset Compile(FirewallRuleset ruleset)
    {
        var commands = new JsonArray();
        foreach (var family in new[] { "inet", "bridge" })
        {
            // Adding first makes the delete valid whether or not the table exists: one transaction, no "list" round trip.
            Append(commands, Command("add", "table", TableObject(family)));
            Append(commands, Command("delete", "table", TableObject(family)));
        }

        if (!ruleset.IsEmpty)
        {
            AddInetTable(commands, ruleset);
            AddBridgeTable(commands, ruleset.Ports);
        }

        var fingerprint = RulesetFingerprint.Compute(table, ruleset);
        if (!ruleset.IsEmpty)
        {
            foreach (var family in new[] { "inet", "bridge" })
            {
                Append(commands, Command("add", "chain", Chain(family, FingerprintChain)));
                Append(commands, Command("add", "rule", Rule(family, FingerprintChain, FingerprintPrefix + fingerprint, Counter())));
            }
        }

        var document = new JsonObject { ["nftables"] = commands };
        return new CompiledRuleset(System.Text.Encoding.UTF8.GetBytes(document.ToJsonString()), fingerprint, commands.Count);
    }

    /// <summary>
    /// The transaction that turns the tables holding <paramref name="ruleset"/> less <paramref name="port"/> into tables
    /// holding <paramref name="ruleset"/>: the port's sets, chains and verdict-map elements, and the new fingerprint. The
    /// result is the one <see cref="Compile"/> gives for the whole ruleset (same chains, rules, sets and elements; only rule
    /// handles and the order of map elements differ), at the cost of one port instead of all of them. Valid only when the
    /// port is new and its bridge already has a port (the inet table's bridge set is unchanged): the caller checks.
    /// </summary>
    public CompiledRuleset CompilePortAddition(FirewallRuleset ruleset, FirewalledPort port)
    {
        var commands = new JsonArray();
        var sets = new NamedSets("bridge", table);
        var name = CheckInterface(port.HostInterface, $"port {PortScope(port)}");
        Append(commands, Command("add", "chain", Chain("bridge", OutChain(name))));
        Append(commands, Command("add", "chain", Chain("bridge", InChain(name))));
        AddOutChain(commands, sets, port);
        AddInChain(commands, sets, port);

        // Sets are named by their content, so one the table already has is added again unchanged (add is idempotent).
        InsertSets(commands, 0, sets);
        Append(commands, Command("add", "element", VerdictMapObject("out-ports", [(name, OutChain(name))])));
        Append(commands, Command("add", "element", VerdictMapObject("in-ports", [(name, InChain(name))])));
        var fingerprint = RulesetFingerprint.Compute(table, ruleset);
        foreach (var family in new[] { "inet", "bridge" })
        {
            Append(commands, Command("flush", "chain", Chain(family, FingerprintChain)));
            Append(commands, Command("add", "rule", Rule(family, FingerprintChain, FingerprintPrefix + fingerprint, Counter())));
        }

        var document = new JsonObject { ["nftables"] = commands };
        return new CompiledRuleset(System.Text.Encoding.UTF8.GetBytes(document.ToJsonString()), fingerprint, commands.Count);
    }

    private void AddInetTable(JsonArray commands, FirewallRuleset ruleset)
    {
        Append(commands, Command("add", "table", TableObject("inet")));
        var sets = new NamedSets("inet", table);
        var setsAt = commands.Count;
        var bridges = ruleset.Ports.Select(port => CheckInterface(port.Bridge, $"port {PortScope(port)}")).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        if (bridges.Count > 0)
        {
            // After conntrack (-200), before anything that could drop (filter, 0).
            var bridgeNames = sets.Reference("ifname", interval: false, [.. bridges.Select(bridge => (JsonNode)bridge)]);
            AddStateMarking(commands, "conntrack-state-in", "prerouting", "iifname", bridgeNames);
            AddStateMarking(commands, "conntrack-state-out", "postrouting", "oifname", bridgeNames);
        }

        if (ruleset.Nat.Count > 0)
        {
            Append(commands, Command("add", "chain", BaseChain("inet", "nat-postrouting", "nat", "postrouting", 100)));
            foreach (var nat in ruleset.Nat)
            {
                var name = $"NAT of network '{nat.Network}'";
                var family = IpProtocol(nat.Subnet.BaseAddress.AddressFamily);
                var leaving = nat.Uplink is null
                    ? Match(Meta("oifname"), CheckInterface(nat.Bridge, name), "!=")
                    : Match(Meta("oifname"), CheckInterface(nat.Uplink, name));
                Append(commands, Command("add", "rule", Rule(
                    "inet",
                    "nat-postrouting",
                    "nat:" + CheckName(nat.Network, name),
                    Match(Payload(family, "saddr"), Prefix(nat.Subnet)),
                    Match(Payload(family, "daddr"), Prefix(nat.Subnet), "!="),
                    leaving,
                    Counter(),
                    Masquerade())));
            }
        }

        InsertSets(commands, setsAt, sets);
    }

    private static void InsertSets(JsonArray commands, int index, NamedSets sets)
    {
        foreach (var set in sets.Definitions.AsEnumerable().Reverse())
        {
            commands.Insert(index, set);
        }
    }

    private void AddStateMarking(JsonArray commands, string chain, string hook, string interfaceKey, JsonNode bridges)
    {
        Append(commands, Command("add", "chain", BaseChain("inet", chain, "filter", hook, -150)));
        var onBridges = Match(Meta(interfaceKey), bridges.DeepClone());
        Append(commands, Command("add", "rule", Rule("inet", chain, null, onBridges.DeepClone(), SetMark(BitAnd(Meta("mark"), 0xFFFFFFFF & ~StateMarks)))));
        Append(commands, Command("add", "rule", Rule(
            "inet", chain, null, onBridges.DeepClone(), Match(Ct("state"), new JsonArray("established", "related"), "in"), SetMark(BitOr(Meta("mark"), EstablishedMark)))));
        Append(commands, Command("add", "rule", Rule(
            "inet", chain, null, onBridges, Match(Ct("state"), new JsonArray("invalid"), "in"), SetMark(BitOr(Meta("mark"), InvalidMark)))));
    }

    private void AddBridgeTable(JsonArray commands, IReadOnlyList<FirewalledPort> ports)
    {
        Append(commands, Command("add", "table", TableObject("bridge")));
        var sets = new NamedSets("bridge", table);
        var setsAt = commands.Count;
        var interfaces = new HashSet<string>(StringComparer.Ordinal);
        foreach (var port in ports)
        {
            var name = CheckInterface(port.HostInterface, $"port {PortScope(port)}");
            if (!interfaces.Add(name))
            {
                throw new ArgumentException($"port {PortScope(port)}: host interface '{name}' is used by two ports of the firewall ruleset");
            }

            Append(commands, Command("add", "chain", Chain("bridge", OutChain(name))));
            Append(commands, Command("add", "chain", Chain("bridge", InChain(name))));
        }

        Append(commands, Command("add", "map", VerdictMapObject("out-ports", ports.Select(port => (port.HostInterface, OutChain(port.HostInterface))))));
        Append(commands, Command("add", "map", VerdictMapObject("in-ports", ports.Select(port => (port.HostInterface, InChain(port.HostInterface))))));
        Append(commands, Command("add", "chain", Chain("bridge", InfrastructureOut)));
        Append(commands, Command("add", "chain", Chain("bridge", InfrastructureIn)));
        AddInfrastructure(commands, sets, InfrastructureOut, sport: 68, dport: 67);
        AddInfrastructure(commands, sets, InfrastructureIn, sport: 67, dport: 68);
        AddDispatch(commands, "from-ports-forward", "forward", "iifname", "out-ports", -200);
        AddDispatch(commands, "to-ports-forward", "forward", "oifname", "in-ports", -199);
        AddDispatch(commands, "from-ports-input", "input", "iifname", "out-ports", -200);
        AddDispatch(commands, "to-ports-output", "output", "oifname", "in-ports", -200);

        foreach (var port in ports)
        {
            AddOutChain(commands, sets, port);
            AddInChain(commands, sets, port);
        }

        InsertSets(commands, setsAt, sets);
    }

    private void AddDispatch(JsonArray commands, string chain, string hook, string interfaceKey, string map, int priority)
    {
        Append(commands, Command("add", "chain", BaseChain("bridge", chain, "filter", hook, priority)));
        Append(commands, Command("add", "rule", Rule("bridge", chain, null, VerdictMap(Meta(interfaceKey), map))));
    }

    private void AddOutChain(JsonArray commands, NamedSets sets, FirewalledPort port)
    {
        var chain = OutChain(port.HostInterface);
        var add = RuleAdder(commands, chain);
        add(PortLabelPrefix + PortScope(port), [Counter()]);
        if (port.AntiSpoofing)
        {
            var mac = CheckMac(port);
            var v4 = port.AllowedSources.Where(address => address.AddressFamily == AddressFamily.InterNetwork).Select(address => new IPNetwork(address, 32)).ToList();
            var v6 = port.AllowedSources.Where(address => address.AddressFamily == AddressFamily.InterNetworkV6).Select(address => CheckV6(address, port)).ToList();
            JsonNode Addresses(string type, IEnumerable<IPNetwork> prefixes) => sets.Reference(type, interval: true, [.. NamedSets.Prefixes(prefixes).Select(Prefix)]);
            add("anti-spoofing:mac", [Match(Payload("ether", "saddr"), mac, "!="), Counter(), Verdict("drop")]);
            add("anti-spoofing:arp", [Match(Payload("arp", "saddr ether"), mac, "!="), Counter(), Verdict("drop")]);

            // 0.0.0.0 is the sender of ARP probes (RFC 5227) and of DHCP before the guest has an address.
            add("anti-spoofing:arp", [Match(Payload("arp", "saddr ip"), Addresses("ipv4_addr", [new IPNetwork(IPAddress.Any, 32), .. v4]), "!="), Counter(), Verdict("drop")]);
            add("infra:dhcp", [
                Match(Payload("ip", "saddr"), "0.0.0.0"), Match(Payload("udp", "sport"), 68), Match(Payload("udp", "dport"), 67), Counter(), Verdict("accept")]);
            add("anti-spoofing:ipv4", v4.Count == 0
                ? [Match(Payload("ether", "type"), "ip"), Counter(), Verdict("drop")]
                : [Match(Payload("ip", "saddr"), Addresses("ipv4_addr", v4), "!="), Counter(), Verdict("drop")]);

            // :: is the source of duplicate address detection; link-local addresses are the guest's own business.
            add("anti-spoofing:ipv6", [
                Match(Payload("ip6", "saddr"), Addresses("ipv6_addr", [new IPNetwork(IPAddress.IPv6Any, 128), IPNetwork.Parse("fe80::/10"), .. v6]), "!="),
                Counter(),
                Verdict("drop")]);
        }

        add("infra", [Jump(InfrastructureOut)]);
        AddRules(add, sets, port, FirewallDirection.Out);
        add("default-out", [Counter(), ActionVerdict(port.DefaultOut)]);
    }

    private void AddInChain(JsonArray commands, NamedSets sets, FirewalledPort port)
    {
        var add = RuleAdder(commands, InChain(port.HostInterface));
        add(PortLabelPrefix + PortScope(port), [Counter()]);
        add("infra", [Jump(InfrastructureIn)]);
        AddRules(add, sets, port, FirewallDirection.In);
        add("default-in", [Counter(), ActionVerdict(port.DefaultIn)]);
    }

    // What every port needs whatever its rules say (ARP, IPv6 neighbour discovery, DHCP, and conntrack's verdict on
    // replies), in one chain per direction that each port chain jumps to: an accept or drop there is final, anything
    // else returns to the port's rules. Shared, so 1,000 ports load 10,000 fewer rules.
    private void AddInfrastructure(JsonArray commands, NamedSets sets, string chain, int sport, int dport)
    {
        var add = RuleAdder(commands, chain);
        add("infra:arp", [Match(Payload("ether", "type"), "arp"), Counter(), Verdict("accept")]);
        add("infra:nd", [Match(Payload("icmpv6", "type"), sets.Reference("icmpv6_type", interval: false, [.. NeighbourDiscovery.Select(type => (JsonNode)type)])), Counter(), Verdict("accept")]);
        add("infra:dhcp", [Match(Payload("udp", "sport"), sport), Match(Payload("udp", "dport"), dport), Counter(), Verdict("accept")]);
        add("state:established", [Match(BitAnd(Meta("mark"), EstablishedMark), EstablishedMark), Counter(), Verdict("accept")]);
        add("state:invalid", [Match(BitAnd(Meta("mark"), InvalidMark), InvalidMark), Counter(), Verdict("drop")]);
    }

    private static void AddRules(Action<string, JsonNode[]> add, NamedSets sets, FirewalledPort port, FirewallDirection direction)
    {
        foreach (var scoped in port.Rules.Where(scoped => scoped.Rule.Direction == direction))
        {
            var key = $"{CheckName(scoped.Scope, $"port {PortScope(port)}")}#{scoped.Index}";
            var rule = ParsedFirewallRule.Parse(scoped.Rule, $"{key} of port {PortScope(port)}");
            var comment = rule.Comment is null ? key : Truncate($"{key} {rule.Comment}");
            foreach (var family in rule.Families())
            {
                add(comment, [.. RuleMatches(sets, rule, family), Counter(), ActionVerdict(scoped.Rule.Action)]);
            }
        }
    }

    private static IEnumerable<JsonNode> RuleMatches(NamedSets sets, ParsedFirewallRule rule, AddressFamily? family)
    {
        if (family is { } known)
        {
            var protocol = IpProtocol(known);
            var type = known == AddressFamily.InterNetwork ? "ipv4_addr" : "ipv6_addr";
            JsonNode Addresses(IEnumerable<IPNetwork> prefixes) =>
                sets.Reference(type, interval: true, [.. NamedSets.Prefixes(prefixes.Where(prefix => prefix.BaseAddress.AddressFamily == known)).Select(Prefix)]);
            if (rule.Sources.Count > 0)
            {
                yield return Match(Payload(protocol, "saddr"), Addresses(rule.Sources));
            }

            if (rule.Destinations.Count > 0)
            {
                yield return Match(Payload(protocol, "daddr"), Addresses(rule.Destinations));
            }
        }

        var (number, name) = rule.Rule.Protocol switch
        {
            FirewallProtocol.Tcp => (Tcp, "tcp"),
            FirewallProtocol.Udp => (Udp, "udp"),
            FirewallProtocol.Icmp => (Icmp, "icmp"),
            FirewallProtocol.Icmpv6 => (Icmpv6, "icmpv6"),
            _ => (0, ""),
        };
        if (rule.Ports.Count > 0)
        {
            yield return Match(Payload(name, "dport"), sets.Reference("inet_service", interval: true, [.. NamedSets.Ports(rule.Ports).Select(Port)]));
        }
        else if (rule.IcmpTypes.Count > 0)
        {
            yield return Match(Payload(name, "type"), sets.Reference(name + "_type", interval: false, [.. rule.IcmpTypes.Select(type => (JsonNode)type)]));
        }
        else if (number != 0)
        {
            yield return Match(Meta("l4proto"), number);
        }
    }

    // The kernel's bridge family has no reject unless nft_reject_bridge is built (not on this project's CI kernel), so a
    // rejecting rule drops on the bridge; a caller that needs the RST or ICMP error uses a routed network.
    private static JsonObject ActionVerdict(FirewallAction action) => Verdict(action == FirewallAction.Accept ? "accept" : "drop");

    // JsonArray.Add<T> would wrap a JsonObject as a value (and needs reflection); the JsonNode overload adds the node.
    private static void Append(JsonArray commands, JsonNode command) => commands.Add(command);

    private Action<string, JsonNode[]> RuleAdder(JsonArray commands, string chain) =>
        (comment, expressions) => Append(commands, Command("add", "rule", Rule("bridge", chain, comment, expressions)));

    private static JsonObject Command(string verb, string kind, JsonObject body) =>
        new() { [verb] = new JsonObject { [kind] = body } };

    private JsonObject TableObject(string family) => new() { ["family"] = family, ["name"] = table };

    private JsonObject Chain(string family, string name) => new() { ["family"] = family, ["table"] = table, ["name"] = name };

    private JsonObject BaseChain(string family, string name, string type, string hook, int priority)
    {
        var chain = Chain(family, name);
        chain["type"] = type;
        chain["hook"] = hook;
        chain["prio"] = priority;
        chain["policy"] = "accept";
        return chain;
    }

    private JsonObject Rule(string family, string chain, string? comment, params JsonNode[] expressions)
    {
        var rule = new JsonObject { ["family"] = family, ["table"] = table, ["chain"] = chain };
        if (comment is not null)
        {
            rule["comment"] = comment;
        }

        rule["expr"] = new JsonArray(expressions);
        return rule;
    }

    private JsonObject VerdictMapObject(string name, IEnumerable<(string Interface, string Chain)> elements)
    {
        var map = new JsonObject { ["family"] = "bridge", ["table"] = table, ["name"] = name, ["type"] = "ifname", ["map"] = "verdict" };
        var items = elements.Select(element => (JsonNode)new JsonArray(element.Interface, Jump(element.Chain))).ToArray();
        if (items.Length > 0)
        {
            map["elem"] = new JsonArray(items);
        }

        return map;
    }

    /// <summary>The chain of what the guest behind <paramref name="hostInterface"/> sends.</summary>
    public static string OutChain(string hostInterface) => $"port-{hostInterface}-out";

    /// <summary>The chain of what the guest behind <paramref name="hostInterface"/> receives.</summary>
    public static string InChain(string hostInterface) => $"port-{hostInterface}-in";

    /// <summary>How counters name a port: <c>port:OWNER/NIC</c>.</summary>
    public static string PortScope(FirewalledPort port) => $"port:{port.Owner}/{port.NicId}";

    private static string CheckInterface(string name, string owner)
    {
        if (!InterfaceName().IsMatch(name))
        {
            throw new ArgumentException($"{owner}: interface name '{name.ReplaceLineEndings(" ")}' must be 1-15 characters of a-z A-Z 0-9 _ . - (not starting with -)");
        }

        return name;
    }

    // Scopes and network names end up in comments; the parser of counters splits on '#' and spaces.
    private static string CheckName(string name, string owner)
    {
        if (name.Length is 0 or > 100 || name.Any(character => char.IsWhiteSpace(character) || char.IsControl(character) || character is '"' or '\'' or '\\' or '#'))
        {
            throw new ArgumentException($"{owner}: '{name.ReplaceLineEndings(" ")}' must be 1-100 characters without spaces, quotes, backslashes, '#' or control characters");
        }

        return name;
    }

    private static string CheckMac(FirewalledPort port)
    {
        if (port.MacAddress.Length == 17 && PhysicalAddress.TryParse(port.MacAddress, out var mac) && mac.GetAddressBytes().Length == 6)
        {
            return string.Join(':', mac.GetAddressBytes().Select(part => part.ToString("x2", System.Globalization.CultureInfo.InvariantCulture)));
        }

        throw new ArgumentException($"port {PortScope(port)}: MAC address '{port.MacAddress.ReplaceLineEndings(" ")}' is not of the form 02:00:00:00:00:01");
    }

    private static IPNetwork CheckV6(IPAddress address, FirewalledPort port) => address.ScopeId == 0
        ? new IPNetwork(address, 128)
        : throw new ArgumentException($"port {PortScope(port)}: allowed source '{address}' has a zone index; give the address alone");

    private static string Truncate(string comment)
    {
        while (System.Text.Encoding.UTF8.GetByteCount(comment) > MaxCommentBytes)
        {
            comment = comment[..^1];
        }

        return comment;
    }

    [GeneratedRegex(@"^[A-Za-z][A-Za-z0-9_-]{0,31}\z")]
    private static partial Regex TableName();

    [GeneratedRegex(@"^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,14}\z")]
    private static partial Regex InterfaceName();
}
