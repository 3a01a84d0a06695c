using System.Diagnostics;
using Virt.Cluster.IntegrationTests.Infrastructure;
using Virt.Clustering;

namespace Virt.Cluster.IntegrationTests;

/// <summary>Takes etcd members down, so it has an etcd cluster of its own (not the shared one).</summary>
[Collection(EtcdQuorumCollection.Name)]
public sealed class QuorumTests(EtcdCluster etcd)
{
    private const ClusterGuestKind Vm = ClusterGuestKind.VirtualMachine;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Losing_one_etcd_member_changes_nothing_losing_two_refuses_every_start_with_a_clear_error_and_the_quorum_coming_back_heals()
    {
        await using var lab = new ClusterLab(etcd, leaseTtl: TimeSpan.FromSeconds(6));
        var a = lab.Node("node-a", operationTimeout: TimeSpan.FromSeconds(5));
        var b = lab.Node("node-b", operationTimeout: TimeSpan.FromSeconds(5));
        await a.JoinAsync(cancellationToken: Token);
        await b.JoinAsync(cancellationToken: Token);
        await a.ClaimAsync(Vm, "web", new GuestClaim(128L << 20), Token);
        try
        {
            await etcd.StopMemberAsync(0);

            // A write sent while the survivors have not yet noticed a dead leader waits for etcd's own request timeout
            // (about 7 s) and fails: wait until they have a leader again (about 2 s here), as a caller retrying would.
            await etcd.WaitHealthyAsync();

            // One member down: reads, compare-and-swap writes, claims and the start gate go on, and the leases are renewed.
            var written = await b.PutDefinitionAsync(ClusterDefinitionKind.Network, "lan", "{}", 0, Token);
            Assert.Equal(written, await a.GetDefinitionAsync(ClusterDefinitionKind.Network, "lan", Token));
            await b.ClaimAsync(Vm, "api", new GuestClaim(128L << 20), Token);
            await a.EnsureMayStartAsync(Vm, "web", Token);
            await Task.Delay(TimeSpan.FromSeconds(7), Token);
            Assert.All(await a.ListNodesAsync(Token), n => Assert.Equal(ClusterNodeState.Online, n.State));
            Assert.True(a.HoldsLease);

            await etcd.StopMemberAsync(1);

            // Two down: no quorum. Every call fails within its deadline, naming etcd and the fix; no start passes the gate.
            var clock = Stopwatch.StartNew();
            var unavailable = await Assert.ThrowsAsync<ClusterUnavailableException>(() => a.EnsureMayStartAsync(Vm, "web", Token));
            Assert.InRange(clock.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(30));
            Assert.Equal(VirtErrorKind.Unavailable, unavailable.ErrorKind);
            Assert.Contains("check that node node-a may start VirtualMachine web", unavailable.Message, StringComparison.Ordinal);
            Assert.Contains("a majority of the etcd members", unavailable.Message, StringComparison.Ordinal);
            await Assert.ThrowsAsync<ClusterUnavailableException>(() => b.PutDefinitionAsync(ClusterDefinitionKind.Network, "lan", "{}", written.Revision, Token));

            // The nodes cannot renew: within the lease they count themselves out, and from then on refuse before asking etcd.
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while ((a.HoldsLease || b.HoldsLease) && DateTime.UtcNow < deadline)
            {
                await Task.Delay(100, Token);
            }

            Assert.False(a.HoldsLease);
            Assert.False(b.HoldsLease);
            var lost = await Assert.ThrowsAsync<ClusterException>(() => a.EnsureMayStartAsync(Vm, "web", Token));
            Assert.Contains("lost its lease", lost.Message, StringComparison.Ordinal);
        }
        finally
        {
            await etcd.StartMemberAsync(0);
            await etcd.StartMemberAsync(1);
            await etcd.WaitHealthyAsync();
        }

        // The quorum is back: the nodes join again and their guests' ownership is as it was.
        await a.JoinAsync(cancellationToken: Token);
        await b.JoinAsync(cancellationToken: Token);
        await a.EnsureMayStartAsync(Vm, "web", Token);
        await b.EnsureMayStartAsync(Vm, "api", Token);
        Assert.Equal("{}", (await b.GetDefinitionAsync(ClusterDefinitionKind.Network, "lan", Token))!.Json);
    }
}
