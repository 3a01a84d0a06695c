using Virt.Clustering;

namespace Virt.Cluster.Membership;

/// <summary>
/// How a node's state follows from what etcd holds. A node renews its lease every third of the TTL, so right after a
/// renewal etcd counts close to the whole TTL; less than half left (less one second, as etcd reports whole seconds)
/// means it missed a renewal and is late on the next: <see cref="ClusterNodeState.Suspect"/>. No heartbeat key (its lease expired or was revoked) is
/// <see cref="ClusterNodeState.Dead"/>, whatever else is recorded. The states come from etcd's lease count, never from
/// comparing the node's clock with ours.
/// </summary>
internal static class NodeStateRules
{
    public static TimeSpan RenewalPeriod(TimeSpan leaseTtl) => leaseTtl / 3;

    /// <summary>The state of a node from its record, whether its heartbeat key exists, and the lease's remaining time (null: expired).</summary>
    public static ClusterNodeState StateOf(bool maintenance, bool hasHeartbeat, TimeSpan? leaseRemaining, TimeSpan leaseTtl)
    {
        // etcd reports a lease with under a second left as 0 seconds: alive still, and late.
        if (!hasHeartbeat || leaseRemaining is not { } remaining || remaining < TimeSpan.Zero)
        {
            return ClusterNodeState.Dead;
        }

        if (remaining < (leaseTtl / 2) - TimeSpan.FromSeconds(1))
        {
            return ClusterNodeState.Suspect;
        }

        return maintenance ? ClusterNodeState.Maintenance : ClusterNodeState.Online;
    }

    /// <summary>
    /// The state a watcher gives a node from the last heartbeat it saw, by its own clock: heartbeats come with every
    /// renewal, so none for half the TTL means the node is late. Only etcd deleting the key makes it dead: the watcher's
    /// clock may run ahead of the lease's.
    /// </summary>
    public static ClusterNodeState StateSeen(bool maintenance, bool hasHeartbeat, TimeSpan sinceLastHeartbeat, TimeSpan leaseTtl) =>
        StateOf(maintenance, hasHeartbeat, hasHeartbeat ? TimeSpan.FromTicks(Math.Max(1, (leaseTtl - sinceLastHeartbeat).Ticks)) : null, leaseTtl);
}
