using System.Net;
using Virt.Network.Host;
using Virt.Networking;

namespace Virt.Network.IntegrationTests.Firewall;

/// <summary>The port firewall with real traffic between two namespaces on a bridge in a third ("host") namespace.</summary>
public sealed class NftablesFirewallHostTests
{
    private const int AllowedPort = 8080;
    private const int BlockedPort = 8081;

    private static readonly FirewallRule[] WebGroup =
    [
        new(FirewallDirection.In, FirewallAction.Accept) { Protocol = FirewallProtocol.Tcp, DestinationPorts = [AllowedPort.ToString(System.Globalization.CultureInfo.InvariantCulture)], Comment = "web" },
    ];

    [Fact]
    public async Task Rules_decide_real_traffic_and_their_counters_move()
    {
        using var lab = BridgeLab.Create();
        var ruleset = Ruleset(antiSpoofing: true);
        await lab.Firewall.ReplaceAsync(ruleset, TestContext.Current.CancellationToken);
        lab.Listen(lab.B, AllowedPort);
        lab.Listen(lab.B, BlockedPort);

        Assert.False(BridgeLab.Pings(lab.A, BridgeLab.AddressB), "ICMP echo-request to b is dropped by b's first rule");
        Assert.True(BridgeLab.Connects(lab.A, BridgeLab.AddressB, AllowedPort), "the security group allows TCP 8080 (and the replies come back as established)");
        Assert.False(BridgeLab.Connects(lab.A, BridgeLab.AddressB, BlockedPort), "TCP 8081 falls to b's default-in drop");

        var counters = await lab.Firewall.ReadCountersAsync(TestContext.Current.CancellationToken);
        Assert.True(Counter(counters, "port:vm:b/net0", "0").Packets >= 1, "b's ICMP rule counted the ping");
        Assert.True(Counter(counters, "group:web via port:vm:b/net0", "0").Packets >= 1, "the group's rule counted the connection");
        Assert.Equal(0, Counter(counters, "group:web via port:vm:a/net0", "0").Packets);
        Assert.True(Counter(counters, "port:vm:b/net0", "default-in").Packets >= 1, "the default counted TCP 8081");
        Assert.Equal(0, Counter(counters, "port:vm:a/net0", "anti-spoofing:ipv4").Packets);
    }

    [Fact]
    public async Task Anti_spoofing_drops_a_guest_that_changes_its_address_or_its_MAC()
    {
        using var lab = BridgeLab.Create();
        await lab.Firewall.ReplaceAsync(Ruleset(antiSpoofing: true), TestContext.Current.CancellationToken);
        lab.Listen(lab.B, AllowedPort);
        Assert.True(BridgeLab.Connects(lab.A, BridgeLab.AddressB, AllowedPort));

        lab.A.Exec("ip", "addr", "flush", "dev", "eth0");
        lab.A.Exec("ip", "addr", "add", "192.0.2.20/24", "dev", "eth0");
        Assert.False(BridgeLab.Connects(lab.A, BridgeLab.AddressB, AllowedPort), "a spoofed IPv4 source is dropped");
        var counters = await lab.Firewall.ReadCountersAsync(TestContext.Current.CancellationToken);
        Assert.True(
            Counter(counters, "port:vm:a/net0", "anti-spoofing:ipv4").Packets + Counter(counters, "port:vm:a/net0", "anti-spoofing:arp").Packets >= 1,
            "the IPv4 or ARP anti-spoofing check counted the spoofed packets");

        lab.A.Exec("ip", "addr", "flush", "dev", "eth0");
        lab.A.Exec("ip", "addr", "add", BridgeLab.AddressA + "/24", "dev", "eth0");
        lab.A.Exec("ip", "link", "set", "eth0", "address", "02:00:00:00:00:aa");
        Assert.False(BridgeLab.Connects(lab.A, BridgeLab.AddressB, AllowedPort), "a spoofed MAC is dropped");
        counters = await lab.Firewall.ReadCountersAsync(TestContext.Current.CancellationToken);
        Assert.True(Counter(counters, "port:vm:a/net0", "anti-spoofing:mac").Packets >= 1);

        lab.A.Exec("ip", "link", "set", "eth0", "address", BridgeLab.MacA);
        Assert.True(BridgeLab.Connects(lab.A, BridgeLab.AddressB, AllowedPort), "its own MAC and address pass again");

        // Without anti-spoofing the same spoofed MAC passes.
        await lab.Firewall.ReplaceAsync(Ruleset(antiSpoofing: false), TestContext.Current.CancellationToken);
        lab.A.Exec("ip", "link", "set", "eth0", "address", "02:00:00:00:00:aa");
        Assert.True(BridgeLab.Connects(lab.A, BridgeLab.AddressB, AllowedPort));
    }

