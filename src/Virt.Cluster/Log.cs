using Microsoft.Extensions.Logging;

namespace Virt.Cluster;

/// <summary>Log messages of Virt.Cluster (event ids 7000–7999, listed in <see cref="ClusterEventIds"/>).</summary>
internal static partial class Log
{
    [LoggerMessage(ClusterEventIds.NodeJoined, LogLevel.Information, "node {Node} joined the cluster at {Endpoints} with lease {Lease} (TTL {Ttl} s)")]
    public static partial void NodeJoined(ILogger logger, string node, string endpoints, long lease, long ttl);

    [LoggerMessage(ClusterEventIds.LeaseRenewalFailed, LogLevel.Warning, "node {Node} could not renew its lease {Lease}: {Reason}")]
    public static partial void LeaseRenewalFailed(ILogger logger, string node, long lease, string reason);

    [LoggerMessage(ClusterEventIds.LeaseLost, LogLevel.Error, "node {Node} lost its lease {Lease}: {Reason}; it may start no clustered guest until it joins again")]
    public static partial void LeaseLost(ILogger logger, string node, long lease, string reason);

    [LoggerMessage(ClusterEventIds.NodeLeft, LogLevel.Information, "node {Node} left the cluster")]
    public static partial void NodeLeft(ILogger logger, string node);

    [LoggerMessage(ClusterEventIds.WatchReconnecting, LogLevel.Warning, "cluster watch on {Prefix} broke at revision {Revision}: {Reason}; reconnecting")]
    public static partial void WatchReconnecting(ILogger logger, string prefix, long revision, string reason);

    [LoggerMessage(ClusterEventIds.OwnershipChanged, LogLevel.Information, "{Kind} {Name} is now owned by node {Node}")]
    public static partial void OwnershipChanged(ILogger logger, string kind, string name, string node);

    [LoggerMessage(ClusterEventIds.MaintenanceChanged, LogLevel.Information, "node {Node} maintenance {Maintenance}")]
    public static partial void MaintenanceChanged(ILogger logger, string node, bool maintenance);

    [LoggerMessage(ClusterEventIds.HaFenced, LogLevel.Warning, "HA VM {Vm} killed on node {Node}, which lost its lease ({Reason}): a survivor restarts it elsewhere")]
    public static partial void HaFenced(ILogger logger, string vm, string node, string reason);

    [LoggerMessage(ClusterEventIds.HaStarted, LogLevel.Information, "HA VM {Vm} started on node {Node}")]
    public static partial void HaStarted(ILogger logger, string vm, string node);

    [LoggerMessage(ClusterEventIds.HaStopped, LogLevel.Information, "HA VM {Vm} stopped on node {Node}, as requested (HaRequestedState.Stopped)")]
    public static partial void HaStopped(ILogger logger, string vm, string node);

    [LoggerMessage(ClusterEventIds.HaRecovered, LogLevel.Warning, "HA VM {Vm} of dead node {DeadNode} handed to node {Node}")]
    public static partial void HaRecovered(ILogger logger, string vm, string deadNode, string node);

    [LoggerMessage(ClusterEventIds.HaFailed, LogLevel.Warning, "HA: {What} failed: {Reason}; trying again")]
    public static partial void HaFailed(ILogger logger, string what, string reason);

    [LoggerMessage(ClusterEventIds.DrainRequested, LogLevel.Information, "node {Node} was asked to drain")]
    public static partial void DrainRequested(ILogger logger, string node);

    [LoggerMessage(ClusterEventIds.VmMigrated, LogLevel.Information, "VM {Vm} migrated from node {Source} to node {Destination} in {ElapsedMs} ms (downtime {DowntimeMs} ms)")]
    public static partial void VmMigrated(ILogger logger, string vm, string source, string destination, long elapsedMs, long downtimeMs);

    [LoggerMessage(ClusterEventIds.MigrationFailed, LogLevel.Warning, "migration: {What} failed: {Reason}")]
    public static partial void MigrationFailed(ILogger logger, string what, string reason);

    [LoggerMessage(ClusterEventIds.DrainFinished, LogLevel.Information, "drain of node {Node} finished: {Moved} moved, {Stopped} stopped, {Failed} failed")]
    public static partial void DrainFinished(ILogger logger, string node, int moved, int stopped, int failed);

    [LoggerMessage(ClusterEventIds.HaFencedStorage, LogLevel.Warning, "HA VM {Vm}: disk {Volume} was still locked by a dead node; its clients were blocklisted and the lock broken: {Holders}")]
    public static partial void HaFencedStorage(ILogger logger, string vm, string volume, string holders);

    [LoggerMessage(ClusterEventIds.DefinitionReconciled, LogLevel.Information, "{Definition} on node {Node}: {What} from the cluster's definition")]
    public static partial void DefinitionReconciled(ILogger logger, string definition, string node, string what);

    [LoggerMessage(ClusterEventIds.ReconcileFailed, LogLevel.Warning, "definitions: {What} failed: {Reason}; trying again")]
    public static partial void ReconcileFailed(ILogger logger, string what, string reason);

    [LoggerMessage(ClusterEventIds.WatchdogArmed, LogLevel.Information, "HA: watchdog device {Device} ({Identity}) armed with a {TimeoutSeconds} s timeout; it resets this host if the HA guests here cannot be fenced")]
    public static partial void WatchdogArmed(ILogger logger, string device, string identity, double timeoutSeconds);

    [LoggerMessage(ClusterEventIds.WatchdogWithheld, LogLevel.Warning, "HA: watchdog keepalives withheld: the lease has {LeftMs} ms left and HA guests may run here; the device resets this host within {TimeoutSeconds} s unless the lease is renewed or the fence kills them")]
    public static partial void WatchdogWithheld(ILogger logger, double leftMs, double timeoutSeconds);

    [LoggerMessage(ClusterEventIds.WatchdogDisarmed, LogLevel.Information, "HA: watchdog device disarmed (a clean stop)")]
    public static partial void WatchdogDisarmed(ILogger logger);
}
