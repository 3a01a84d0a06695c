using Virt.Clustering;

namespace Virt.Panel;

/// <summary>
/// The panel is the process that runs this host's guests, so it joins the cluster as this host's node when it starts,
/// renews its lease while it runs, and runs the node's migration agent (drains of this node, VMs sent to it) and definition
/// reconciler (the cluster's shared networks and pools) (the HA agent is not run here yet: a panel stopped for longer than the lease would
/// leave its HA VMs running unfenced; docs/cluster.md). etcd unreachable at start is no reason to stay down: it tries again every few seconds, logging
/// why, and the node list says the node has no lease meanwhile.
/// </summary>
internal sealed partial class ClusterMembership(IClusterManager cluster, ClusterMigrationAgent migration, ClusterDefinitionReconciler definitions, ILogger<ClusterMembership> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // The agents follow the cluster's watch from the start: the migration agent acts on drains and incoming VMs once
        // joined; the reconciler brings the shared networks and pools onto this host.
        await migration.StartAsync(stoppingToken);
        await definitions.StartAsync(stoppingToken);
        while (!stoppingToken.IsCancellationRequested)
        {
            if (!cluster.HoldsLease)
            {
                try
                {
                    var node = await cluster.JoinAsync(cancellationToken: stoppingToken);
                    LogJoined(logger, node.Name, node.State);
                }
                catch (Exception e) when (!stoppingToken.IsCancellationRequested)
                {
                    // Whatever the failure (etcd out of reach, the state directory's lock), the next try may succeed.
                    LogJoinFailed(logger, e, cluster.NodeName);
                }
            }

            await Task.Delay(TimeSpan.FromSeconds(5), stoppingToken);
        }
    }

    [LoggerMessage(EventId = 20, Level = LogLevel.Information, Message = "Virt.Panel: joined the cluster as node {Node} ({State})")]
    private static partial void LogJoined(ILogger logger, string node, ClusterNodeState state);

    [LoggerMessage(EventId = 21, Level = LogLevel.Warning, Message = "Virt.Panel: could not join the cluster as node {Node}; trying again in 5 s")]
    private static partial void LogJoinFailed(ILogger logger, Exception exception, string node);
}