    [Fact]
    public async Task Fingerprint_round_trips_and_an_empty_ruleset_removes_only_the_SDKs_tables()
    {
        using var lab = BridgeLab.Create();
        var token = TestContext.Current.CancellationToken;
        lab.Host.Exec("nft", "add", "table", "inet", "someone-else");
        Assert.Null(await lab.Firewall.ReadFingerprintAsync(token));

        var ruleset = Ruleset(antiSpoofing: true);
        await lab.Firewall.ReplaceAsync(ruleset, token);
        Assert.Equal(lab.Firewall.Fingerprint(ruleset), await lab.Firewall.ReadFingerprintAsync(token));

        // Replacing again (table present) works and starts the counters afresh: callers skip an unchanged ruleset by its fingerprint.
        Assert.False(BridgeLab.Pings(lab.A, BridgeLab.AddressB));
        await lab.Firewall.ReplaceAsync(ruleset, token);
        Assert.Equal(0, Counter(await lab.Firewall.ReadCountersAsync(token), "port:vm:b/net0", "0").Packets);
        Assert.Equal(lab.Firewall.Fingerprint(ruleset), await lab.Firewall.ReadFingerprintAsync(token));

        // The inet table deleted by hand reads as absent, so the next apply repairs it.
        lab.Host.Exec("nft", "delete", "table", "inet", "virt");
        Assert.Null(await lab.Firewall.ReadFingerprintAsync(token));

        await lab.Firewall.ReplaceAsync(FirewallRuleset.Empty, token);
        Assert.Null(await lab.Firewall.ReadFingerprintAsync(token));
        var tables = lab.Host.Exec("nft", "list", "tables");
        Assert.DoesNotContain("virt", tables, StringComparison.Ordinal);
        Assert.Contains("someone-else", tables, StringComparison.Ordinal);
        Assert.True(BridgeLab.Pings(lab.A, BridgeLab.AddressB), "with no ruleset nothing filters");
        Assert.Empty(await lab.Firewall.ReadCountersAsync(token));
    }

    [Fact]
    public async Task Hostile_names_and_a_host_without_br_netfilter_are_refused_and_nothing_changes()
    {
        using var lab = BridgeLab.Create();
        var token = TestContext.Current.CancellationToken;
        var ruleset = Ruleset(antiSpoofing: true);
        await lab.Firewall.ReplaceAsync(ruleset, token);

        var hostile = ruleset with { Nat = [new NatRule("lab", "br0", IPNetwork.Parse("192.0.2.0/24"), "up\"; flush ruleset")] };
        var refusal = await Assert.ThrowsAsync<ArgumentException>(() => lab.Firewall.ReplaceAsync(hostile, token));
        Assert.Contains("NAT of network 'lab'", refusal.Message, StringComparison.Ordinal);
        Assert.Equal(lab.Firewall.Fingerprint(ruleset), await lab.Firewall.ReadFingerprintAsync(token));

        // Without br_netfilter the conntrack marks would never be set and replies would fall to the defaults.
        lab.Host.Exec("sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=0");
        var missing = await Assert.ThrowsAsync<NetworkException>(() => lab.Firewall.ReplaceAsync(ruleset with { Nat = [] }, token));
        Assert.Contains("net.bridge.bridge-nf-call-iptables = 1", missing.Message, StringComparison.Ordinal);
        Assert.Contains(lab.Host.Path, missing.Message, StringComparison.Ordinal);
        Assert.Equal(lab.Firewall.Fingerprint(ruleset), await lab.Firewall.ReadFingerprintAsync(token));
    }

