using Virt.Cluster.IntegrationTests.Infrastructure;
using Virt.Cluster.Store;
using Virt.Clustering;

namespace Virt.Cluster.IntegrationTests;

[Collection(EtcdCollection.Name)]
public sealed class OwnershipTests(EtcdCluster etcd)
{
    private const ClusterGuestKind Vm = ClusterGuestKind.VirtualMachine;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_guest_has_one_owner_only_the_owner_passes_the_start_gate_and_a_transfer_moves_the_gate()
    {
        await using var lab = new ClusterLab(etcd);
        var (a, b, c) = (lab.Node("node-a"), lab.Node("node-b"), lab.Node("node-c"));
        foreach (var node in new[] { a, b, c })
        {
            await node.JoinAsync(cancellationToken: Token);
        }

        var owned = await a.ClaimAsync(Vm, "db", new GuestClaim(512L << 20, "databases"), Token);
        Assert.Equal("node-a", owned.Node);
        Assert.Equal(owned, await a.ClaimAsync(Vm, "db", new GuestClaim(512L << 20, "databases"), Token));
        var taken = await Assert.ThrowsAsync<ClusterException>(() => b.ClaimAsync(Vm, "db", new GuestClaim(512L << 20), Token));
        Assert.Equal(VirtErrorKind.Conflict, taken.ErrorKind);
        Assert.Contains("owned by node node-a", taken.Message, StringComparison.Ordinal);

        await a.EnsureMayStartAsync(Vm, "db", Token);
        var gate = await Assert.ThrowsAsync<ClusterException>(() => b.EnsureMayStartAsync(Vm, "db", Token));
        Assert.Equal(VirtErrorKind.Refused, gate.ErrorKind);
        Assert.Contains("node node-a owns it", gate.Message, StringComparison.Ordinal);
        var unowned = await Assert.ThrowsAsync<ClusterException>(() => a.EnsureMayStartAsync(Vm, "cache", Token));
        Assert.Contains("it has no owner", unowned.Message, StringComparison.Ordinal);

        // Only the owner hands over a guest of a live node.
        var notOwner = await Assert.ThrowsAsync<ClusterException>(() => c.TransferAsync(Vm, "db", "node-c", owned.Revision, Token));
        Assert.Equal(VirtErrorKind.Refused, notOwner.ErrorKind);
        Assert.Contains("owned by node node-a, which is alive", notOwner.Message, StringComparison.Ordinal);
        var moved = await a.TransferAsync(Vm, "db", "node-b", owned.Revision, Token);
        Assert.Equal(("node-b", 512L << 20, "databases"), (moved.Node, moved.MemoryBytes, moved.AntiAffinityGroup));
        await b.EnsureMayStartAsync(Vm, "db", Token);
        await Assert.ThrowsAsync<ClusterException>(() => a.EnsureMayStartAsync(Vm, "db", Token));

        var stale = await Assert.ThrowsAsync<ClusterConflictException>(() => c.TransferAsync(Vm, "db", "node-c", owned.Revision, Token));
        Assert.Equal(moved.Revision, stale.CurrentRevision);
        Assert.Contains("owner node-b", stale.Message, StringComparison.Ordinal);
        var nowhere = await Assert.ThrowsAsync<ClusterException>(() => c.TransferAsync(Vm, "db", "node-x", moved.Revision, Token));
        Assert.Equal(VirtErrorKind.NotFound, nowhere.ErrorKind);
        Assert.Equal("node-b", (await a.GetOwnerAsync(Vm, "db", Token))!.Node);

        await c.ClaimAsync(ClusterGuestKind.Container, "db", new GuestClaim(64L << 20), Token);
        Assert.Equal(
            [(ClusterGuestKind.VirtualMachine, "db", "node-b"), (ClusterGuestKind.Container, "db", "node-c")],
            (await a.ListGuestsAsync(Token)).Select(g => (g.Kind, g.Name, g.Node)).OrderBy(g => g.Node));
        await Assert.ThrowsAsync<ClusterException>(() => a.ReleaseAsync(Vm, "db", Token));
    }

    [Fact]
    public async Task A_node_whose_lease_is_gone_may_not_claim_or_start_and_says_why()
    {
        await using var lab = new ClusterLab(etcd);
        var a = lab.Node("node-a");
        await a.JoinAsync(cancellationToken: Token);
        await a.ClaimAsync(Vm, "web", new GuestClaim(128L << 20), Token);
        var notJoined = lab.Node("node-b");
        var refused = await Assert.ThrowsAsync<ClusterException>(() => notJoined.ClaimAsync(Vm, "api", new GuestClaim(1), Token));
        Assert.Contains("has not joined", refused.Message, StringComparison.Ordinal);

        // Someone revokes the node's lease in etcd (as an operator, or etcd itself after a partition).
        var leaseId = (await ReadAliveLeaseAsync(lab, "node-a"))!.Value;
        using (var store = new EtcdStore(etcd.ClientUrls, TimeSpan.FromSeconds(5)))
        {
            await store.RevokeLeaseAsync(leaseId, Token);
        }

        // Refused at once (the heartbeat went with the lease), and the process learns it lost the lease within a renewal.
        var gate = await Assert.ThrowsAsync<ClusterException>(() => a.EnsureMayStartAsync(Vm, "web", Token));
        Assert.Equal(VirtErrorKind.Refused, gate.ErrorKind);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (a.HoldsLease && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100, Token);
        }

        Assert.False(a.HoldsLease);
        var lost = await Assert.ThrowsAsync<ClusterException>(() => a.EnsureMayStartAsync(Vm, "web", Token));
        Assert.Contains("lost its lease", lost.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ClusterException>(() => a.ClaimAsync(Vm, "api", new GuestClaim(1), Token));

        // Joining again takes a new lease; the ownership stayed, so the gate opens again.
        await a.JoinAsync(cancellationToken: Token);
        Assert.NotEqual(leaseId, (await ReadAliveLeaseAsync(lab, "node-a"))!.Value);
        await a.EnsureMayStartAsync(Vm, "web", Token);
    }

    private async Task<long?> ReadAliveLeaseAsync(ClusterLab lab, string node)
    {
        using var store = new EtcdStore(etcd.ClientUrls, TimeSpan.FromSeconds(5));
        var response = await store.RangeAsync(new ClusterKeys(lab.Prefix).AliveOf(node), prefix: false, Token);
        return response.Kvs.FirstOrDefault()?.Lease;
    }
}
