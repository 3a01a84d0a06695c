using Virt.Cluster.IntegrationTests.Infrastructure;
using Virt.Clustering;

namespace Virt.Cluster.IntegrationTests;

[Collection(EtcdCollection.Name)]
public sealed class PlacementTests(EtcdCluster etcd)
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Placement_follows_free_memory_networks_pools_anti_affinity_and_maintenance_and_explains_a_refusal()
    {
        await using var lab = new ClusterLab(etcd);
        var a = lab.Node("node-a", ClusterLab.Capacity(freeMib: 8000, networks: ["lan"], pools: ["rbd"], totalMib: 8192));
        var b = lab.Node("node-b", ClusterLab.Capacity(freeMib: 4000, networks: ["lan", "dmz"], pools: ["rbd"]));
        var c = lab.Node("node-c", ClusterLab.Capacity(freeMib: 2000, cpus: 2, networks: ["lan", "dmz"], pools: ["rbd", "local"]));
        foreach (var node in new[] { a, b, c })
        {
            await node.JoinAsync(cancellationToken: Token);
        }

        Assert.Equal("node-a", (await c.PlaceAsync(new PlacementRequest { MemoryBytes = 1L << 30 }, Token)).Node);
        Assert.Equal("node-b", (await a.PlaceAsync(new PlacementRequest { MemoryBytes = 1L << 30, Networks = ["dmz"] }, Token)).Node);
        Assert.Equal("node-c", (await a.PlaceAsync(new PlacementRequest { MemoryBytes = 1L << 30, Pools = ["local"] }, Token)).Node);

        // A guest of the group on node-a: the next one of the group goes elsewhere, and its claim counts against node-a's
        // memory before it runs (8192 MiB total less 5000 claimed, below the 8000 measured free).
        await a.ClaimAsync(ClusterGuestKind.VirtualMachine, "db1", new GuestClaim(5000L << 20, "db"), Token);
        var second = await b.PlaceAsync(new PlacementRequest { MemoryBytes = 1L << 30, AntiAffinityGroup = "db" }, Token);
        Assert.Equal("node-b", second.Node);
        var nodeA = second.Nodes.Single(n => n.Node == "node-a");
        Assert.False(nodeA.Fits);
        Assert.Equal("already runs db1 of anti-affinity group 'db'", nodeA.Reason);
        Assert.Equal(3192L << 20, nodeA.FreeMemoryBytes);

        await a.SetMaintenanceAsync("node-b", true, Token);
        var refused = await Assert.ThrowsAsync<ClusterPlacementException>(() => c.PlaceAsync(new PlacementRequest { MemoryBytes = 3L << 30, Cpus = 4, AntiAffinityGroup = "db" }, Token));
        Assert.Equal(VirtErrorKind.Refused, refused.ErrorKind);
        Assert.Equal(
            ["node-a: already runs db1 of anti-affinity group 'db'", "node-b: in maintenance", "node-c: not enough free memory: 2000 MiB free, 3072 MiB asked"],
            refused.Nodes.Select(n => $"{n.Node}: {n.Reason}"));
        Assert.Contains("no node fits a guest of 3072 MiB and 4 vCPUs in anti-affinity group 'db'", refused.Message, StringComparison.Ordinal);
        var cpus = await Assert.ThrowsAsync<ClusterPlacementException>(() => c.PlaceAsync(new PlacementRequest { MemoryBytes = 1L << 20, Cpus = 4, ExcludedNodes = ["node-a"] }, Token));
        Assert.Equal("2 logical CPUs, 4 vCPUs asked", cpus.Nodes.Single(n => n.Node == "node-c").Reason);
        await Assert.ThrowsAsync<ClusterException>(() => c.PlaceAsync(new PlacementRequest { MemoryBytes = 1, ExcludedNodes = ["node-x"] }, Token));
    }
}
