using System.Net;
using System.Text.Json.Nodes;
using Virt.Network.Firewall;
using Virt.Network.Host;
using Virt.Networking;

namespace Virt.Network.Tests.Firewall;

public sealed class NftablesRulesetCompilerTests
{
    private static readonly NftablesRulesetCompiler Compiler = new("virt");

    [Fact]
    public void An_empty_ruleset_removes_both_tables_whether_or_not_they_exist()
    {
        var commands = Commands(FirewallRuleset.Empty);

        Assert.Equal(
            ["add table inet", "delete table inet", "add table bridge", "delete table bridge"],
            commands.Select(command => $"{Verb(command)} {Kind(command)} {Body(command)["family"]}"));
    }

    [Fact]
    public void NAT_masquerades_the_subnet_leaving_by_anything_but_its_bridge()
    {
        var ruleset = new FirewallRuleset([new NatRule("lab", "br0", IPNetwork.Parse("192.0.2.0/24"), null)], [], []);

        var commands = Commands(ruleset);

        var chain = Body(commands.Single(command => Kind(command) == "chain" && (string?)Body(command)["name"] == "nat-postrouting"));
        Assert.Equal(("inet", "nat", "postrouting", 100), ((string?)chain["family"], (string?)chain["type"], (string?)chain["hook"], (int)chain["prio"]!));
        var rule = Rules(commands, "nat-postrouting").Single();
        Assert.Equal("nat:lab", (string?)rule["comment"]);
        Assert.Equal(
            """[{"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"saddr"}},"right":{"prefix":{"addr":"192.0.2.0","len":24}}}},{"match":{"op":"!=","left":{"payload":{"protocol":"ip","field":"daddr"}},"right":{"prefix":{"addr":"192.0.2.0","len":24}}}},{"match":{"op":"!=","left":{"meta":{"key":"oifname"}},"right":"br0"}},{"counter":null},{"masquerade":null}]""",
            rule["expr"]!.ToJsonString());
    }

