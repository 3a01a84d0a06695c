using Virt.Cluster.IntegrationTests.Infrastructure;
using Virt.Clustering;
using Virt.Kvm.Testing;
using Virt.VirtualMachines;

namespace Virt.Cluster.IntegrationTests;

/// <summary>The VM manager asks its node's cluster before a start: real QEMU with the test guest, real etcd.</summary>
[Collection(EtcdCollection.Name)]
public sealed class StartGateTests(EtcdCluster etcd)
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_clustered_VM_starts_only_on_its_owner_node_and_an_unclustered_one_anywhere()
    {
        ClusterGuests.Require();
        await using var lab = new ClusterLab(etcd);
        var (clusterA, clusterB) = (lab.Node("node-a"), lab.Node("node-b"));
        await clusterA.JoinAsync(cancellationToken: Token);
        await clusterB.JoinAsync(cancellationToken: Token);
        var vmsA = lab.VmManager("node-a", clusterA);
        var vmsB = lab.VmManager("node-b", clusterB);

        // The same VM defined on both hosts (as a shared definition would be); node-a owns it.
        var onA = await vmsA.CreateAsync(EmbeddedGuest.CreateSpec("web", memoryMiB: 128), Token);
        var onB = await vmsB.CreateAsync(EmbeddedGuest.CreateSpec("web", memoryMiB: 128), Token);
        await clusterA.ClaimAsync(ClusterGuestKind.VirtualMachine, "web", new GuestClaim(128L << 20), Token);

        var refused = await Assert.ThrowsAsync<ClusterException>(() => onB.StartAsync(Token));
        Assert.Equal(VirtErrorKind.Refused, refused.ErrorKind);
        Assert.Contains("node node-b may not start VirtualMachine web: node node-a owns it", refused.Message, StringComparison.Ordinal);
        var statusB = await onB.GetStatusAsync(Token);
        Assert.Equal((VmState.Stopped, (int?)null), (statusB.State, statusB.Pid));

        await onA.StartAsync(Token);
        Assert.Equal(VmState.Running, (await onA.GetStatusAsync(Token)).State);
        await onA.KillAsync(Token);

        // A VM that no node owns is not clustered: the gate lets it start on any node.
        var local = await vmsB.CreateAsync(EmbeddedGuest.CreateSpec("scratch", memoryMiB: 128), Token);
        await local.StartAsync(Token);
        Assert.Equal(VmState.Running, (await local.GetStatusAsync(Token)).State);
        await local.KillAsync(Token);

        // A node whose lease is gone (revoked here, as after a partition) starts nothing of the cluster's.
        using (var store = new Virt.Cluster.Store.EtcdStore(etcd.ClientUrls, TimeSpan.FromSeconds(5)))
        {
            var alive = await store.RangeAsync(new Virt.Cluster.Store.ClusterKeys(lab.Prefix).AliveOf("node-a"), prefix: false, Token);
            await store.RevokeLeaseAsync(alive.Kvs[0].Lease, Token);
        }

        var lost = await Assert.ThrowsAsync<ClusterException>(() => onA.StartAsync(Token));
        Assert.Equal(VirtErrorKind.Refused, lost.ErrorKind);
        Assert.Equal(VmState.Stopped, (await onA.GetStatusAsync(Token)).State);
    }
}
