using Virt.Network.Tests.Manager.Fakes;
using Virt.Networking;

namespace Virt.Network.Tests.Manager;

public sealed class PortTests : IDisposable
{
    private readonly NetworkTestBed _bed = new();

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public void Dispose() => _bed.Dispose();

    [Fact]
    public async Task Prepare_on_an_unknown_network_is_not_found_naming_it_and_the_fix()
    {
        var error = await Assert.ThrowsAsync<NetworkException>(() => _bed.NewManager().PrepareAsync(NetworkTestBed.Port("nowhere"), Token));

        Assert.Equal(VirtErrorKind.NotFound, error.ErrorKind);
        Assert.Contains("network 'nowhere'", error.Message, StringComparison.Ordinal);
        Assert.Contains("define it with INetworkManager.DefineAsync and apply it", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Prepare_on_a_network_never_applied_is_refused_with_the_fix()
    {
        var manager = _bed.NewManager();
        await manager.DefineAsync(NetworkTestBed.Nat(), Token);

        var error = await Assert.ThrowsAsync<NetworkException>(() => manager.PrepareAsync(NetworkTestBed.Port("nat1"), Token));

        Assert.Equal(VirtErrorKind.Conflict, error.ErrorKind);
        Assert.Contains("ApplyAsync(\"nat1\")", error.Message, StringComparison.Ordinal);
        Assert.Empty(await manager.ListPortsAsync("nat1", Token));
    }

    [Fact]
    public async Task The_ports_rules_and_reservation_are_in_force_when_prepare_returns()
    {
        var manager = await _bed.AppliedAsync(NetworkTestBed.Nat());
        var request = NetworkTestBed.Port("nat1") with
        {
            Ipv4Address = "192.0.2.10",
            Hostname = "web",
            Firewall = new NicFirewall { Rules = [new FirewallRule(FirewallDirection.In, FirewallAction.Accept) { Protocol = FirewallProtocol.Tcp, DestinationPorts = ["443"] }] },
        };

        var port = await manager.PrepareAsync(request, Token);

        Assert.Equal(("vn-nat1", 1500, "192.0.2.10/24", "192.0.2.1"), (port.Bridge, port.Mtu, port.Ipv4Address, port.Ipv4Gateway));
        var rules = Assert.Single(_bed.Firewall.Current!.Ports);
        Assert.Equal(("vm:web", "net0", "tap-web0", "vn-nat1"), (rules.Owner, rules.NicId, rules.HostInterface, rules.Bridge));
        Assert.True(rules.AntiSpoofing);
        Assert.Equal(["192.0.2.10"], rules.AllowedSources.Select(a => a.ToString()));
        Assert.Contains(_bed.Dhcp.Running["nat1"].Hosts, h => h is { MacAddress: "52:54:00:12:34:56", Address: "192.0.2.10", Hostname: "web" });
        Assert.Single(await manager.ListPortsAsync("nat1", Token));
    }

    [Fact]
    public async Task Rules_come_from_the_nic_then_its_groups_then_the_network_with_the_nics_defaults_first()
    {
        var networkRule = new FirewallRule(FirewallDirection.In, FirewallAction.Drop) { Comment = "network" };
        var manager = await _bed.AppliedAsync(NetworkTestBed.Nat() with
        {
            Firewall = new NetworkFirewall { DefaultIn = FirewallAction.Drop, DefaultOut = FirewallAction.Reject, Rules = [networkRule] },
            Ipv4 = NetworkTestBed.Nat().Ipv4 with { Reservations = [new DhcpReservation("52:54:00:12:34:56", "192.0.2.20")] },
        });
        await manager.DefineSecurityGroupAsync(new SecurityGroup("web", [new FirewallRule(FirewallDirection.In, FirewallAction.Accept) { Comment = "web" }]), Token);
        await manager.DefineSecurityGroupAsync(new SecurityGroup("ssh", [new FirewallRule(FirewallDirection.In, FirewallAction.Accept) { Comment = "ssh" }]), Token);
        var nicRule = new FirewallRule(FirewallDirection.Out, FirewallAction.Accept) { Comment = "nic" };

        await manager.PrepareAsync(NetworkTestBed.Port("nat1") with { Firewall = new NicFirewall { Rules = [nicRule], SecurityGroups = ["ssh", "web"], DefaultIn = FirewallAction.Accept, AllowedAddresses = ["192.0.2.99"] } }, Token);

        var port = Assert.Single(_bed.Firewall.Current!.Ports);
        Assert.Equal(["nic", "ssh", "web", "network"], port.Rules.Select(r => r.Rule.Comment));
        Assert.Equal(["port:vm:web/net0", "group:ssh", "group:web", "network:nat1"], port.Rules.Select(r => r.Scope));
        Assert.Equal((FirewallAction.Accept, FirewallAction.Reject), (port.DefaultIn, port.DefaultOut));
        Assert.Equal(["192.0.2.20", "192.0.2.99"], port.AllowedSources.Select(a => a.ToString()));
    }

    [Fact]
    public async Task A_security_group_that_is_not_defined_is_named_and_nothing_is_recorded()
    {
        var manager = await _bed.AppliedAsync(NetworkTestBed.Nat());

        var error = await Assert.ThrowsAsync<NetworkException>(() => manager.PrepareAsync(NetworkTestBed.Port("nat1") with { Firewall = new NicFirewall { SecurityGroups = ["db"] } }, Token));

        Assert.Equal(VirtErrorKind.NotFound, error.ErrorKind);
        Assert.Contains("security group 'db'", error.Message, StringComparison.Ordinal);
        Assert.Empty(await manager.ListPortsAsync("nat1", Token));
    }

    [Fact]
    public async Task Changing_a_security_group_updates_the_ports_that_use_it()
    {
        var manager = await _bed.AppliedAsync(NetworkTestBed.Nat());
        await manager.DefineSecurityGroupAsync(new SecurityGroup("web", []), Token);
        await manager.PrepareAsync(NetworkTestBed.Port("nat1") with { Firewall = new NicFirewall { SecurityGroups = ["web"] } }, Token);

        await manager.DefineSecurityGroupAsync(new SecurityGroup("web", [new FirewallRule(FirewallDirection.In, FirewallAction.Accept) { DestinationPorts = ["80"] }]), Token);

        Assert.Equal(["80"], Assert.Single(Assert.Single(_bed.Firewall.Current!.Ports).Rules).Rule.DestinationPorts);
        var inUse = await Assert.ThrowsAsync<NetworkException>(() => manager.DeleteSecurityGroupAsync("web", Token));
        Assert.Equal(VirtErrorKind.Conflict, inUse.ErrorKind);
        Assert.Contains("vm:web/net0", inUse.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_port_is_validated_against_the_ports_of_every_network()
    {
        var manager = await _bed.AppliedAsync(NetworkTestBed.Nat(), new IsolatedNetworkDefinition("lab"));
        await manager.PrepareAsync(NetworkTestBed.Port("lab", owner: "ct:db", tap: "veth-db0"), Token);

        await manager.PrepareAsync(NetworkTestBed.Port("nat1"), Token);

        Assert.Equal(["ct:db/net0 on vn-lab"], _bed.Validation.SeenPorts.Select(p => $"{p.Request.Owner}/{p.Request.NicId} on {p.Bridge}"));
    }

    [Fact]
    public async Task Invalid_port_names_the_field()
    {
        var manager = await _bed.AppliedAsync(NetworkTestBed.Nat());
        _bed.Validation.PortProblems.Add(("Ipv4Address", "192.0.3.10 is outside 192.0.2.0/24"));

        var error = await Assert.ThrowsAsync<NetworkException>(() => manager.PrepareAsync(NetworkTestBed.Port("nat1"), Token));

        Assert.Equal(VirtErrorKind.InvalidInput, error.ErrorKind);
        Assert.Contains("Ipv4Address: 192.0.3.10 is outside", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connect_puts_the_interface_on_the_bridge_with_its_vlan_alias_and_link_up()
    {
        var manager = await _bed.AppliedAsync(new VlanNetworkDefinition("v1") { DefaultVlan = 5 });
        await manager.PrepareAsync(NetworkTestBed.Port("v1") with { VlanTag = 30 }, Token);
        _bed.Links.AddHostLink("tap-web0", "tun");
        await _bed.Links.ApplyAsync([new Host.SetLinkUp("tap-web0", false)], Token);

        await manager.ConnectAsync("vm:web", "net0", Token);

        var links = _bed.Links.Describe();
        Assert.Contains("link tap-web0 tun mtu 1500 up True master vn-v1 alias virt:port:vm:web/net0", links, StringComparison.Ordinal);
        Assert.Contains("vlan tap-web0 30 True True", links, StringComparison.Ordinal);
        Assert.DoesNotContain("vlan tap-web0 5 ", links, StringComparison.Ordinal);
        Assert.True((await manager.PlanAsync("v1", Token)).IsEmpty);
    }

    [Fact]
    public async Task A_trunk_without_trunk_vlans_carries_each_tag_a_port_uses_tagged_from_its_connect_and_the_default_vlan_untagged()
    {
        _bed.Links.AddHostLink("eth1", "veth");
        var manager = await _bed.AppliedAsync(new VlanNetworkDefinition("v1") { Uplink = "eth1" });
        await ConnectTaggedPortsAsync(manager, ("net0", "tap-a", 10), ("net1", "tap-b", 10), ("net2", "tap-c", null));

        var links = _bed.Links.Describe();
        Assert.Contains("vlan eth1 10 False False", links, StringComparison.Ordinal);
        Assert.Contains("vlan eth1 1 True True", links, StringComparison.Ordinal); // the default VLAN stays the trunk's untagged one
        Assert.True((await manager.PlanAsync("v1", Token)).IsEmpty);
    }

    [Fact]
    public async Task A_trunk_vlan_whose_last_port_is_released_leaves_the_trunk_with_it_and_the_others_stay()
    {
        _bed.Links.AddHostLink("eth1", "veth");
        var manager = await _bed.AppliedAsync(new VlanNetworkDefinition("v1") { Uplink = "eth1" });
        await ConnectTaggedPortsAsync(manager, ("net0", "tap-a", 10), ("net1", "tap-b", 20), ("net2", "tap-c", 20));

        Assert.Contains("vlan eth1 20 False False", _bed.Links.Describe(), StringComparison.Ordinal);
        await manager.ReleaseAsync("vm:web", "net1", Token);
        Assert.True((await manager.PlanAsync("v1", Token)).IsEmpty); // tap-c still uses 20
        await manager.ReleaseAsync("vm:web", "net2", Token);

        var links = _bed.Links.Describe();
        Assert.DoesNotContain("vlan eth1 20 ", links, StringComparison.Ordinal);
        Assert.Contains("vlan eth1 10 False False", links, StringComparison.Ordinal);
        Assert.Contains("vlan eth1 1 True True", links, StringComparison.Ordinal);
        Assert.True((await manager.PlanAsync("v1", Token)).IsEmpty);
    }

    [Fact]
    public async Task A_vlan_taken_out_of_trunk_vlans_leaves_the_trunk()
    {
        _bed.Links.AddHostLink("eth1", "veth");
        var manager = await _bed.AppliedAsync(new VlanNetworkDefinition("v1") { Uplink = "eth1", TrunkVlans = [10, 20] });

        await manager.DefineAsync(new VlanNetworkDefinition("v1") { Uplink = "eth1", TrunkVlans = [10] }, Token);
        await manager.ApplyAsync("v1", Token);

        var links = _bed.Links.Describe();
        Assert.DoesNotContain("vlan eth1 20 ", links, StringComparison.Ordinal);
        Assert.Contains("vlan eth1 10 False False", links, StringComparison.Ordinal);
        Assert.Contains("vlan eth1 1 True True", links, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connect_before_the_interface_exists_names_it()
    {
        var manager = await _bed.AppliedAsync(NetworkTestBed.Nat());
        await manager.PrepareAsync(NetworkTestBed.Port("nat1"), Token);

        var error = await Assert.ThrowsAsync<NetworkException>(() => manager.ConnectAsync("vm:web", "net0", Token));

        Assert.Equal(VirtErrorKind.NotFound, error.ErrorKind);
        Assert.Contains("'tap-web0'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_connected_port_taken_off_its_bridge_is_drift_and_is_repaired()
    {
        var manager = await _bed.AppliedAsync(NetworkTestBed.Nat());
        await manager.PrepareAsync(NetworkTestBed.Port("nat1"), Token);
        _bed.Links.AddHostLink("tap-web0", "tun");
        await manager.ConnectAsync("vm:web", "net0", Token);
        await _bed.Links.ApplyAsync([new Host.SetMaster("tap-web0", null)], Token);

        Assert.Contains(await manager.CheckDriftAsync(Token), d => d is { Object: "link tap-web0", Expected: "master vn-nat1", Actual: "no master" });
        await manager.ApplyAsync("nat1", Token);

        Assert.Empty(await manager.CheckDriftAsync(Token));
    }

    [Fact]
    public async Task Release_removes_rules_reservation_record_and_the_sdks_interface()
    {
        var manager = await _bed.AppliedAsync(NetworkTestBed.Nat());
        await manager.PrepareAsync(NetworkTestBed.Port("nat1") with { Ipv4Address = "192.0.2.10" }, Token);
        await manager.PrepareAsync(NetworkTestBed.Port("nat1", nic: "net1", tap: "tap-web1") with { Ipv4Address = "192.0.2.11" }, Token);
        _bed.Links.AddHostLink("tap-web0", "tun");
        await manager.ConnectAsync("vm:web", "net0", Token);
        _bed.Links.AddHostLink("tap-web1", "tun", alias: "made by hand");

        await manager.ReleaseAsync("vm:web", cancellationToken: Token);

        Assert.Empty(_bed.Firewall.Current!.Ports);
        Assert.Empty(_bed.Dhcp.Running["nat1"].Hosts);
        Assert.Empty(await manager.ListPortsAsync("nat1", Token));
        Assert.DoesNotContain("tap-web0", _bed.Links.Describe(), StringComparison.Ordinal);
        Assert.Contains("tap-web1", _bed.Links.Describe(), StringComparison.Ordinal);
        await manager.ReleaseAsync("vm:web", cancellationToken: Token);
        await manager.DeleteAsync("nat1", Token);
    }

    [Fact]
    public async Task Release_of_one_nic_keeps_the_others()
    {
        var manager = await _bed.AppliedAsync(NetworkTestBed.Nat());
        await manager.PrepareAsync(NetworkTestBed.Port("nat1"), Token);
        await manager.PrepareAsync(NetworkTestBed.Port("nat1", nic: "net1", tap: "tap-web1"), Token);

        await manager.ReleaseAsync("vm:web", "net0", Token);

        Assert.Equal(["net1"], (await manager.ListPortsAsync("nat1", Token)).Select(p => p.Request.NicId));
        Assert.Equal(["net1"], _bed.Firewall.Current!.Ports.Select(p => p.NicId));
    }

    [Fact]
    public async Task A_failing_firewall_leaves_no_port_record()
    {
        var manager = await _bed.AppliedAsync(NetworkTestBed.Nat());
        _bed.Firewall.FailNextReplace = true;

        await Assert.ThrowsAsync<NetworkException>(() => manager.PrepareAsync(NetworkTestBed.Port("nat1"), Token));

        Assert.Empty(await manager.ListPortsAsync("nat1", Token));
        Assert.Empty(_bed.Firewall.Current!.Ports);
    }

    [Fact]
    public async Task Counters_are_those_of_the_networks_ports()
    {
        var manager = await _bed.AppliedAsync(NetworkTestBed.Nat(), NetworkTestBed.Nat("nat2") with { Ipv4 = new NetworkSubnet("198.51.100.0/24", "198.51.100.1") });
        await manager.PrepareAsync(NetworkTestBed.Port("nat1"), Token);
        await manager.PrepareAsync(NetworkTestBed.Port("nat2", owner: "ct:db", tap: "veth-db0"), Token);
        _bed.Firewall.Counters.AddRange([
            new FirewallRuleCounter("port:vm:web/net0", "0", 3, 180),
            new FirewallRuleCounter("group:web via port:vm:web/net0", "1", 1, 60),
            new FirewallRuleCounter("network:nat1", "masquerade", 9, 900),
            new FirewallRuleCounter("port:ct:db/net0", "default-in", 5, 300),
            new FirewallRuleCounter("group:web via port:ct:db/net0", "1", 5, 300),
            new FirewallRuleCounter("network:nat2", "masquerade", 5, 300),
        ]);

        var counters = await manager.GetFirewallCountersAsync("nat1", Token);

        Assert.Equal(["port:vm:web/net0#0", "group:web via port:vm:web/net0#1", "network:nat1#masquerade"], counters.Select(c => c.Scope + "#" + c.Handle));
    }

    [Fact]
    public async Task Leases_come_from_the_networks_dnsmasq()
    {
        var manager = await _bed.AppliedAsync(NetworkTestBed.Nat());
        _bed.Dhcp.Leases["nat1"] = [new DhcpLease("52:54:00:12:34:56", "192.0.2.150", "web", null)];

        var lease = Assert.Single(await manager.GetLeasesAsync("nat1", Token));

        Assert.Equal("192.0.2.150", lease.Address);
    }

    /// <summary>Prepares and connects one port of vm:web on network v1 per (NIC, tap, tag), each with its own MAC and a tap the host has.</summary>
    private async Task ConnectTaggedPortsAsync(Virt.Network.Manager.NetworkManager manager, params (string Nic, string Tap, int? Tag)[] ports)
    {
        foreach (var (nic, tap, tag) in ports)
        {
            await manager.PrepareAsync(NetworkTestBed.Port("v1") with { NicId = nic, HostInterface = tap, MacAddress = "52:54:00:00:00:0" + nic[^1], VlanTag = tag }, Token);
            _bed.Links.AddHostLink(tap, "tun");
            await manager.ConnectAsync("vm:web", nic, Token);
        }
    }
}
