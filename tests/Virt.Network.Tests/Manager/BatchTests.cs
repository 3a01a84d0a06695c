using Virt.Network.Tests.Manager.Fakes;
using Virt.Networking;

namespace Virt.Network.Tests.Manager;

/// <summary>Many ports in one change (PrepareManyAsync, ConnectManyAsync), the check before a start, and every network applied at once.</summary>
public sealed class BatchTests : IDisposable
{
    private readonly NetworkTestBed _bed = new();

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public void Dispose() => _bed.Dispose();

    [Fact]
    public async Task Prepare_many_puts_every_ports_rules_and_reservations_in_force_in_one_firewall_replace()
    {
        var manager = await _bed.AppliedAsync(NetworkTestBed.Nat("a"), NetworkTestBed.Nat("b") with { Ipv4 = new NetworkSubnet("198.51.100.0/24", "198.51.100.1") });
        var replacesBefore = _bed.Firewall.Replacements;

        var ports = await manager.PrepareManyAsync(
            [
                Port("a", "vm:one", "tap-one", "52:54:00:00:00:01") with { Ipv4Address = "192.0.2.10" },
                Port("b", "vm:two", "tap-two", "52:54:00:00:00:02") with { Ipv4Address = "198.51.100.10" },
                Port("a", "ct:three", "veth-three", "52:54:00:00:00:03"),
            ],
            Token);

        Assert.Equal(["vm:one", "vm:two", "ct:three"], ports.Select(p => p.Request.Owner));
        Assert.Equal(["192.0.2.10/24", "198.51.100.10/24", null], ports.Select(p => p.Ipv4Address));
        Assert.Equal(replacesBefore + 1, _bed.Firewall.Replacements);
        Assert.Equal(["ct:three", "vm:one", "vm:two"], _bed.Firewall.Current!.Ports.Select(p => p.Owner).Order(StringComparer.Ordinal));
        Assert.Contains(_bed.Dhcp.Running["a"].Hosts, h => h.Address == "192.0.2.10");
        Assert.Contains(_bed.Dhcp.Running["b"].Hosts, h => h.Address == "198.51.100.10");
        Assert.Equal(2, (await manager.ListPortsAsync("a", Token)).Count);
        Assert.False(File.Exists(Path.Combine(_bed.StateDirectory, "journal", "apply.json")));
    }

    [Fact]
    public async Task Prepare_many_with_one_refused_request_prepares_none_and_names_the_refused_port()
    {
        var manager = await _bed.AppliedAsync(NetworkTestBed.Nat("a"));
        var replacesBefore = _bed.Firewall.Replacements;

        var error = await Assert.ThrowsAsync<NetworkException>(() => manager.PrepareManyAsync(
            [Port("a", "vm:one", "tap-one", "52:54:00:00:00:01"), Port("nowhere", "vm:two", "tap-two", "52:54:00:00:00:02")],
            Token));

        Assert.Equal(VirtErrorKind.NotFound, error.ErrorKind);
        Assert.Contains("network 'nowhere'", error.Message, StringComparison.Ordinal);
        Assert.Empty(await manager.ListPortsAsync("a", Token));
        Assert.Equal(replacesBefore, _bed.Firewall.Replacements);
    }

