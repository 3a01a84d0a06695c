using Virt.Cluster.Placement;
using Virt.Clustering;

namespace Virt.Cluster.Tests;

public sealed class PlacementPlannerTests
{
    private static ClusterNode Node(string name, long freeMib, ClusterNodeState state = ClusterNodeState.Online, long totalMib = 65536, int cpus = 8, string[]? networks = null) =>
        new(name, state, state == ClusterNodeState.Dead ? null : new NodeCapacity(cpus, totalMib << 20, freeMib << 20, networks ?? ["lan"], ["rbd"], "7.2.22"), DateTimeOffset.UnixEpoch, TimeSpan.FromSeconds(9), state == ClusterNodeState.Maintenance);

    private static GuestOwnership Guest(string name, string node, long mib, string? group = null) => new(ClusterGuestKind.VirtualMachine, name, node, mib << 20, group, 1);

    [Fact]
    public void The_most_free_memory_wins_then_the_fewest_guests_then_the_name()
    {
        var request = new PlacementRequest { MemoryBytes = 1L << 30 };
        Assert.Equal("b", PlacementPlanner.Place(request, [Node("a", 1000), Node("b", 3000), Node("c", 2000)], []).Node);
        Assert.Equal("c", PlacementPlanner.Place(request, [Node("a", 2000), Node("b", 2000), Node("c", 2000)], [Guest("x", "a", 1), Guest("y", "b", 1)]).Node);
        Assert.Equal("a", PlacementPlanner.Place(request, [Node("b", 2000), Node("a", 2000)], []).Node);
    }

    [Fact]
    public void Claimed_guests_count_against_a_node_before_its_measurement_can_show_them()
    {
        var decision = PlacementPlanner.Place(new PlacementRequest { MemoryBytes = 1L << 30 }, [Node("a", 8000, totalMib: 8192), Node("b", 4000)], [Guest("big", "a", 6000)]);
        Assert.Equal("b", decision.Node);
        Assert.Equal(2192L << 20, decision.Nodes.Single(n => n.Node == "a").FreeMemoryBytes);
    }

    [Fact]
    public void Every_node_that_does_not_fit_says_why_and_the_error_lists_them_all()
    {
        var nodes = new[]
        {
            Node("dead", 0, ClusterNodeState.Dead), Node("late", 9000, ClusterNodeState.Suspect), Node("busy", 100),
            Node("small", 9000, cpus: 2), Node("isolated", 9000, networks: ["dmz"]), Node("paired", 9000), Node("service", 9000, ClusterNodeState.Maintenance),
        };
        var refused = Assert.Throws<ClusterPlacementException>(() => PlacementPlanner.Place(
            new PlacementRequest { MemoryBytes = 512L << 20, Cpus = 4, Networks = ["lan"], AntiAffinityGroup = "web" }, nodes, [Guest("web1", "paired", 1, "web")]));
        Assert.Equal(
            [
                "busy: not enough free memory: 100 MiB free, 512 MiB asked", "dead: dead (no lease)", "isolated: no network 'lan'",
                "late: suspect (late renewing its lease)", "paired: already runs web1 of anti-affinity group 'web'", "service: in maintenance",
                "small: 2 logical CPUs, 4 vCPUs asked",
            ],
            refused.Nodes.Select(n => $"{n.Node}: {n.Reason}"));
        Assert.StartsWith("no node fits a guest of 512 MiB and 4 vCPUs in anti-affinity group 'web': busy: not enough free memory", refused.Message, StringComparison.Ordinal);
        Assert.All(refused.Nodes, n => Assert.False(n.Fits));
    }

    [Fact]
    public void An_empty_cluster_says_how_to_add_a_node()
    {
        var refused = Assert.Throws<ClusterPlacementException>(() => PlacementPlanner.Place(new PlacementRequest { MemoryBytes = 1 }, [], []));
        Assert.Contains("the cluster has no nodes; join one with IClusterManager.JoinAsync", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Excluded_nodes_and_missing_pools_do_not_fit()
    {
        var refused = Assert.Throws<ClusterPlacementException>(() => PlacementPlanner.Place(new PlacementRequest { MemoryBytes = 1, Pools = ["local"], ExcludedNodes = ["a"] }, [Node("a", 9000), Node("b", 9000)], []));
        Assert.Equal(["a: excluded by the request", "b: no storage pool 'local'"], refused.Nodes.Select(n => $"{n.Node}: {n.Reason}"));
    }
}