    [Fact]
    public void NAT_through_an_uplink_matches_only_that_interface()
    {
        var ruleset = new FirewallRuleset([new NatRule("lab", "br0", IPNetwork.Parse("2001:db8::/64"), "eth1")], [], []);

        var rule = Rules(Commands(ruleset), "nat-postrouting").Single();

        Assert.Contains("""{"match":{"op":"==","left":{"meta":{"key":"oifname"}},"right":"eth1"}}""", rule["expr"]!.ToJsonString(), StringComparison.Ordinal);
        Assert.Contains("\"protocol\":\"ip6\"", rule["expr"]!.ToJsonString(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_port_with_anti_spoofing_checks_its_MAC_and_addresses_before_state_rules_and_default()
    {
        var commands = Commands(new FirewallRuleset([], [], [Port(antiSpoofing: true, rules: [new ScopedRule("port:vm:a/net0", 0, new FirewallRule(FirewallDirection.Out, FirewallAction.Drop))])]));

        var rules = Rules(commands, "port-tap0-out");
        Assert.Equal(
            ["scope port:vm:a/net0", "anti-spoofing:mac", "anti-spoofing:arp", "anti-spoofing:arp", "infra:dhcp", "anti-spoofing:ipv4", "anti-spoofing:ipv6",
             "infra", "port:vm:a/net0#0", "default-out"],
            rules.Select(rule => (string?)rule["comment"]));
        Assert.Contains("\"right\":\"02:00:00:00:00:0a\"", rules[1]["expr"]!.ToJsonString(), StringComparison.Ordinal);
        Assert.Equal("""[{"match":{"op":"!=","left":{"payload":{"protocol":"ip","field":"saddr"}},"right":"192.0.2.10"}},{"counter":null},{"drop":null}]""", rules[5]["expr"]!.ToJsonString());
        Assert.Equal("""[{"prefix":{"addr":"fe80::","len":10}},"::","2001:db8::10"]""", SetElements(commands, rules[6]));
        Assert.Equal("""[{"jump":{"target":"infra-out"}}]""", rules[7]["expr"]!.ToJsonString());
        Assert.All(rules.Where(rule => (string?)rule["comment"] != "infra"), rule => Assert.Contains("\"counter\"", rule["expr"]!.ToJsonString(), StringComparison.Ordinal));
    }

    [Fact]
    public void Without_allowed_IPv4_sources_only_DHCP_and_ARP_probes_leave()
    {
        var port = Port(antiSpoofing: true, rules: []) with { AllowedSources = [] };

        var rules = Rules(Commands(new FirewallRuleset([], [], [port])), "port-tap0-out");

        Assert.Equal("""[{"match":{"op":"==","left":{"payload":{"protocol":"ether","field":"type"}},"right":"ip"}},{"counter":null},{"drop":null}]""", rules[5]["expr"]!.ToJsonString());
        Assert.Contains("\"right\":\"0.0.0.0\"", rules[3]["expr"]!.ToJsonString(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_port_without_anti_spoofing_has_no_such_rules()
    {
        var rules = Rules(Commands(new FirewallRuleset([], [], [Port(antiSpoofing: false, rules: [])])), "port-tap0-out");

        Assert.DoesNotContain(rules, rule => ((string?)rule["comment"])!.StartsWith("anti-spoofing", StringComparison.Ordinal));
    }

    [Fact]
    public void Ports_are_reached_through_verdict_maps_from_separate_base_chains()
    {
        var commands = Commands(new FirewallRuleset([], [], [Port(antiSpoofing: true, rules: [])]));

        var maps = commands.Where(command => Kind(command) == "map").Select(Body).ToList();
        Assert.Equal("""[["tap0",{"jump":{"target":"port-tap0-out"}}]]""", maps.Single(map => (string?)map["name"] == "out-ports")["elem"]!.ToJsonString());
        Assert.Equal("""[["tap0",{"jump":{"target":"port-tap0-in"}}]]""", maps.Single(map => (string?)map["name"] == "in-ports")["elem"]!.ToJsonString());
        var hooks = commands.Where(command => Kind(command) == "chain" && Body(command)["hook"] is not null && (string?)Body(command)["family"] == "bridge")
            .Select(command => $"{Body(command)["name"]} {Body(command)["hook"]}");
        Assert.Equal(["from-ports-forward forward", "to-ports-forward forward", "from-ports-input input", "to-ports-output output"], hooks);
        Assert.Equal("""[{"vmap":{"key":{"meta":{"key":"oifname"}},"data":"@in-ports"}}]""", Rules(commands, "to-ports-forward").Single()["expr"]!.ToJsonString());
    }

    [Fact]
    public void A_security_group_rule_matches_its_ports_and_prefixes_and_keeps_its_scope_and_note()
    {
        var rule = new FirewallRule(FirewallDirection.In, FirewallAction.Accept)
        {
            Protocol = FirewallProtocol.Tcp, DestinationPorts = ["22", "80-90"], Sources = ["198.51.100.0/24", "203.0.113.7"], Comment = "web and ssh",
        };

        var commands = Commands(new FirewallRuleset([], [], [Port(antiSpoofing: true, rules: [new ScopedRule("group:web", 3, rule)])]));

        var compiled = Rules(commands, "port-tap0-in").Single(candidate => ((string?)candidate["comment"])!.StartsWith("group:web#3", StringComparison.Ordinal));
        Assert.Equal("group:web#3 web and ssh", (string?)compiled["comment"]);
        var matches = compiled["expr"]!.AsArray();
        Assert.Equal("""{"payload":{"protocol":"ip","field":"saddr"}}""", matches[0]!["match"]!["left"]!.ToJsonString());
        Assert.Equal("""[{"prefix":{"addr":"198.51.100.0","len":24}},"203.0.113.7"]""", SetElements(commands, matches[0]!));
        Assert.Equal("""{"payload":{"protocol":"tcp","field":"dport"}}""", matches[1]!["match"]!["left"]!.ToJsonString());
        Assert.Equal("[22,{\"range\":[80,90]}]", SetElements(commands, matches[1]!));
        Assert.Equal("""[{"counter":null},{"accept":null}]""", new JsonArray(matches[2]!.DeepClone(), matches[3]!.DeepClone()).ToJsonString());
    }

    [Fact]
    public void Identical_lists_share_one_named_set_and_overlapping_elements_are_merged()
    {
        var rule = new FirewallRule(FirewallDirection.In, FirewallAction.Accept)
        {
            Protocol = FirewallProtocol.Tcp, DestinationPorts = ["80-90", "85-100", "22"], Sources = ["192.0.2.0/24", "192.0.2.7", "198.51.100.1"],
        };
        var second = Port(antiSpoofing: false, rules: [new ScopedRule("group:web", 0, rule)]) with { HostInterface = "tap1", NicId = "net1" };

        var commands = Commands(new FirewallRuleset([], [], [Port(antiSpoofing: false, rules: [new ScopedRule("group:web", 0, rule)]), second]));

        var sets = commands.Where(command => Kind(command) == "set").Select(command => Body(command)["elem"]!.ToJsonString()).ToList();
        Assert.Equal(3, sets.Count); // addresses, ports, and the neighbour-discovery types
        Assert.Contains("""[{"prefix":{"addr":"192.0.2.0","len":24}},"198.51.100.1"]""", sets);
        Assert.Contains("[22,{\"range\":[80,100]}]", sets);
    }

    [Fact]
    public void A_rule_with_prefixes_of_both_families_becomes_one_nftables_rule_per_family()
    {
        var rule = new FirewallRule(FirewallDirection.In, FirewallAction.Drop) { Sources = ["192.0.2.0/24", "2001:db8::/48"] };

        var rules = Rules(Commands(new FirewallRuleset([], [], [Port(antiSpoofing: false, rules: [new ScopedRule("network:lab", 0, rule)])])), "port-tap0-in")
            .Where(candidate => (string?)candidate["comment"] == "network:lab#0").ToList();

        Assert.Equal(2, rules.Count);
        Assert.Contains("\"protocol\":\"ip\"", rules[0]["expr"]!.ToJsonString(), StringComparison.Ordinal);
        Assert.Contains("\"protocol\":\"ip6\"", rules[1]["expr"]!.ToJsonString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Defaults_and_ICMP_rules_compile_and_reject_drops_on_the_bridge()
    {
        var icmp = new FirewallRule(FirewallDirection.In, FirewallAction.Reject) { Protocol = FirewallProtocol.Icmp, IcmpTypes = ["echo-request"] };
        var port = Port(antiSpoofing: false, rules: [new ScopedRule("port:vm:a/net0", 0, icmp)]) with { DefaultIn = FirewallAction.Reject, DefaultOut = FirewallAction.Accept };

        var commands = Commands(new FirewallRuleset([], [], [port]));

        Assert.Equal("""[{"counter":null},{"drop":null}]""", Rules(commands, "port-tap0-in").Last()["expr"]!.ToJsonString());
        Assert.Equal("""[{"counter":null},{"accept":null}]""", Rules(commands, "port-tap0-out").Last()["expr"]!.ToJsonString());
        Assert.Equal(
            """[{"match":{"op":"==","left":{"payload":{"protocol":"icmp","field":"type"}},"right":"echo-request"}},{"counter":null},{"drop":null}]""",
            Rules(commands, "port-tap0-in").Single(rule => (string?)rule["comment"] == "port:vm:a/net0#0")["expr"]!.ToJsonString());
    }

    [Theory]
    [InlineData("ports", "80; flush ruleset")]
    [InlineData("ports", "0")]
    [InlineData("ports", "90-80")]
    [InlineData("ports", "65536")]
    [InlineData("source", "192.0.2.1/24")]
    [InlineData("source", "192.0.2.0/24\"}")]
    [InlineData("source", "fe80::1%eth0")]
    [InlineData("icmp", "echo-request\"},{\"drop\":null")]
    [InlineData("icmp", "@out-ports")]
    [InlineData("comment", "bye\" ; flush ruleset")]
    [InlineData("comment", "two\nlines")]
    public void Hostile_rule_content_is_refused_naming_the_rule(string field, string value)
    {
        var rule = field switch
        {
            "ports" => new FirewallRule(FirewallDirection.In, FirewallAction.Accept) { Protocol = FirewallProtocol.Tcp, DestinationPorts = [value] },
            "source" => new FirewallRule(FirewallDirection.In, FirewallAction.Accept) { Sources = [value] },
            "icmp" => new FirewallRule(FirewallDirection.In, FirewallAction.Accept) { Protocol = FirewallProtocol.Icmp, IcmpTypes = [value] },
            _ => new FirewallRule(FirewallDirection.In, FirewallAction.Accept) { Comment = value },
        };

        var refusal = Assert.Throws<ArgumentException>(() => Compiler.Compile(new FirewallRuleset([], [], [Port(antiSpoofing: true, rules: [new ScopedRule("group:web", 2, rule)])])));

        Assert.Contains("group:web#2 of port port:vm:a/net0", refusal.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("@out-ports")]
    [InlineData("tap0\n")]
    [InlineData("tap 0")]
    [InlineData("a-very-long-interface")]
    [InlineData("-tap")]
    [InlineData("")]
    public void Hostile_interface_names_are_refused(string name)
    {
        Assert.Throws<ArgumentException>(() => Compiler.Compile(new FirewallRuleset([], [], [Port(antiSpoofing: true, rules: []) with { HostInterface = name }])));
        Assert.Throws<ArgumentException>(() => Compiler.Compile(new FirewallRuleset([new NatRule("lab", name, IPNetwork.Parse("192.0.2.0/24"), null)], [], [])));
    }

    [Theory]
    [InlineData("virt; flush ruleset")]
    [InlineData("virt\n")]
    [InlineData("")]
    public void A_hostile_table_name_is_refused(string table) => Assert.Throws<ArgumentException>(() => new NftablesRulesetCompiler(table));

    [Fact]
    public void Ports_and_ICMP_types_need_a_protocol_that_has_them()
    {
        Assert.Throws<ArgumentException>(() => ParsedFirewallRule.Parse(new FirewallRule(FirewallDirection.In, FirewallAction.Accept) { DestinationPorts = ["80"] }, "r"));
        Assert.Throws<ArgumentException>(() => ParsedFirewallRule.Parse(new FirewallRule(FirewallDirection.In, FirewallAction.Accept) { Protocol = FirewallProtocol.Tcp, IcmpTypes = ["echo-request"] }, "r"));
        Assert.Throws<ArgumentException>(() => ParsedFirewallRule.Parse(new FirewallRule(FirewallDirection.In, FirewallAction.Accept) { Protocol = FirewallProtocol.Icmp, IcmpTypes = ["nd-neighbor-solicit"] }, "r"));
    }

    [Fact]
    public void A_MAC_that_is_not_one_is_refused()
    {
        var refusal = Assert.Throws<ArgumentException>(() => Compiler.Compile(new FirewallRuleset([], [], [Port(antiSpoofing: true, rules: []) with { MacAddress = "02:00:00:00:00:0a\", \"x" }])));
        Assert.Contains("port:vm:a/net0", refusal.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_fingerprint_is_stable_for_equal_rulesets_and_differs_for_different_ones()
    {
        FirewallRuleset Build(string port) => new(
            [new NatRule("lab", "br0", IPNetwork.Parse("192.0.2.0/24"), null)],
            [],
            [Port(antiSpoofing: true, rules: [new ScopedRule("group:web", 0, new FirewallRule(FirewallDirection.In, FirewallAction.Accept) { Protocol = FirewallProtocol.Tcp, DestinationPorts = [port] })])]);

        var first = Compiler.Compile(Build("80")).Fingerprint;

        Assert.Matches("^[0-9a-f]{16}$", first);
        Assert.Equal(first, Compiler.Compile(Build("80")).Fingerprint);
        Assert.NotEqual(first, Compiler.Compile(Build("81")).Fingerprint);
        Assert.NotEqual(first, new NftablesRulesetCompiler("other").Compile(Build("80")).Fingerprint);
        Assert.NotEqual(first, Compiler.Compile(FirewallRuleset.Empty).Fingerprint);
    }

    [Fact]
    public void The_fingerprint_rides_in_both_tables_and_the_count_covers_every_command()
    {
        var compiled = Compiler.Compile(new FirewallRuleset([], [], [Port(antiSpoofing: true, rules: [])]));
        var commands = Commands(compiled);

        Assert.Equal(compiled.CommandCount, commands.Count);
        var fingerprints = commands.Where(command => Kind(command) == "rule" && (string?)Body(command)["chain"] == NftablesRulesetCompiler.FingerprintChain)
            .Select(command => $"{Body(command)["family"]} {Body(command)["comment"]}");
        Assert.Equal([$"inet fingerprint:{compiled.Fingerprint}", $"bridge fingerprint:{compiled.Fingerprint}"], fingerprints);
    }

    internal static FirewalledPort Port(bool antiSpoofing, IReadOnlyList<ScopedRule> rules) => new(
        "lab", "vm:a", "net0", "tap0", "br0", "02:00:00:00:00:0A",
        [IPAddress.Parse("192.0.2.10"), IPAddress.Parse("2001:db8::10")], antiSpoofing, rules, FirewallAction.Drop, FirewallAction.Accept);

    private static List<JsonNode> Commands(FirewallRuleset ruleset) => Commands(Compiler.Compile(ruleset));

    private static List<JsonNode> Commands(CompiledRuleset compiled) => [.. JsonNode.Parse(compiled.Json)!["nftables"]!.AsArray().Select(command => command!)];

    private static string Verb(JsonNode command) => command.AsObject().Single().Key;

    private static string Kind(JsonNode command) => command.AsObject().Single().Value!.AsObject().Single().Key;

    private static JsonNode Body(JsonNode command) => command.AsObject().Single().Value!.AsObject().Single().Value!;

    // The elements of the named set a rule or match refers to (the first "@NAME" in it).
    private static string SetElements(List<JsonNode> commands, JsonNode ruleOrMatch)
    {
        var text = ruleOrMatch.ToJsonString();
        var start = text.IndexOf("\"@", StringComparison.Ordinal) + 2;
        var name = text[start..text.IndexOf('"', start)];
        return Body(commands.Single(command => Kind(command) == "set" && (string?)Body(command)["name"] == name))["elem"]!.ToJsonString();
    }

    private static List<JsonNode> Rules(List<JsonNode> commands, string chain) =>
        [.. commands.Where(command => Kind(command) == "rule" && (string?)Body(command)["chain"] == chain).Select(Body)];
}
