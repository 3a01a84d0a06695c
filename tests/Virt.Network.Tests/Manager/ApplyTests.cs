using Virt.Network.Host;
using Virt.Network.Manager;
using Virt.Network.Tests.Manager.Fakes;
using Virt.Networking;

namespace Virt.Network.Tests.Manager;

public sealed class ApplyTests : IDisposable
{
    private readonly NetworkTestBed _bed = new();

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public static TheoryData<string> Kinds => ["isolated", "nat", "routed", "vlan", "vxlan"];

    public void Dispose() => _bed.Dispose();

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task Apply_then_plan_is_empty(string kind)
    {
        _bed.Links.AddHostLink("eth1", "veth");
        var definition = Definition(kind);
        var manager = await _bed.AppliedAsync(definition);

        var again = await manager.PlanAsync(definition.Name, Token);

        Assert.True(again.IsEmpty, string.Join('\n', again.Changes));
        var info = await manager.GetAsync(definition.Name, Token);
        Assert.True(info.Applied);
        Assert.Equal(0, info.PendingChanges);
    }

    [Fact]
    public async Task Reapplying_an_unchanged_network_writes_nothing()
    {
        var manager = await _bed.AppliedAsync(NetworkTestBed.Nat());
        var before = Snapshot();
        var replacements = _bed.Firewall.Replacements;
        var batches = _bed.Links.Batches.Count;

        var plan = await manager.ApplyAsync("nat1", Token);

        Assert.True(plan.IsEmpty);
        Assert.Equal(before, Snapshot());
        Assert.Equal(replacements, _bed.Firewall.Replacements);
        Assert.Equal(batches, _bed.Links.Batches.Count);
    }

