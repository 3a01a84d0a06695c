using Microsoft.Extensions.Logging;

namespace Virt.Storage;

/// <summary>Log messages of Virt.Storage (event ids 3000–3999, listed in <see cref="StorageEventIds"/>): one line per change to a pool or a volume.</summary>
internal static partial class Log
{
    [LoggerMessage(StorageEventIds.PoolDefined, LogLevel.Information, "pool {Pool} ({Driver}) defined at {Path}")]
    public static partial void PoolDefined(ILogger logger, string pool, string driver, string path);

    [LoggerMessage(StorageEventIds.PoolRemoved, LogLevel.Information, "pool {Pool} removed (its volumes stay on the host)")]
    public static partial void PoolRemoved(ILogger logger, string pool);

    [LoggerMessage(StorageEventIds.VolumeCreated, LogLevel.Information, "volume {Volume} created: {Format}, {CapacityBytes} bytes")]
    public static partial void VolumeCreated(ILogger logger, VolumeId volume, VolumeFormat format, long capacityBytes);

    [LoggerMessage(StorageEventIds.VolumeDeleted, LogLevel.Information, "volume {Volume} deleted")]
    public static partial void VolumeDeleted(ILogger logger, VolumeId volume);

    [LoggerMessage(StorageEventIds.VolumeResized, LogLevel.Information, "volume {Volume} resized to {CapacityBytes} bytes")]
    public static partial void VolumeResized(ILogger logger, VolumeId volume, long capacityBytes);

    [LoggerMessage(StorageEventIds.VolumeCloned, LogLevel.Information, "volume {Source} cloned to {Target} (linked: {Linked})")]
    public static partial void VolumeCloned(ILogger logger, VolumeId source, VolumeId target, bool linked);

    [LoggerMessage(StorageEventIds.VolumeFlattened, LogLevel.Information, "volume {Volume} flattened: it no longer depends on a base")]
    public static partial void VolumeFlattened(ILogger logger, VolumeId volume);

    [LoggerMessage(StorageEventIds.SnapshotCreated, LogLevel.Information, "volume {Volume}: snapshot {Snapshot} created")]
    public static partial void SnapshotCreated(ILogger logger, VolumeId volume, string snapshot);

    [LoggerMessage(StorageEventIds.SnapshotRolledBack, LogLevel.Information, "volume {Volume}: rolled back to snapshot {Snapshot}")]
    public static partial void SnapshotRolledBack(ILogger logger, VolumeId volume, string snapshot);

    [LoggerMessage(StorageEventIds.SnapshotDeleted, LogLevel.Information, "volume {Volume}: snapshot {Snapshot} deleted")]
    public static partial void SnapshotDeleted(ILogger logger, VolumeId volume, string snapshot);

    [LoggerMessage(StorageEventIds.VolumeImported, LogLevel.Information, "volume {Volume} imported from {Source}")]
    public static partial void VolumeImported(ILogger logger, VolumeId volume, string source);

    [LoggerMessage(StorageEventIds.VolumeExported, LogLevel.Information, "volume {Volume} exported to {Target} as {Format}")]
    public static partial void VolumeExported(ILogger logger, VolumeId volume, string target, VolumeFormat format);

    [LoggerMessage(StorageEventIds.HostLockBroken, LogLevel.Warning, "volume {Volume}: the cross-host lock of {Holder} was broken (fenced: {Fenced})")]
    public static partial void HostLockBroken(ILogger logger, VolumeId volume, string holder, bool fenced);

    [LoggerMessage(StorageEventIds.ClientFenced, LogLevel.Warning, "volume {Volume}: Ceph client {Address} blocklisted for {Seconds} s before its lock was broken")]
    public static partial void ClientFenced(ILogger logger, VolumeId volume, string address, uint seconds);

    [LoggerMessage(StorageEventIds.HostLockReleaseFailed, LogLevel.Warning, "volume {Volume}: releasing the cross-host lock of {Holder} failed; it stays until released again or broken (IVolumeLocks.BreakLockAsync)")]
    public static partial void HostLockReleaseFailed(ILogger logger, Exception error, VolumeId volume, string holder);

    [LoggerMessage(StorageEventIds.ClientRecordFailed, LogLevel.Debug, "volume {Volume}: recording the Ceph clients of {Holder} failed; retrying")]
    public static partial void ClientRecordFailed(ILogger logger, Exception error, VolumeId volume, string holder);

    [LoggerMessage(StorageEventIds.LeftoverClientFenced, LogLevel.Warning, "volume {Volume}: the cross-host lock of {Holder} was broken while it held it; its Ceph client {Address}, which the breaker could not see, is blocklisted for {Seconds} s")]
    public static partial void LeftoverClientFenced(ILogger logger, VolumeId volume, string holder, string address, uint seconds);

    [LoggerMessage(StorageEventIds.LeftoverFenceFailed, LogLevel.Error, "volume {Volume}: the cross-host lock of {Holder} was broken while it held it, and its remaining Ceph clients could not be fenced; stop its process on this host")]
    public static partial void LeftoverFenceFailed(ILogger logger, Exception error, VolumeId volume, string holder);

    [LoggerMessage(StorageEventIds.CephClientBlocklisted, LogLevel.Warning, "volume {Volume}: this host's Ceph client (client.{User}, {Config}) is blocklisted; opening a new one")]
    public static partial void CephClientBlocklisted(ILogger logger, VolumeId volume, string user, string config);
}
