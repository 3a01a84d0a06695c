using Virt.Cluster.Membership;
using Virt.Clustering;

namespace Virt.Cluster.Tests;

public sealed class NodeStateRulesTests
{
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(10);

    [Theory]
    [InlineData(false, true, 10, ClusterNodeState.Online)]
    [InlineData(false, true, 6, ClusterNodeState.Online)]
    [InlineData(false, true, 4, ClusterNodeState.Online)]
    [InlineData(false, true, 3, ClusterNodeState.Suspect)]
    [InlineData(true, true, 9, ClusterNodeState.Maintenance)]
    [InlineData(true, true, 2, ClusterNodeState.Suspect)]
    [InlineData(false, true, 0, ClusterNodeState.Suspect)]
    [InlineData(false, true, -1, ClusterNodeState.Dead)]
    [InlineData(false, false, 9, ClusterNodeState.Dead)]
    [InlineData(true, false, 9, ClusterNodeState.Dead)]
    public void A_node_state_follows_its_heartbeat_and_the_time_left_on_its_lease(bool maintenance, bool heartbeat, int secondsLeft, ClusterNodeState expected) =>
        Assert.Equal(expected, NodeStateRules.StateOf(maintenance, heartbeat, TimeSpan.FromSeconds(secondsLeft), Ttl));

    [Fact]
    public void A_watcher_turns_a_node_suspect_after_half_the_lease_and_a_second_without_a_heartbeat_but_never_dead_while_etcd_keeps_its_key()
    {
        Assert.Equal(ClusterNodeState.Online, NodeStateRules.StateSeen(false, true, TimeSpan.FromSeconds(3.3), Ttl));
        Assert.Equal(ClusterNodeState.Online, NodeStateRules.StateSeen(false, true, TimeSpan.FromSeconds(5.9), Ttl));
        Assert.Equal(ClusterNodeState.Suspect, NodeStateRules.StateSeen(false, true, TimeSpan.FromSeconds(6.1), Ttl));
        Assert.Equal(ClusterNodeState.Suspect, NodeStateRules.StateSeen(false, true, TimeSpan.FromSeconds(60), Ttl));
        Assert.Equal(ClusterNodeState.Dead, NodeStateRules.StateSeen(false, false, TimeSpan.Zero, Ttl));
        Assert.Equal(TimeSpan.FromSeconds(10) / 3, NodeStateRules.RenewalPeriod(Ttl));
    }
}