    [Fact]
    public async Task Apply_puts_nat_firewall_and_dnsmasq_in_force()
    {
        await _bed.AppliedAsync(NetworkTestBed.Nat());

        var nat = Assert.Single(_bed.Firewall.Current!.Nat);
        Assert.Equal(("nat1", "vn-nat1", "192.0.2.0/24"), (nat.Network, nat.Bridge, nat.Subnet.ToString()));
        Assert.True(_bed.Dhcp.Running.ContainsKey("nat1"));
        Assert.Contains("addr vn-nat1 192.0.2.1/24", _bed.Links.Describe(), StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_bed.StateDirectory, "journal", "apply.json")));
        Assert.Equal(1, _bed.Sysctl.Values["/proc/sys/net/ipv4/ip_forward"]);
    }

    [Fact]
    public async Task Only_NAT_and_routed_networks_turn_IP_forwarding_on_and_an_IPv6_subnet_turns_on_IPv6_forwarding_too()
    {
        await _bed.AppliedAsync(new IsolatedNetworkDefinition("iso"));
        Assert.Empty(_bed.Sysctl.Values);

        await _bed.AppliedAsync(NetworkTestBed.Nat() with { Ipv6 = new NetworkSubnet("2001:db8:1::/64", "2001:db8:1::1") });

        Assert.Equal(1, _bed.Sysctl.Values["/proc/sys/net/ipv4/ip_forward"]);
        Assert.Equal(1, _bed.Sysctl.Values["/proc/sys/net/ipv6/conf/all/forwarding"]);
    }

    [Fact]
    public async Task A_kernel_error_half_way_rolls_everything_back_and_names_the_operation()
    {
        _bed.Links.AddHostLink("eth1", "veth");
        var manager = _bed.NewManager();
        var definition = new VxlanNetworkDefinition("ov", 42, "192.0.2.10") { Peers = ["192.0.2.11", "192.0.2.12"], Ipv4 = new NetworkSubnet("203.0.113.0/24", "203.0.113.1") };
        await manager.DefineAsync(definition, Token);
        var before = _bed.Links.Describe();
        _bed.Links.FailWhen = (op => op is AddFdbEntry { Destination: var d } && d.ToString() == "192.0.2.12", 22, "Invalid argument");

        var error = await Assert.ThrowsAsync<NetworkException>(() => manager.ApplyAsync("ov", Token));

        Assert.Equal(VirtErrorKind.InvalidInput, error.ErrorKind);
        Assert.Contains("RTM_NEWNEIGH fdb 00:00:00:00:00:00 dst 192.0.2.12 on vx-ov", error.Message, StringComparison.Ordinal);
        Assert.Contains("Invalid argument", error.Message, StringComparison.Ordinal);
        Assert.Contains("rolled back", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, _bed.Links.Describe());
        Assert.Null(_bed.Firewall.Current);
        Assert.False((await manager.GetAsync("ov", Token)).Applied);
        Assert.False(File.Exists(Path.Combine(_bed.StateDirectory, "journal", "apply.json")));
    }

    [Fact]
    public async Task A_dnsmasq_failure_rolls_back_links_and_the_firewall()
    {
        var manager = await _bed.AppliedAsync(new IsolatedNetworkDefinition("other"));
        var links = _bed.Links.Describe();
        var firewall = await _bed.Firewall.ReadFingerprintAsync(Token);
        await manager.DefineAsync(NetworkTestBed.Nat(), Token);
        _bed.Dhcp.FailNextEnsure = true;

        var error = await Assert.ThrowsAsync<NetworkException>(() => manager.ApplyAsync("nat1", Token));

        Assert.Contains("dnsmasq start for network 'nat1'", error.Message, StringComparison.Ordinal);
        Assert.Contains("Address already in use", error.Message, StringComparison.Ordinal);
        Assert.Equal(links, _bed.Links.Describe());
        Assert.True(_bed.Firewall.Current is null || _bed.Firewall.Current.IsEmpty);
        Assert.Equal(firewall ?? string.Empty, await _bed.Firewall.ReadFingerprintAsync(Token) ?? string.Empty);
    }

    [Fact]
    public async Task A_firewall_failure_rolls_back_the_links()
    {
        var manager = _bed.NewManager();
        await manager.DefineAsync(NetworkTestBed.Nat(), Token);
        _bed.Firewall.FailNextReplace = true;

        var error = await Assert.ThrowsAsync<NetworkException>(() => manager.ApplyAsync("nat1", Token));

        Assert.Contains("nftables replace of table inet virt", error.Message, StringComparison.Ordinal);
        Assert.Equal(string.Empty, _bed.Links.Describe());
        Assert.Empty(_bed.Dhcp.Running);
    }

    [Fact]
    public async Task A_journal_left_by_a_crash_is_rolled_forward_by_the_next_manager()
    {
        var crashing = _bed.NewManager();
        await crashing.DefineAsync(NetworkTestBed.Nat(), Token);
        crashing.CrashAfterLinkOperations = 1;
        await Assert.ThrowsAsync<NetworkManager.SimulatedCrashException>(() => crashing.ApplyAsync("nat1", Token));
        var journal = Path.Combine(_bed.StateDirectory, "journal", "apply.json");
        Assert.True(File.Exists(journal));
        Assert.Contains("\"Completed\": 1", await File.ReadAllTextAsync(journal, Token), StringComparison.Ordinal);
        Assert.Contains("link vn-nat1", _bed.Links.Describe(), StringComparison.Ordinal);
        Assert.DoesNotContain("addr vn-nat1", _bed.Links.Describe(), StringComparison.Ordinal);

        // The next change from any manager (here: defining another network) finishes the dead one's apply first.
        var next = _bed.NewManager();
        await next.DefineAsync(new IsolatedNetworkDefinition("lab"), Token);

        Assert.False(File.Exists(journal));
        Assert.Contains("addr vn-nat1 192.0.2.1/24", _bed.Links.Describe(), StringComparison.Ordinal);
        Assert.True(_bed.Dhcp.Running.ContainsKey("nat1"));
        Assert.True((await next.GetAsync("nat1", Token)).Applied);
        Assert.True((await next.PlanAsync("nat1", Token)).IsEmpty);
    }

    [Fact]
    public async Task A_crash_right_after_the_journal_is_recovered_too()
    {
        var crashing = _bed.NewManager();
        await crashing.DefineAsync(new IsolatedNetworkDefinition("lab"), Token);
        crashing.CrashAfterLinkOperations = 0;
        await Assert.ThrowsAsync<NetworkManager.SimulatedCrashException>(() => crashing.ApplyAsync("lab", Token));
        Assert.Equal(string.Empty, _bed.Links.Describe());

        await _bed.NewManager().ApplyAsync("lab", Token);

        Assert.Contains("link vn-lab bridge", _bed.Links.Describe(), StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_bed.StateDirectory, "journal", "apply.json")));
    }

    [Fact]
    public async Task A_delete_cut_short_by_a_crash_is_finished_by_the_next_manager()
    {
        var crashing = await _bed.AppliedAsync(NetworkTestBed.Nat());
        crashing.CrashAfterLinkOperations = 0;
        await Assert.ThrowsAsync<NetworkManager.SimulatedCrashException>(() => crashing.DeleteAsync("nat1", Token));
        Assert.Contains("vn-nat1", _bed.Links.Describe(), StringComparison.Ordinal);

        var next = _bed.NewManager();
        await next.DefineAsync(new IsolatedNetworkDefinition("lab"), Token);

        Assert.DoesNotContain("vn-nat1", _bed.Links.Describe(), StringComparison.Ordinal);
        Assert.Empty(_bed.Dhcp.Running);
        Assert.Equal(["lab"], (await next.ListAsync(Token)).Select(n => n.Definition.Name));
    }

    [Fact]
    public async Task A_port_prepare_cut_short_by_a_crash_has_its_rules_put_in_force_by_the_next_manager()
    {
        var crashing = await _bed.AppliedAsync(NetworkTestBed.Nat());
        crashing.CrashAfterLinkOperations = 0;
        await Assert.ThrowsAsync<NetworkManager.SimulatedCrashException>(() => crashing.PrepareAsync(NetworkTestBed.Port("nat1") with { Ipv4Address = "192.0.2.10" }, Token));
        Assert.Empty(_bed.Firewall.Current!.Ports);

        await _bed.NewManager().DefineAsync(new IsolatedNetworkDefinition("lab"), Token);

        Assert.Equal("vm:web", Assert.Single(_bed.Firewall.Current!.Ports).Owner);
        Assert.Contains(_bed.Dhcp.Running["nat1"].Hosts, h => h.Address == "192.0.2.10");
    }

    [Fact]
    public async Task Drift_is_reported_and_repaired()
    {
        var manager = await _bed.AppliedAsync(NetworkTestBed.Nat(), new VxlanNetworkDefinition("ov", 42, "192.0.2.10") { Peers = ["192.0.2.11"] });
        Assert.Empty(await manager.CheckDriftAsync(Token));
        _bed.Links.DeleteBehindTheSdksBack("vn-nat1");
        _bed.Links.SetMtuBehindTheSdksBack("vn-ov", 1500);
        _bed.Dhcp.Running.Clear();
        _bed.Firewall.ClearBehindTheSdksBack();

        var drift = await manager.CheckDriftAsync(Token);

        Assert.Contains(drift, d => d is { Network: "nat1", Object: "link vn-nat1", Actual: "missing" });
        Assert.Contains(drift, d => d is { Network: "nat1", Object: "address 192.0.2.1/24 on vn-nat1", Actual: "missing" });
        Assert.Contains(drift, d => d is { Network: "ov", Object: "link vn-ov", Expected: "mtu 1450", Actual: "mtu 1500" });
        Assert.Contains(drift, d => d is { Network: "nat1", Object: "dnsmasq for nat1", Actual: "not running" });
        Assert.Contains(drift, d => d is { Network: "*", Object: "table inet virt", Actual: "missing" });

        await manager.ApplyAsync("nat1", Token);
        await manager.ApplyAsync("ov", Token);

        Assert.Empty(await manager.CheckDriftAsync(Token));
    }

    [Fact]
    public async Task A_missing_fdb_entry_is_drift()
    {
        var manager = await _bed.AppliedAsync(new VxlanNetworkDefinition("ov", 42, "192.0.2.10") { Peers = ["192.0.2.11"] });
        await _bed.Links.ApplyAsync([new DeleteFdbEntry("vx-ov", "00:00:00:00:00:00", System.Net.IPAddress.Parse("192.0.2.11"))], Token);

        var drift = Assert.Single(await manager.CheckDriftAsync(Token));

        Assert.Equal(("ov", "fdb 00:00:00:00:00:00 dst 192.0.2.11 on vx-ov", "missing"), (drift.Network, drift.Object, drift.Actual));
    }

    [Fact]
    public async Task Changing_a_definition_plans_only_the_difference()
    {
        var manager = await _bed.AppliedAsync(new VxlanNetworkDefinition("ov", 42, "192.0.2.10") { Peers = ["192.0.2.11", "192.0.2.12"] });
        await manager.DefineAsync(new VxlanNetworkDefinition("ov", 42, "192.0.2.10") { Peers = ["192.0.2.12", "192.0.2.13"] }, Token);

        var changes = (await manager.ApplyAsync("ov", Token)).Changes.Select(c => c.ToString()).ToList();

        Assert.Equal(
            ["Netlink RTM_DELNEIGH fdb 00:00:00:00:00:00 dst 192.0.2.11 on vx-ov: delete", "Netlink RTM_NEWNEIGH fdb 00:00:00:00:00:00 dst 192.0.2.13 on vx-ov: append"],
            changes);
    }

    [Fact]
    public async Task Links_of_networks_no_longer_defined_are_deleted_and_others_never()
    {
        _bed.Links.AddHostLink("vn-gone", "bridge", alias: "virt:network:gone");
        _bed.Links.AddHostLink("br-host", "bridge", alias: "somebody else's");
        _bed.Links.AddHostLink("eth0", "veth");

        await _bed.AppliedAsync(new IsolatedNetworkDefinition("lab"));

        var links = _bed.Links.Describe();
        Assert.DoesNotContain("vn-gone", links, StringComparison.Ordinal);
        Assert.Contains("br-host", links, StringComparison.Ordinal);
        Assert.Contains("eth0", links, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Adopting_a_bridge_with_host_addresses_needs_consent_and_it_is_never_deleted()
    {
        _bed.Links.AddHostLink("br0", "bridge");
        _bed.Links.AddHostAddress("br0", "203.0.113.5/24");
        var manager = _bed.NewManager();
        var adopt = NetworkTestBed.Nat("home") with { BridgeName = "br0", AdoptExistingBridge = true };
        await manager.DefineAsync(adopt, Token);
        var before = _bed.Links.Describe();

        var refused = await Assert.ThrowsAsync<NetworkException>(() => manager.ApplyAsync("home", Token));

        Assert.Equal(VirtErrorKind.Refused, refused.ErrorKind);
        Assert.Contains("address 203.0.113.5/24", refused.Message, StringComparison.Ordinal);
        Assert.Contains("AllowBridgeWithHostAddresses", refused.Message, StringComparison.Ordinal);
        Assert.Equal(before, _bed.Links.Describe());

        await manager.DefineAsync(adopt with { AllowBridgeWithHostAddresses = true }, Token);
        await manager.ApplyAsync("home", Token);
        Assert.Contains("addr br0 192.0.2.1/24", _bed.Links.Describe(), StringComparison.Ordinal);
        Assert.True((await manager.PlanAsync("home", Token)).IsEmpty);

        await manager.DeleteAsync("home", Token);

        Assert.Equal(before, _bed.Links.Describe());
    }

    [Fact]
    public async Task Adopting_a_bridge_that_does_not_exist_names_it()
    {
        var manager = _bed.NewManager();
        await manager.DefineAsync(new IsolatedNetworkDefinition("lab") { BridgeName = "br9", AdoptExistingBridge = true }, Token);

        var error = await Assert.ThrowsAsync<NetworkException>(() => manager.PlanAsync("lab", Token));

        Assert.Equal(VirtErrorKind.NotFound, error.ErrorKind);
        Assert.Contains("'br9'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Delete_tears_the_network_down()
    {
        var manager = await _bed.AppliedAsync(NetworkTestBed.Nat(), new IsolatedNetworkDefinition("lab"));

        await manager.DeleteAsync("nat1", Token);

        Assert.DoesNotContain("vn-nat1", _bed.Links.Describe(), StringComparison.Ordinal);
        Assert.Contains("vn-lab", _bed.Links.Describe(), StringComparison.Ordinal);
        Assert.Empty(_bed.Dhcp.Running);
        Assert.Empty(_bed.Firewall.Current!.Nat);
        Assert.Equal(["lab"], (await manager.ListAsync(Token)).Select(n => n.Definition.Name));
    }

    [Fact]
    public async Task Delete_of_a_network_with_ports_is_a_conflict_naming_them()
    {
        var manager = await _bed.AppliedAsync(NetworkTestBed.Nat());
        await manager.PrepareAsync(NetworkTestBed.Port("nat1"), Token);

        var error = await Assert.ThrowsAsync<NetworkException>(() => manager.DeleteAsync("nat1", Token));

        Assert.Equal(VirtErrorKind.Conflict, error.ErrorKind);
        Assert.Contains("vm:web/net0", error.Message, StringComparison.Ordinal);
        Assert.Contains("vn-nat1", _bed.Links.Describe(), StringComparison.Ordinal);
    }

    private static NetworkDefinition Definition(string kind) => kind switch
    {
        "isolated" => new IsolatedNetworkDefinition("iso") { Mtu = 9000 },
        "nat" => NetworkTestBed.Nat() with { Ipv6 = new NetworkSubnet("2001:db8:1::/64", "2001:db8:1::1"), Firewall = new NetworkFirewall { DefaultIn = FirewallAction.Drop } },
        "routed" => new RoutedNetworkDefinition("r1", new NetworkSubnet("198.51.100.0/24", "198.51.100.1")) { Routes = [new NetworkRoute("203.0.113.0/24", "198.51.100.2")] },
        "vlan" => new VlanNetworkDefinition("v1") { Uplink = "eth1", TrunkVlans = [10, 20] },
        _ => new VxlanNetworkDefinition("ov", 42, "192.0.2.10") { Peers = ["192.0.2.11"], UnderlayInterface = "eth1", Ipv4 = new NetworkSubnet("203.0.113.0/24", "203.0.113.1") },
    };

    private string Snapshot() => string.Join('\n', Directory.EnumerateFiles(_bed.StateDirectory, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Select(f => $"{f} {File.GetLastWriteTimeUtc(f):O} {new FileInfo(f).Length}"));
}