    [Fact]
    public async Task IPv6_neighbour_discovery_passes_replies_are_tracked_and_a_spoofed_source_is_dropped()
    {
        using var lab = BridgeLab.Create();
        lab.A.Exec("ip", "addr", "add", "2001:db8::a/64", "dev", "eth0", "nodad");
        lab.B.Exec("ip", "addr", "add", "2001:db8::b/64", "dev", "eth0", "nodad");
        var echo = new FirewallRule(FirewallDirection.In, FirewallAction.Accept) { Protocol = FirewallProtocol.Icmpv6, IcmpTypes = ["echo-request"] };
        var ruleset = Ruleset(antiSpoofing: true);
        ruleset = ruleset with
        {
            Ports =
            [
                ruleset.Ports[0] with { AllowedSources = [IPAddress.Parse(BridgeLab.AddressA), IPAddress.Parse("2001:db8::a")] },
                ruleset.Ports[1] with { AllowedSources = [IPAddress.Parse(BridgeLab.AddressB), IPAddress.Parse("2001:db8::b")], Rules = [new ScopedRule("port:vm:b/net0", 0, echo)] },
            ],
        };
        await lab.Firewall.ReplaceAsync(ruleset, TestContext.Current.CancellationToken);

        Assert.True(BridgeLab.Pings(lab.A, "2001:db8::b"), "b accepts echo-request; a's default-in drop lets the tracked reply in");
        Assert.False(BridgeLab.Pings(lab.B, "2001:db8::a"), "a's default-in drops a new flow");

        lab.A.Exec("ip", "addr", "add", "2001:db8::99/64", "dev", "eth0", "nodad");
        Assert.False(BridgeLab.Pings(lab.A, "2001:db8::b", "2001:db8::99"), "a source a may not use is dropped");
        var counters = await lab.Firewall.ReadCountersAsync(TestContext.Current.CancellationToken);
        Assert.True(Counter(counters, "port:vm:a/net0", "anti-spoofing:ipv6").Packets >= 1);
    }

    [Fact]
    public async Task A_port_added_on_its_own_gives_the_tables_a_full_replace_gives_and_its_rules_decide_traffic()
    {
        using var lab = BridgeLab.Create();
        var token = TestContext.Current.CancellationToken;
        var full = Ruleset(antiSpoofing: true);
        await lab.Firewall.ReplaceAsync(full, token);
        var replaced = Listing(lab);

        await lab.Firewall.ReplaceAsync(full with { Ports = [full.Ports[0]] }, token);
        await lab.Firewall.AddPortAsync(full, full.Ports[1], token);
        Assert.Equal(lab.Firewall.Fingerprint(full), await lab.Firewall.ReadFingerprintAsync(token));
        Assert.Equal(replaced, Listing(lab));

        lab.Listen(lab.B, AllowedPort);
        Assert.False(BridgeLab.Pings(lab.A, BridgeLab.AddressB), "the added port's ICMP rule is in force");
        Assert.True(BridgeLab.Connects(lab.A, BridgeLab.AddressB, AllowedPort), "its security group's rule too");
        Assert.True(Counter(await lab.Firewall.ReadCountersAsync(token), "port:vm:b/net0", "0").Packets >= 1);
    }

    // The ruleset as nft lists it, without counters, one sorted line per rule, set or map element (map elements are
    // listed in hash order, which depends on the order they were added).
    private static List<string> Listing(BridgeLab lab) =>
        [.. lab.Host.Exec("nft", "list", "ruleset")
            .Split('\n')
            .SelectMany(line => line.Contains("elements = {", StringComparison.Ordinal) ? line.Split(',') : [line])
            .Select(line => System.Text.RegularExpressions.Regex.Replace(line, "counter packets [0-9]+ bytes [0-9]+", "counter").Trim(' ', '\t', '{', '}', ','))
            .Where(line => line.Length > 0)
            .Order(StringComparer.Ordinal)];

    internal static FirewallRuleset Ruleset(bool antiSpoofing)
    {
        var groupRules = WebGroup.Select((rule, index) => new ScopedRule("group:web", index, rule)).ToList();
        var portA = new FirewalledPort(
            "lab", "vm:a", "net0", "va", "br0", BridgeLab.MacA, [IPAddress.Parse(BridgeLab.AddressA)], antiSpoofing,
            groupRules, FirewallAction.Drop, FirewallAction.Accept);
        var portB = new FirewalledPort(
            "lab", "vm:b", "net0", "vb", "br0", BridgeLab.MacB, [IPAddress.Parse(BridgeLab.AddressB)], antiSpoofing,
            [new ScopedRule("port:vm:b/net0", 0, new FirewallRule(FirewallDirection.In, FirewallAction.Drop) { Protocol = FirewallProtocol.Icmp, IcmpTypes = ["echo-request"] }), .. groupRules],
            FirewallAction.Drop, FirewallAction.Accept);
        return new FirewallRuleset([], [], [portA, portB]);
    }

    private static FirewallRuleCounter Counter(IReadOnlyList<FirewallRuleCounter> counters, string scope, string handle) =>
        counters.SingleOrDefault(counter => counter.Scope == scope && counter.Handle == handle)
        ?? throw new Xunit.Sdk.XunitException($"no counter {scope} {handle}; have: {string.Join(", ", counters.Select(counter => $"{counter.Scope} {counter.Handle}"))}");
}
