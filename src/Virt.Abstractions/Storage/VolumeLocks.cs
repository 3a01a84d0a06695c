namespace Virt.Storage;

/// <summary>How a volume is acquired (<see cref="IVolumeResolver.AcquireAsync(VolumeId, string, VolumeAcquireOptions, CancellationToken)"/>).</summary>
public sealed record VolumeAcquireOptions
{
    /// <summary>
    /// A live migration's hand-over: the holder (<c>HOST/USER</c>, as <see cref="VolumeLockHolder.Holder"/> names it)
    /// whose cross-host lock this acquisition may join. Both hold the volume until the old holder releases it, so
    /// there is no moment in which neither does; any other holder still refuses the acquisition.
    /// </summary>
    public string? AlongsideHolder { get; init; }
}

/// <summary>One holder of a volume's cross-host lock (an RBD image's lock, for example).</summary>
/// <param name="Host">The host that took it.</param>
/// <param name="User">Who on that host uses it (<c>vm:NAME</c>).</param>
/// <param name="ClientAddresses">The storage clients of that holder that fencing blocks (Ceph client addresses).</param>
public sealed record VolumeLockHolder(string Host, string User, IReadOnlyList<string> ClientAddresses)
{
    /// <summary>The holder as one string: <c>HOST/USER</c>.</summary>
    public string Holder => $"{Host}/{User}";
}

/// <summary>
/// Cross-host locks on volumes that several hosts reach (RBD): who holds one, and breaking the lock of a holder
/// whose host is dead. Local volumes (dir, btrfs) are guarded by this host's locks and have none.
/// </summary>
public interface IVolumeLocks
{
    /// <summary>Who holds the volume's cross-host lock; empty when nobody does or the pool has no such locks.</summary>
    /// <param name="id">The volume.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The holders.</returns>
    Task<IReadOnlyList<VolumeLockHolder>> GetLockHoldersAsync(VolumeId id, CancellationToken cancellationToken = default);

    /// <summary>
    /// Breaks the volume's cross-host lock, for a holder whose host is dead. With <paramref name="fence"/> every
    /// storage client of the holder is first blocked (Ceph's blocklist), so a host that comes back cannot write;
    /// without it the call is refused unless no client of the holder is alive. The storage backend never does it on its
    /// own: a caller decides the holder's host is dead (an operator, or the cluster's HA agent through
    /// <see cref="FenceHoldersAsync"/>).
    /// </summary>
    /// <param name="id">The volume.</param>
    /// <param name="fence">Block the holder's clients before the lock is broken.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The holders whose lock was broken.</returns>
    Task<IReadOnlyList<VolumeLockHolder>> BreakLockAsync(VolumeId id, bool fence, CancellationToken cancellationToken = default);

    /// <summary>
    /// Breaks the volume's cross-host lock with fencing (as <see cref="BreakLockAsync"/> with <c>fence: true</c>), only if
    /// every holder is on one of <paramref name="hosts"/>, the hosts the caller has found dead. The check is made on the
    /// holders that are then broken, so a host that took the lock after the caller looked is never fenced on that look.
    /// </summary>
    /// <param name="id">The volume.</param>
    /// <param name="hosts">The hosts whose holders may be fenced.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The holders whose lock was broken; empty when nobody held it.</returns>
    /// <exception cref="StorageException">A holder on another host (<see cref="VirtErrorKind.Conflict"/>; nothing was changed), or fencing failed.</exception>
    Task<IReadOnlyList<VolumeLockHolder>> FenceHoldersAsync(VolumeId id, IReadOnlyCollection<string> hosts, CancellationToken cancellationToken = default);
}