    [Fact]
    public async Task Prepare_many_naming_a_port_twice_is_refused_before_anything_is_read()
    {
        var manager = await _bed.AppliedAsync(NetworkTestBed.Nat("a"));

        var error = await Assert.ThrowsAsync<NetworkException>(() => manager.PrepareManyAsync(
            [Port("a", "vm:one", "tap-one", "52:54:00:00:00:01"), Port("a", "vm:one", "tap-one", "52:54:00:00:00:01")],
            Token));

        Assert.Equal(VirtErrorKind.InvalidInput, error.ErrorKind);
        Assert.Contains("requests[1]: port vm:one/net0 is named twice", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_failing_firewall_leaves_the_ports_of_a_batch_as_they_were()
    {
        var manager = await _bed.AppliedAsync(NetworkTestBed.Nat("a"));
        await manager.PrepareAsync(Port("a", "vm:one", "tap-one", "52:54:00:00:00:01") with { Ipv4Address = "192.0.2.10" }, Token);
        _bed.Firewall.FailNextReplace = true;

        await Assert.ThrowsAsync<NetworkException>(() => manager.PrepareManyAsync(
            [Port("a", "vm:one", "tap-one", "52:54:00:00:00:01") with { Ipv4Address = "192.0.2.20" }, Port("a", "vm:two", "tap-two", "52:54:00:00:00:02")],
            Token));

        var left = Assert.Single(await manager.ListPortsAsync("a", Token));
        Assert.Equal(("vm:one", "192.0.2.10/24"), (left.Request.Owner, left.Ipv4Address));
        Assert.Equal(["vm:one"], _bed.Firewall.Current!.Ports.Select(p => p.Owner));
    }

    [Fact]
    public async Task Connect_many_puts_every_interface_on_its_bridge_in_one_link_batch()
    {
        var manager = await _bed.AppliedAsync(NetworkTestBed.Nat("a"), NetworkTestBed.Nat("b") with { Ipv4 = new NetworkSubnet("198.51.100.0/24", "198.51.100.1") });
        await manager.PrepareManyAsync([Port("a", "vm:one", "tap-one", "52:54:00:00:00:01"), Port("b", "vm:two", "tap-two", "52:54:00:00:00:02")], Token);
        _bed.Links.AddHostLink("tap-one", "tun");
        _bed.Links.AddHostLink("tap-two", "tun");
        var batchesBefore = _bed.Links.Batches.Count;

        await manager.ConnectManyAsync([new NetworkPortId("vm:one", "net0"), new NetworkPortId("vm:two", "net0")], Token);

        Assert.Equal(batchesBefore + 1, _bed.Links.Batches.Count);
        var links = _bed.Links.Describe();
        Assert.Contains("link tap-one tun mtu 1500 up True master vn-a alias virt:port:vm:one/net0", links, StringComparison.Ordinal);
        Assert.Contains("link tap-two tun mtu 1500 up True master vn-b alias virt:port:vm:two/net0", links, StringComparison.Ordinal);
        Assert.All(await manager.ApplyAllAsync(Token), plan => Assert.True(plan.IsEmpty));
    }

    [Fact]
    public async Task Connect_many_with_a_missing_interface_names_it_and_connects_none()
    {
        var manager = await _bed.AppliedAsync(NetworkTestBed.Nat("a"));
        await manager.PrepareManyAsync([Port("a", "vm:one", "tap-one", "52:54:00:00:00:01"), Port("a", "vm:two", "tap-two", "52:54:00:00:00:02")], Token);
        _bed.Links.AddHostLink("tap-one", "tun");

        var missing = await Assert.ThrowsAsync<NetworkException>(() => manager.ConnectManyAsync([new NetworkPortId("vm:one", "net0"), new NetworkPortId("vm:two", "net0")], Token));
        var unknown = await Assert.ThrowsAsync<NetworkException>(() => manager.ConnectManyAsync([new NetworkPortId("vm:one", "net0"), new NetworkPortId("vm:three", "net0")], Token));

        Assert.Equal((VirtErrorKind.NotFound, VirtErrorKind.NotFound), (missing.ErrorKind, unknown.ErrorKind));
        Assert.Contains("vm:two/net0 (tap-two)", missing.Message, StringComparison.Ordinal);
        Assert.Contains("ports vm:three/net0 are not prepared", unknown.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("master vn-a", _bed.Links.Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_crash_in_the_middle_of_a_batch_connect_is_finished_by_the_next_manager()
    {
        var crashing = await _bed.AppliedAsync(NetworkTestBed.Nat("a"), NetworkTestBed.Nat("b") with { Ipv4 = new NetworkSubnet("198.51.100.0/24", "198.51.100.1") });
        await crashing.PrepareManyAsync([Port("a", "vm:one", "tap-one", "52:54:00:00:00:01"), Port("b", "vm:two", "tap-two", "52:54:00:00:00:02")], Token);
        _bed.Links.AddHostLink("tap-one", "tun");
        _bed.Links.AddHostLink("tap-two", "tun");
        crashing.CrashAfterLinkOperations = 1;

        await Assert.ThrowsAnyAsync<Exception>(() => crashing.ConnectManyAsync([new NetworkPortId("vm:one", "net0"), new NetworkPortId("vm:two", "net0")], Token));
        var plans = await _bed.NewManager().ApplyAllAsync(Token);

        Assert.Equal(["a", "b"], plans.Select(p => p.Network));
        var links = _bed.Links.Describe();
        Assert.Contains("link tap-one tun mtu 1500 up True master vn-a", links, StringComparison.Ordinal);
        Assert.Contains("link tap-two tun mtu 1500 up True master vn-b", links, StringComparison.Ordinal);
        Assert.Empty(await _bed.NewManager().CheckDriftAsync(Token));
    }

    [Fact]
    public async Task Apply_all_applies_every_definition_then_answers_the_unchanged_host_from_one_read_without_changing_it()
    {
        var manager = _bed.NewManager();
        await manager.DefineAsync(NetworkTestBed.Nat("a"), Token);
        await manager.DefineAsync(NetworkTestBed.Nat("b") with { Ipv4 = new NetworkSubnet("198.51.100.0/24", "198.51.100.1") }, Token);

        var first = await manager.ApplyAllAsync(Token);
        var (reads, replaces, batches) = (_bed.Links.ReadCount, _bed.Firewall.Replacements, _bed.Links.Batches.Count);
        var holderNote = Path.Combine(_bed.StateDirectory, "network.holder");
        var noteBefore = File.Exists(holderNote) ? await File.ReadAllTextAsync(holderNote, Token) : null;
        var again = await _bed.NewManager().ApplyAllAsync(Token);

        Assert.Equal(["a", "b"], first.Select(p => p.Network));
        Assert.All(first, plan => Assert.False(plan.IsEmpty));
        Assert.Equal(["a", "b"], again.Select(p => p.Network));
        Assert.All(again, plan => Assert.True(plan.IsEmpty));
        Assert.Equal((reads + 1, replaces, batches), (_bed.Links.ReadCount, _bed.Firewall.Replacements, _bed.Links.Batches.Count));
        Assert.Equal(noteBefore, File.Exists(holderNote) ? await File.ReadAllTextAsync(holderNote, Token) : null); // the lock was not taken
    }

    [Fact]
    public async Task Apply_all_repairs_what_drifted_in_any_network()
    {
        var manager = await _bed.AppliedAsync(NetworkTestBed.Nat("a"), NetworkTestBed.Nat("b") with { Ipv4 = new NetworkSubnet("198.51.100.0/24", "198.51.100.1") });
        _bed.Links.DeleteBehindTheSdksBack("vn-b");
        _bed.Firewall.ClearBehindTheSdksBack();

        var plans = await manager.ApplyAllAsync(Token);

        Assert.Contains(plans, plan => plan.Network == "b" && plan.Changes.Any(c => c.Object.Contains("vn-b", StringComparison.Ordinal)));
        Assert.Empty(await manager.CheckDriftAsync(Token));
    }

    [Fact]
    public async Task Check_refuses_what_prepare_would_and_records_nothing()
    {
        var manager = await _bed.AppliedAsync(NetworkTestBed.Nat("a"));

        var unknown = await Assert.ThrowsAsync<NetworkException>(() => manager.CheckAsync(Port("nowhere", "vm:one", "tap-one", "52:54:00:00:00:01"), Token));
        _bed.Validation.PortProblems.Add(("VlanTag", "VlanTag 5000 is outside 1-4094"));
        var invalid = await Assert.ThrowsAsync<NetworkException>(() => manager.CheckAsync(Port("a", "vm:one", "tap-one", "52:54:00:00:00:01"), Token));
        _bed.Validation.PortProblems.Clear();
        await manager.CheckAsync(Port("a", "vm:one", "tap-one", "52:54:00:00:00:01"), Token);

        Assert.Equal((VirtErrorKind.NotFound, VirtErrorKind.InvalidInput), (unknown.ErrorKind, invalid.ErrorKind));
        Assert.Contains("VlanTag: VlanTag 5000 is outside 1-4094", invalid.Message, StringComparison.Ordinal);
        Assert.Empty(await manager.ListPortsAsync("a", Token));
        Assert.Empty(_bed.Firewall.Current!.Ports);
    }

    private static NetworkPortRequest Port(string network, string owner, string tap, string mac) =>
        new(network, owner, "net0", tap, NetworkPortKind.Tap, mac);
}
