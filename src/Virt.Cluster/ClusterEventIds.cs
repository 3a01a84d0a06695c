namespace Virt.Cluster;

/// <summary>
/// The event ids of Virt.Cluster's log messages (7000–7999), published so that log filters, alerts and dashboards can
/// name them; an id keeps its meaning across versions, and a retired id is not reused.
/// </summary>
public static class ClusterEventIds
{
    /// <summary>Information: <c>node {Node} joined the cluster at {Endpoints} with lease {Lease} (TTL {Ttl} s)</c></summary>
    public const int NodeJoined = 7000;

    /// <summary>Warning: <c>node {Node} could not renew its lease {Lease}: {Reason}</c></summary>
    public const int LeaseRenewalFailed = 7001;

    /// <summary>Error: <c>node {Node} lost its lease {Lease}: {Reason}; it may start no clustered guest until it joins again</c></summary>
    public const int LeaseLost = 7002;

    /// <summary>Information: <c>node {Node} left the cluster</c></summary>
    public const int NodeLeft = 7003;

    /// <summary>Warning: <c>cluster watch on {Prefix} broke at revision {Revision}: {Reason}; reconnecting</c></summary>
    public const int WatchReconnecting = 7004;

    /// <summary>Information: <c>{Kind} {Name} is now owned by node {Node}</c></summary>
    public const int OwnershipChanged = 7005;

    /// <summary>Information: <c>node {Node} maintenance {Maintenance}</c></summary>
    public const int MaintenanceChanged = 7006;

    /// <summary>Warning: <c>HA VM {Vm} killed on node {Node}, which lost its lease ({Reason}): a survivor restarts it elsewhere</c></summary>
    public const int HaFenced = 7007;

    /// <summary>Information: <c>HA VM {Vm} started on node {Node}</c></summary>
    public const int HaStarted = 7008;

    /// <summary>Warning: <c>HA VM {Vm} of dead node {DeadNode} handed to node {Node}</c></summary>
    public const int HaRecovered = 7009;

    /// <summary>Warning: <c>HA: {What} failed: {Reason}; trying again</c></summary>
    public const int HaFailed = 7010;

    /// <summary>Information: <c>node {Node} was asked to drain</c></summary>
    public const int DrainRequested = 7011;

    /// <summary>Information: <c>VM {Vm} migrated from node {Source} to node {Destination} in {ElapsedMs} ms (downtime {DowntimeMs} ms)</c></summary>
    public const int VmMigrated = 7012;

    /// <summary>Warning: <c>migration: {What} failed: {Reason}</c></summary>
    public const int MigrationFailed = 7013;

    /// <summary>Information: <c>drain of node {Node} finished: {Moved} moved, {Stopped} stopped, {Failed} failed</c></summary>
    public const int DrainFinished = 7014;

    /// <summary>Warning: <c>HA VM {Vm}: disk {Volume} was still locked by a dead node; its clients were blocklisted and the lock broken: {Holders}</c></summary>
    public const int HaFencedStorage = 7015;

    /// <summary>Information: <c>{Definition} on node {Node}: {What} from the cluster's definition</c></summary>
    public const int DefinitionReconciled = 7016;

    /// <summary>Warning: <c>definitions: {What} failed: {Reason}; trying again</c></summary>
    public const int ReconcileFailed = 7017;

    /// <summary>Information: <c>HA VM {Vm} stopped on node {Node}, as requested (HaRequestedState.Stopped)</c></summary>
    public const int HaStopped = 7018;

    /// <summary>Information: <c>HA: watchdog device {Device} ({Identity}) armed with a {TimeoutSeconds} s timeout; it resets this host if the HA guests here cannot be fenced</c></summary>
    public const int WatchdogArmed = 7019;

    /// <summary>Warning: <c>HA: watchdog keepalives withheld: the lease has {LeftMs} ms left and HA guests may run here; the device resets this host within {TimeoutSeconds} s unless the lease is renewed or the fence kills them</c></summary>
    public const int WatchdogWithheld = 7020;

    /// <summary>Information: <c>HA: watchdog device disarmed (a clean stop)</c></summary>
    public const int WatchdogDisarmed = 7021;
}
