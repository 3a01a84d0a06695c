namespace Virt.Storage;

/// <summary>
/// The event ids of Virt.Storage's log messages (3000–3999), published so that log filters, alerts and dashboards can
/// name them; an id keeps its meaning across versions, and a retired id is not reused.
/// </summary>
public static class StorageEventIds
{
    /// <summary>Information: <c>pool {Pool} ({Driver}) defined at {Path}</c></summary>
    public const int PoolDefined = 3000;

    /// <summary>Information: <c>pool {Pool} removed (its volumes stay on the host)</c></summary>
    public const int PoolRemoved = 3001;

    /// <summary>Information: <c>volume {Volume} created: {Format}, {CapacityBytes} bytes</c></summary>
    public const int VolumeCreated = 3100;

    /// <summary>Information: <c>volume {Volume} deleted</c></summary>
    public const int VolumeDeleted = 3101;

    /// <summary>Information: <c>volume {Volume} resized to {CapacityBytes} bytes</c></summary>
    public const int VolumeResized = 3102;

    /// <summary>Information: <c>volume {Source} cloned to {Target} (linked: {Linked})</c></summary>
    public const int VolumeCloned = 3103;

    /// <summary>Information: <c>volume {Volume} flattened: it no longer depends on a base</c></summary>
    public const int VolumeFlattened = 3104;

    /// <summary>Information: <c>volume {Volume}: snapshot {Snapshot} created</c></summary>
    public const int SnapshotCreated = 3105;

    /// <summary>Information: <c>volume {Volume}: rolled back to snapshot {Snapshot}</c></summary>
    public const int SnapshotRolledBack = 3106;

    /// <summary>Information: <c>volume {Volume}: snapshot {Snapshot} deleted</c></summary>
    public const int SnapshotDeleted = 3107;

    /// <summary>Information: <c>volume {Volume} imported from {Source}</c></summary>
    public const int VolumeImported = 3108;

    /// <summary>Information: <c>volume {Volume} exported to {Target} as {Format}</c></summary>
    public const int VolumeExported = 3109;

    /// <summary>Warning: <c>volume {Volume}: the cross-host lock of {Holder} was broken (fenced: {Fenced})</c></summary>
    public const int HostLockBroken = 3200;

    /// <summary>Warning: <c>volume {Volume}: Ceph client {Address} blocklisted for {Seconds} s before its lock was broken</c></summary>
    public const int ClientFenced = 3201;

    /// <summary>Warning: <c>volume {Volume}: releasing the cross-host lock of {Holder} failed; it stays until released again or broken</c></summary>
    public const int HostLockReleaseFailed = 3202;

    /// <summary>Debug: <c>volume {Volume}: recording the Ceph clients of {Holder} failed; retrying</c></summary>
    public const int ClientRecordFailed = 3203;

    /// <summary>Warning: <c>volume {Volume}: this host's Ceph client (client.{User}, {Config}) is blocklisted; opening a new one</c></summary>
    public const int CephClientBlocklisted = 3204;

    /// <summary>Warning: <c>volume {Volume}: the cross-host lock of {Holder} was broken while it held it; its Ceph client {Address}, which the breaker could not see, is blocklisted for {Seconds} s</c></summary>
    public const int LeftoverClientFenced = 3205;

    /// <summary>Error: <c>volume {Volume}: the cross-host lock of {Holder} was broken while it held it, and its remaining Ceph clients could not be fenced</c></summary>
    public const int LeftoverFenceFailed = 3206;
}
