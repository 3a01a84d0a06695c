using Virt.Cluster.IntegrationTests.Infrastructure;
using Virt.Clustering;

namespace Virt.Cluster.IntegrationTests;

[Collection(EtcdCollection.Name)]
public sealed class MembershipTests(EtcdCluster etcd)
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Three_nodes_join_and_every_node_sees_all_three_online_with_what_they_offer()
    {
        await using var lab = new ClusterLab(etcd);
        var a = lab.Node("node-a", ClusterLab.Capacity(freeMib: 1000, networks: ["lan", "dmz"]));
        var b = lab.Node("node-b", ClusterLab.Capacity(freeMib: 2000));
        var c = lab.Node("node-c", ClusterLab.Capacity(freeMib: 3000));
        foreach (var node in new[] { a, b, c })
        {
            var joined = await node.JoinAsync(cancellationToken: Token);
            Assert.Equal(ClusterNodeState.Online, joined.State);
            Assert.True(node.HoldsLease);
        }

        foreach (var viewer in new[] { a, b, c })
        {
            var nodes = await viewer.ListNodesAsync(Token);
            Assert.Equal(["node-a", "node-b", "node-c"], nodes.Select(n => n.Name));
            Assert.All(nodes, n => Assert.Equal(ClusterNodeState.Online, n.State));
            Assert.All(nodes, n => Assert.InRange(n.LeaseRemaining!.Value, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(6)));
            Assert.Equal(["dmz", "lan"], nodes[0].Capacity!.Networks.Order());
            Assert.Equal(3000L << 20, nodes[2].Capacity!.FreeMemoryBytes);
        }

        // The leases are renewed: after two TTLs the nodes are still online.
        await Task.Delay(TimeSpan.FromSeconds(12), Token);
        Assert.All(await a.ListNodesAsync(Token), n => Assert.Equal(ClusterNodeState.Online, n.State));
    }

    [Fact]
    public async Task A_second_host_under_a_name_in_use_is_refused_naming_the_holder_and_nothing_changes()
    {
        await using var lab = new ClusterLab(etcd);
        var first = lab.Node("node-a");
        await first.JoinAsync(cancellationToken: Token);

        // A process of that name that never joined may not take the node out of the cluster either.
        var bystander = lab.Node("node-a");
        var notJoined = await Assert.ThrowsAsync<ClusterException>(() => bystander.LeaveAsync(Token));
        Assert.Contains("has not joined", notJoined.Message, StringComparison.Ordinal);
        var impostor = lab.Node("node-a", stateDirectory: Path.Combine(lab.Root, "other-host"));

        var refused = await Assert.ThrowsAsync<ClusterException>(() => impostor.JoinAsync(cancellationToken: Token));

        Assert.Equal(VirtErrorKind.Conflict, refused.ErrorKind);
        Assert.Contains("node name 'node-a' is taken", refused.Message, StringComparison.Ordinal);
        Assert.Contains("holds its lease", refused.Message, StringComparison.Ordinal);
        Assert.False(impostor.HoldsLease);
        Assert.True(first.HoldsLease);
        Assert.Equal(ClusterNodeState.Online, (await impostor.GetNodeAsync("node-a", Token)).State);
    }

    [Fact]
    public async Task Two_processes_of_one_node_share_its_lease_and_the_node_stays_online_when_one_stops()
    {
        await using var lab = new ClusterLab(etcd);
        var directory = Path.Combine(lab.Root, "host-a");
        var panel = lab.Node("node-a", stateDirectory: directory);
        var cli = lab.Node("node-a", stateDirectory: directory);
        await Task.WhenAll(panel.JoinAsync(cancellationToken: Token), cli.JoinAsync(cancellationToken: Token));
        Assert.True(panel.HoldsLease);
        Assert.True(cli.HoldsLease);

        // Either process may start the node's guests: both pass the gate.
        await panel.ClaimAsync(ClusterGuestKind.VirtualMachine, "vm1", new GuestClaim(256L << 20), Token);
        await cli.EnsureMayStartAsync(ClusterGuestKind.VirtualMachine, "vm1", Token);
        await panel.EnsureMayStartAsync(ClusterGuestKind.VirtualMachine, "vm1", Token);

        await panel.DisposeAsync();
        await Task.Delay(TimeSpan.FromSeconds(8), Token);
        Assert.Equal(ClusterNodeState.Online, (await cli.GetNodeAsync("node-a", Token)).State);
        await cli.EnsureMayStartAsync(ClusterGuestKind.VirtualMachine, "vm1", Token);
    }

    [Fact]
    public async Task A_node_that_stops_renewing_is_seen_dead_by_a_watcher_and_a_dead_node_can_be_removed()
    {
        await using var lab = new ClusterLab(etcd);
        var (watcher, doomed) = (lab.Node("node-a"), lab.Node("node-b"));
        await watcher.JoinAsync(cancellationToken: Token);
        await doomed.JoinAsync(cancellationToken: Token);
        var guest = await doomed.ClaimAsync(ClusterGuestKind.VirtualMachine, "orphan", new GuestClaim(64L << 20), Token);
        using var watching = CancellationTokenSource.CreateLinkedTokenSource(Token);
        watching.CancelAfter(TimeSpan.FromSeconds(60));
        var afterStop = new List<ClusterNodeState>();
        var removal = await Assert.ThrowsAsync<ClusterException>(() => watcher.RemoveNodeAsync("node-b", Token));
        Assert.Contains("it owns VirtualMachine orphan", removal.Message, StringComparison.Ordinal);

        // While node-b lives, its guest cannot be taken from it.
        var taken = await Assert.ThrowsAsync<ClusterException>(() => watcher.TransferAsync(ClusterGuestKind.VirtualMachine, "orphan", "node-a", guest.Revision, Token));
        Assert.Contains("owned by node node-b, which is alive", taken.Message, StringComparison.Ordinal);

        var stopped = false;
        await foreach (var change in watcher.WatchAsync(watching.Token))
        {
            if (change is ClusterNodeChanged { Name: "node-b", Node: { } node })
            {
                if (!stopped)
                {
                    // The process stops without leaving: its lease is not revoked and runs out.
                    Assert.NotEqual(ClusterNodeState.Dead, node.State);
                    await doomed.DisposeAsync();
                    stopped = true;
                    continue;
                }

                afterStop.Add(node.State);
                if (node.State == ClusterNodeState.Dead)
                {
                    break;
                }
            }
        }

        // Heartbeats stopped: the node never came back online (suspect on the way by the watcher's clock, then dead).
        Assert.Equal(ClusterNodeState.Dead, afterStop[^1]);
        Assert.DoesNotContain(ClusterNodeState.Online, afterStop);
        Assert.Equal(ClusterNodeState.Dead, (await watcher.GetNodeAsync("node-b", Token)).State);

        // A dead owner's guest can be taken (what HA does after fencing); then the dead node can be removed.
        var recovered = await watcher.TransferAsync(ClusterGuestKind.VirtualMachine, "orphan", "node-a", guest.Revision, Token);
        Assert.Equal("node-a", recovered.Node);

        // The dead node's name is not free until it is removed; then another host may take it.
        var newcomer = lab.Node("node-b", stateDirectory: Path.Combine(lab.Root, "replacement"));
        var refused = await Assert.ThrowsAsync<ClusterException>(() => newcomer.JoinAsync(cancellationToken: Token));
        Assert.Contains("now dead", refused.Message, StringComparison.Ordinal);
        await watcher.RemoveNodeAsync("node-b", Token);
        Assert.Equal(ClusterNodeState.Online, (await newcomer.JoinAsync(cancellationToken: Token)).State);
    }

    [Fact]
    public async Task Maintenance_is_seen_by_every_node_and_unknown_nodes_are_named_errors()
    {
        await using var lab = new ClusterLab(etcd);
        var (a, b) = (lab.Node("node-a"), lab.Node("node-b"));
        await a.JoinAsync(cancellationToken: Token);
        await b.JoinAsync(cancellationToken: Token);

        await a.SetMaintenanceAsync("node-b", true, Token);
        var seen = await b.GetNodeAsync("node-b", Token);
        Assert.Equal(ClusterNodeState.Maintenance, seen.State);
        Assert.True(seen.Maintenance);
        await b.SetMaintenanceAsync("node-b", false, Token);
        Assert.Equal(ClusterNodeState.Online, (await a.GetNodeAsync("node-b", Token)).State);

        var unknown = await Assert.ThrowsAsync<ClusterException>(() => a.SetMaintenanceAsync("node-x", true, Token));
        Assert.Equal(VirtErrorKind.NotFound, unknown.ErrorKind);
        Assert.Contains("node-a, node-b", unknown.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ArgumentException>(() => a.GetNodeAsync("../etc", Token));
    }

    [Fact]
    public async Task A_node_publishes_its_values_at_join_and_new_ones_when_it_joins_again()
    {
        await using var lab = new ClusterLab(etcd);
        var state = Path.Combine(lab.Root, "node-v");
        var first = lab.Node("node-v", stateDirectory: state, nodeValues: new Dictionary<string, string> { ["underlay"] = "203.0.113.1" });
        await first.JoinAsync(cancellationToken: Token);
        Assert.Equal("203.0.113.1", (await first.GetNodeAsync("node-v", Token)).Values["underlay"]);
        await first.DisposeAsync();

        // The same host (its state directory) back with another address: the member record takes it, keeping its identity.
        var again = lab.Node("node-v", stateDirectory: state, nodeValues: new Dictionary<string, string> { ["underlay"] = "203.0.113.9", ["uplink"] = "eth1" });
        await again.JoinAsync(cancellationToken: Token);
        var node = await again.GetNodeAsync("node-v", Token);
        Assert.Equal(("203.0.113.9", "eth1"), (node.Values["underlay"], node.Values["uplink"]));
        await again.LeaveAsync(Token);
    }

    [Fact]
    public async Task Leave_and_remove_write_only_if_no_ownership_changed_after_their_check()
    {
        // What Leave and Remove add to their transaction, on real etcd: nothing under the owners' prefix changed since the
        // revision their check read (an empty prefix passes, a claim or a transfer after the read fails it).
        await using var lab = new ClusterLab(etcd);
        var keys = new Virt.Cluster.Store.ClusterKeys(lab.Prefix);
        using var store = new Virt.Cluster.Store.EtcdStore(etcd.ClientUrls, TimeSpan.FromSeconds(5));
        async Task<bool> SucceedsAsync(long revision)
        {
            var request = new Etcdserverpb.TxnRequest();
            request.Compare.Add(Virt.Cluster.Store.EtcdCompare.NoneChangedSince(keys.Owners, revision));
            return (await store.TxnAsync(request, "compare the owners", Token)).Succeeded;
        }

        var empty = (await store.RangeAsync(keys.Owners, prefix: true, Token)).Header.Revision;
        Assert.True(await SucceedsAsync(empty));

        var a = lab.Node("node-a");
        await a.JoinAsync(cancellationToken: Token);
        await a.ClaimAsync(ClusterGuestKind.Container, "ct1", new GuestClaim(64L << 20), Token);
        var read = (await store.RangeAsync(keys.Owners, prefix: true, Token)).Header.Revision;
        Assert.True(await SucceedsAsync(read));
        Assert.False(await SucceedsAsync(empty));

        await a.ClaimAsync(ClusterGuestKind.Container, "ct2", new GuestClaim(64L << 20), Token);
        Assert.False(await SucceedsAsync(read));
        await a.ReleaseAsync(ClusterGuestKind.Container, "ct1", Token);
        await a.ReleaseAsync(ClusterGuestKind.Container, "ct2", Token);
        await a.LeaveAsync(Token);
    }

    [Fact]
    public async Task A_node_that_owns_a_guest_cannot_leave_and_one_that_owns_none_leaves_for_good()
    {
        await using var lab = new ClusterLab(etcd);
        var (a, b) = (lab.Node("node-a"), lab.Node("node-b"));
        await a.JoinAsync(cancellationToken: Token);
        await b.JoinAsync(cancellationToken: Token);
        await b.ClaimAsync(ClusterGuestKind.Container, "ct1", new GuestClaim(64L << 20), Token);

        var refused = await Assert.ThrowsAsync<ClusterException>(() => b.LeaveAsync(Token));
        Assert.Contains("Container ct1", refused.Message, StringComparison.Ordinal);
        Assert.True(b.HoldsLease);

        await b.ReleaseAsync(ClusterGuestKind.Container, "ct1", Token);
        await b.LeaveAsync(Token);
        Assert.False(b.HoldsLease);
        Assert.Equal(["node-a"], (await a.ListNodesAsync(Token)).Select(n => n.Name));
    }
}
