using System.Net;
using Virt.Network.Host;
using Virt.Networking;

namespace Virt.Network.IntegrationTests.Firewall;

/// <summary>Masquerade of a bridge's subnet towards an "outside" namespace that has no route back to it.</summary>
public sealed class NftablesNatTests
{
    private static readonly IPNetwork Subnet = IPNetwork.Parse("192.0.2.0/24");

    [Theory]
    [InlineData(null)]
    [InlineData("up0")]
    public async Task A_guest_reaches_the_outside_only_through_the_masquerade(string? uplink)
    {
        using var lab = BridgeLab.Create();
        var outside = lab.ConnectOutside();
        var token = TestContext.Current.CancellationToken;
        Assert.False(BridgeLab.Pings(lab.A, "198.51.100.2"), "without NAT the outside cannot answer 192.0.2.10");

        var ruleset = new FirewallRuleset([new NatRule("lab", "br0", Subnet, uplink)], [], []);
        await lab.Firewall.ReplaceAsync(ruleset, token);
        Assert.True(BridgeLab.Pings(lab.A, "198.51.100.2"), "masqueraded behind 198.51.100.1 the ping is answered");
        var masquerade = Assert.Single(await lab.Firewall.ReadCountersAsync(token));
        Assert.Equal(("network:lab", "masquerade"), (masquerade.Scope, masquerade.Handle));
        Assert.True(masquerade.Packets >= 1);

        await lab.Firewall.ReplaceAsync(FirewallRuleset.Empty, token);
        Assert.False(BridgeLab.Pings(lab.A, "198.51.100.2"), "with the tables removed the masquerade is gone");
        GC.KeepAlive(outside);
    }

    [Fact]
    public async Task Replies_to_a_guest_whose_default_in_is_drop_come_back_through_the_gateway()
    {
        using var lab = BridgeLab.Create();
        lab.ConnectOutside();
        var token = TestContext.Current.CancellationToken;
        var port = new FirewalledPort(
            "lab", "vm:a", "net0", "va", "br0", BridgeLab.MacA, [IPAddress.Parse(BridgeLab.AddressA)], AntiSpoofing: true,
            [], DefaultIn: FirewallAction.Drop, DefaultOut: FirewallAction.Accept);
        await lab.Firewall.ReplaceAsync(new FirewallRuleset([new NatRule("lab", "br0", Subnet, null)], [], [port]), token);

        // The echo reply is routed into the bridge by the host: its conntrack state is marked in postrouting.
        Assert.True(BridgeLab.Pings(lab.A, "198.51.100.2"));
        Assert.False(BridgeLab.Pings(lab.B, BridgeLab.AddressA), "a new flow to a still falls to its default-in drop");
        var counters = await lab.Firewall.ReadCountersAsync(token);
        Assert.True(counters.Single(counter => counter.Scope == "port:vm:a/net0" && counter.Handle == "default-in").Packets >= 1);
    }
}
