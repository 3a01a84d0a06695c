using Virt.Network.Tests.Manager.Fakes;
using Virt.Networking;

namespace Virt.Network.Tests.Manager;

public sealed class PlanTests : IDisposable
{
    private readonly NetworkTestBed _bed = new();

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public void Dispose() => _bed.Dispose();

    [Fact]
    public async Task Isolated_network_plans_its_bridge_only()
    {
        var manager = _bed.NewManager();
        await manager.DefineAsync(new IsolatedNetworkDefinition("lab"), Token);

        var plan = await manager.PlanAsync("lab", Token);

        Assert.Equal(
            ["Netlink RTM_NEWLINK link vn-lab: bridge, mtu default, vlan_filtering 0, alias 'virt:network:lab'", "Netlink RTM_NEWLINK link vn-lab: set up"],
            plan.Changes.Select(c => c.ToString()));
    }

    [Fact]
    public async Task Nat_network_plans_bridge_gateway_firewall_and_dnsmasq()
    {
        var manager = _bed.NewManager();
        await manager.DefineAsync(NetworkTestBed.Nat(), Token);

        var plan = await manager.PlanAsync("nat1", Token);

        Assert.Equal(["RTM_NEWLINK", "RTM_NEWLINK", "RTM_NEWADDR", "replace table", "start"], plan.Changes.Select(c => c.Operation));
        Assert.Equal("address 192.0.2.1/24 on vn-nat1", plan.Changes[2].Object);
        Assert.Equal(NetworkChangeLayer.Nftables, plan.Changes[3].Layer);
        Assert.Equal("table inet virt", plan.Changes[3].Object);
        Assert.Equal("2 commands", plan.Changes[3].Detail);
        Assert.Equal(NetworkChangeLayer.Dnsmasq, plan.Changes[4].Layer);
        Assert.Contains("range 192.0.2.100-192.0.2.199", plan.Changes[4].Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Routed_network_plans_routes_after_the_address()
    {
        var manager = _bed.NewManager();
        await manager.DefineAsync(new RoutedNetworkDefinition("r1", new NetworkSubnet("198.51.100.0/24", "198.51.100.1")) { Routes = [new NetworkRoute("203.0.113.0/24", "198.51.100.2")], Dhcp = false }, Token);

        var changes = (await manager.PlanAsync("r1", Token)).Changes;

        var address = changes.ToList().FindIndex(c => c.Operation == "RTM_NEWADDR");
        var route = changes.ToList().FindIndex(c => c.Operation == "RTM_NEWROUTE");
        Assert.True(address >= 0 && route > address);
        Assert.Equal("route 203.0.113.0/24: dev vn-r1 via 198.51.100.2", changes[route].Object + ": " + changes[route].Detail);
        Assert.DoesNotContain(changes, c => c.Layer == NetworkChangeLayer.Dnsmasq);
    }

    [Fact]
    public async Task Vlan_network_plans_a_filtering_bridge_and_its_trunk_uplink()
    {
        _bed.Links.AddHostLink("eth1", "veth");
        var manager = _bed.NewManager();
        await manager.DefineAsync(new VlanNetworkDefinition("v1") { Uplink = "eth1", TrunkVlans = [10, 20] }, Token);

        var changes = (await manager.PlanAsync("v1", Token)).Changes.Select(c => c.ToString()).ToList();

        Assert.Contains("Netlink RTM_NEWLINK link vn-v1: bridge, mtu default, vlan_filtering 1, alias 'virt:network:v1'", changes);
        Assert.Contains("Netlink RTM_NEWLINK link eth1: master vn-v1", changes);
        Assert.Contains("Netlink RTM_SETLINK vlan 10 on port eth1: add", changes);
        Assert.Contains("Netlink RTM_SETLINK vlan 20 on port eth1: add", changes);
        Assert.True(changes.FindIndex(c => c.Contains("master vn-v1", StringComparison.Ordinal)) < changes.FindIndex(c => c.Contains("vlan 10", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Vxlan_network_plans_device_on_the_bridge_with_one_fdb_entry_per_peer()
    {
        var manager = _bed.NewManager();
        await manager.DefineAsync(new VxlanNetworkDefinition("ov", 42, "192.0.2.10") { Peers = ["192.0.2.11", "192.0.2.12"], Ipv4 = new NetworkSubnet("203.0.113.0/24", "203.0.113.1") }, Token);

        var changes = (await manager.PlanAsync("ov", Token)).Changes.Select(c => c.ToString()).ToList();

        Assert.Equal(
            [
                "Netlink RTM_NEWLINK link vn-ov: bridge, mtu 1450, vlan_filtering 0, alias 'virt:network:ov'",
                "Netlink RTM_NEWLINK link vx-ov: vxlan id 42 local 192.0.2.10 dstport 4789 nolearning, mtu 1450, alias 'virt:network:ov'",
                "Netlink RTM_NEWLINK link vx-ov: master vn-ov",
                "Netlink RTM_NEWLINK link vn-ov: set up",
                "Netlink RTM_NEWLINK link vx-ov: set up",
                "Netlink RTM_NEWADDR address 203.0.113.1/24 on vn-ov: add",
                "Netlink RTM_NEWNEIGH fdb 00:00:00:00:00:00 dst 192.0.2.11 on vx-ov: append",
                "Netlink RTM_NEWNEIGH fdb 00:00:00:00:00:00 dst 192.0.2.12 on vx-ov: append",
            ],
            changes);
    }

    [Fact]
    public void Vxlan_device_name_fits_the_kernels_15_bytes()
    {
        Assert.Equal("vx-short", Planning.NetworkAddressing.VxlanDevice("short"));
        var long1 = Planning.NetworkAddressing.VxlanDevice("overlay-number-one");
        var long2 = Planning.NetworkAddressing.VxlanDevice("overlay-number-two");
        Assert.Equal(15, long1.Length);
        Assert.NotEqual(long1, long2);
        Assert.Equal(long1, Planning.NetworkAddressing.VxlanDevice("overlay-number-one"));
    }

    [Fact]
    public async Task Unknown_network_is_not_found_with_the_fix()
    {
        var error = await Assert.ThrowsAsync<NetworkException>(() => _bed.NewManager().PlanAsync("nope", Token));

        Assert.Equal(VirtErrorKind.NotFound, error.ErrorKind);
        Assert.Contains("'nope'", error.Message, StringComparison.Ordinal);
        Assert.Contains("DefineAsync", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_link_of_the_bridges_name_that_is_not_the_sdks_is_a_conflict()
    {
        _bed.Links.AddHostLink("vn-lab", "bridge");
        var manager = _bed.NewManager();
        await manager.DefineAsync(new IsolatedNetworkDefinition("lab"), Token);

        var error = await Assert.ThrowsAsync<NetworkException>(() => manager.ApplyAsync("lab", Token));

        Assert.Equal(VirtErrorKind.Conflict, error.ErrorKind);
        Assert.Contains("AdoptExistingBridge", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Invalid_definition_names_the_field_and_records_nothing()
    {
        _bed.Validation.DefinitionProblems.Add(("Ipv4.Gateway", "192.0.3.1 is outside 192.0.2.0/24"));
        var manager = _bed.NewManager();

        var error = await Assert.ThrowsAsync<NetworkException>(() => manager.DefineAsync(NetworkTestBed.Nat(), Token));

        Assert.Equal(VirtErrorKind.InvalidInput, error.ErrorKind);
        Assert.Contains("Ipv4.Gateway: 192.0.3.1 is outside", error.Message, StringComparison.Ordinal);
        Assert.Empty(await manager.ListAsync(Token));
    }

    [Fact]
    public async Task A_vxlan_definition_is_validated_with_its_underlays_mtu()
    {
        _bed.Links.AddHostLink("eth1", "veth", mtu: 1400);

        await _bed.NewManager().DefineAsync(new VxlanNetworkDefinition("ov", 42, "192.0.2.10") { UnderlayInterface = "eth1" }, Token);

        Assert.Equal([1400], _bed.Validation.UnderlayMtus);
    }

    [Theory]
    [InlineData("../etc")]
    [InlineData("a/b")]
    [InlineData("")]
    [InlineData("with space")]
    public async Task Names_that_are_not_one_path_component_are_refused(string name)
    {
        var error = await Assert.ThrowsAsync<NetworkException>(() => _bed.NewManager().DefineAsync(new IsolatedNetworkDefinition(name), Token));

        Assert.Equal(VirtErrorKind.InvalidInput, error.ErrorKind);
    }
}
