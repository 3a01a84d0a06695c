using System.Collections.Concurrent;
using Virt.Storage.Locking;

namespace Virt.Storage.Pools;

/// <summary>
/// Cross-host locks of RBD volumes (<see cref="RbdHostLock"/>), through one librados connection per cluster and Ceph
/// user, opened at first use and kept until the manager is disposed; and, while this host holds a lock, a watch on
/// who opens the image, so the clients QEMU uses are on record for fencing.
/// </summary>
public sealed partial class StorageManager
{
    private static readonly TimeSpan RecordingFastPhase = TimeSpan.FromMinutes(2);

    // QEMU opens its disks before its monitor answers, so the client is normally there at the first look.
    private static readonly TimeSpan OpenedClientTimeout = TimeSpan.FromSeconds(30);

    // Below Ceph's 30 s watch timeout: a client that opens the image later is seen before a hang could hide it.
    private static readonly TimeSpan RecordingInterval = TimeSpan.FromSeconds(10);

    private readonly ConcurrentDictionary<(string Config, string User), Lazy<RadosConnection>> _connections = new();
    private readonly ConcurrentDictionary<string, Recording> _recordings = new(StringComparer.Ordinal);
    private readonly BlocklistBackoff _blocklistBackoff = new(TimeProvider.System);
    private int _disposed;

    /// <inheritdoc />
    public async Task<IReadOnlyList<VolumeLockHolder>> GetLockHoldersAsync(VolumeId id, CancellationToken cancellationToken = default) =>
        await RbdDefinitionAsync(id, cancellationToken).ConfigureAwait(false) is { } rbd
            ? await RadosAsync(rbd, id, hostLock => hostLock.Holders(), cancellationToken).ConfigureAwait(false)
            : [];

    /// <inheritdoc />
    /// <remarks>
    /// The holder's clients are the Ceph clients recorded while it held the lock (QEMU's, seen as the image's watchers),
    /// the owner of librbd's own lock, and — when fencing — whoever still has the image open. Each is blocklisted by its
    /// exact address and nonce for <see cref="Hosting.StorageOptions.FenceDuration"/>.
    /// </remarks>
    public async Task<IReadOnlyList<VolumeLockHolder>> BreakLockAsync(VolumeId id, bool fence, CancellationToken cancellationToken = default)
    {
        if (await RbdDefinitionAsync(id, cancellationToken).ConfigureAwait(false) is not { } rbd)
        {
            return [];
        }

        var seconds = (uint)_context.Options.FenceDuration.TotalSeconds;
        var broken = await RadosAsync(rbd, id, hostLock => hostLock.Break(fence, seconds, address => Log.ClientFenced(_context.Logger, id, address, seconds)), cancellationToken).ConfigureAwait(false);
        foreach (var holder in broken)
        {
            Log.HostLockBroken(_context.Logger, id, holder.Holder, fence);
        }

        return broken;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<VolumeLockHolder>> FenceHoldersAsync(VolumeId id, IReadOnlyCollection<string> hosts, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(hosts);
        if (hosts.Count == 0)
        {
            throw new ArgumentException("name at least one host whose holders may be fenced", nameof(hosts));
        }

        if (await RbdDefinitionAsync(id, cancellationToken).ConfigureAwait(false) is not { } rbd)
        {
            return [];
        }

        var only = hosts.ToHashSet(StringComparer.Ordinal);
        var seconds = (uint)_context.Options.FenceDuration.TotalSeconds;
        var broken = await RadosAsync(rbd, id, hostLock => hostLock.Break(fence: true, seconds, address => Log.ClientFenced(_context.Logger, id, address, seconds), only), cancellationToken).ConfigureAwait(false);
        foreach (var holder in broken)
        {
            Log.HostLockBroken(_context.Logger, id, holder.Holder, true);
        }

        return broken;
    }

    /// <inheritdoc />
    /// <remarks>
    /// For an RBD volume this host holds: records the image's watchers that no other holder claims (QEMU, which opened
    /// the image while paused) as this holder's clients, and returns once one of its recorded clients watches the image.
    /// Without this, a host whose manager died between QEMU's start and the background recording would leave a QEMU that
    /// fencing does not know of (once its watch expired, ~30 s after it hung), free to write again when it came back.
    /// Fails, so the VM is not resumed, when the lock is no longer held here or QEMU's client does not show within 30 s.
    /// </remarks>
    public async Task ConfirmOpenedAsync(VolumeId id, string user, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(user);
        if (await RbdDefinitionAsync(id, cancellationToken).ConfigureAwait(false) is not { } rbd)
        {
            return;
        }

        var holder = RbdHostLock.HolderOf(_host.Name, user);
        var deadline = DateTime.UtcNow + OpenedClientTimeout;
        var delay = TimeSpan.FromMilliseconds(20);
        while (true)
        {
            var recorded = await RadosAsync(rbd, id, hostLock => hostLock.Record(holder), cancellationToken).ConfigureAwait(false)
                ?? throw new VolumeStateException(id, $"{holder} no longer holds the cross-host lock of its Ceph image {rbd.RbdPool}/{id.Name} (was it broken by another host?); the process that opened it must not write: stop it");
            if (recorded.Open)
            {
                return;
            }

            if (DateTime.UtcNow >= deadline)
            {
                throw new StorageException(VirtErrorKind.Unavailable, $"volume '{id}': no Ceph client of {holder} has the image {rbd.RbdPool}/{id.Name} open after {OpenedClientTimeout.TotalSeconds:0} s (none of its watchers is unclaimed), so fencing could not block it; check that the process opened the image read-write (rbd status {rbd.RbdPool}/{id.Name} -c {rbd.CephConfig})");
            }

            await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 250));
        }
    }

    /// <summary>Stops recording clients and closes the Ceph connections. Locks stay held: they belong to the VMs, not to this object.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        var loops = _recordings.Values.Select(recording => recording.Stop()).ToArray();

        // A recording in the middle of a librados call must finish it before the connection goes (bounded by its timeouts).
        // The loops end on cancellation and catch their own failures, so waiting cannot throw.
        Task.WaitAll(loops, TimeSpan.FromSeconds(40));
        // Retired, not closed: a call still inside one (a break or a start, bounded by the 30 s timeouts) finishes on a live
        // client, and the last one out closes it.
        foreach (var connection in _connections.Values.Where(connection => connection.IsValueCreated).Select(connection => connection.Value))
        {
            connection.Retire();
        }
    }

    private async Task<RbdPoolDefinition?> RbdDefinitionAsync(VolumeId id, CancellationToken cancellationToken) =>
        await GetPoolAsync(id.Pool, cancellationToken).ConfigureAwait(false) is StoragePoolBase { Definition: RbdPoolDefinition rbd } && HasHostLocks ? rbd : null;

    /// <summary>
    /// Whether the pool's volumes are locked across hosts: always on a real host. librados reads the pool's
    /// <c>CephConfig</c> from the host's own files, so a manager given another file system (a unit test's in-memory one,
    /// with <c>rbd</c> scripted) has no cluster to lock on, and keeps only its in-use markers.
    /// </summary>
    private bool HasHostLocks => _context.FilesAreOnHost;

    private async Task TakeHostLockAsync(RbdPoolDefinition rbd, VolumeId id, string user, string? alongside, CancellationToken cancellationToken)
    {
        var holder = RbdHostLock.HolderOf(_host.Name, user);
        await RadosAsync(rbd, id, hostLock => hostLock.Acquire(holder, alongside), cancellationToken).ConfigureAwait(false);
        StartRecording(rbd, id, holder);
    }

    /// <summary>Releases this host's lock for <paramref name="user"/>. Never throws: it runs on cleanup paths, and a lock left behind names its holder.</summary>
    private async Task ReleaseHostLockAsync(RbdPoolDefinition rbd, VolumeId id, string user)
    {
        var holder = RbdHostLock.HolderOf(_host.Name, user);
        if (_recordings.TryRemove(id + "|" + holder, out var recording))
        {
            await recording.Stop().ConfigureAwait(false);
        }

        try
        {
            // Past the blocklist back-off: a release not tried leaves the lock held until someone breaks it.
            await RadosAsync(rbd, id, hostLock => hostLock.Release(holder), CancellationToken.None, tryDespiteBackoff: true).ConfigureAwait(false);
        }
        catch (VolumeNotFoundException)
        {
            // The image is gone, and its lock with it.
        }
        catch (Exception error) when (error is StorageException or ObjectDisposedException)
        {
            Log.HostLockReleaseFailed(_context.Logger, error, id, holder);
        }
    }

    private void StartRecording(RbdPoolDefinition rbd, VolumeId id, string holder)
    {
        var key = id + "|" + holder;
        var recording = new Recording();
        if (_recordings.TryRemove(key, out var earlier))
        {
            _ = earlier.Stop();
        }

        _recordings[key] = recording;
        recording.Loop = RecordClientsAsync(rbd, id, holder, key, recording);
    }

    /// <summary>
    /// Records the image's watchers as <paramref name="holder"/>'s clients: often until QEMU has opened the image, then
    /// every <see cref="RecordingInterval"/> (QEMU may reopen it with a new client), until the lock is released here or elsewhere.
    /// </summary>
    private async Task RecordClientsAsync(RbdPoolDefinition rbd, VolumeId id, string holder, string key, Recording recording)
    {
        var fastUntil = DateTime.UtcNow + RecordingFastPhase;
        var delay = TimeSpan.FromMilliseconds(50);
        IReadOnlySet<string> ownHosts = new HashSet<string>();
        try
        {
            while (true)
            {
                await Task.Delay(delay, recording.Token).ConfigureAwait(false);
                try
                {
                    var recorded = await RadosAsync(rbd, id, hostLock => hostLock.Record(holder), recording.Token).ConfigureAwait(false);
                    if (recorded is null)
                    {
                        // Not released here (a release stops this loop first): another host broke the lock under a process
                        // that may still run.
                        await FenceLeftoversAsync(rbd, id, holder, ownHosts).ConfigureAwait(false);
                        return;
                    }

                    ownHosts = recorded.Hosts;
                    delay = recorded.Clients.Count == 0 && DateTime.UtcNow < fastUntil ? TimeSpan.FromMilliseconds(100) : RecordingInterval;
                }
                catch (VolumeNotFoundException)
                {
                    // The image is gone, and its lock with it.
                    return;
                }
                catch (Exception error) when (error is StorageException or ObjectDisposedException)
                {
                    Log.ClientRecordFailed(_context.Logger, error, id, holder);
                    delay = RecordingInterval;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Released, or the manager disposed.
        }
        finally
        {
            _recordings.TryRemove(KeyValuePair.Create(key, recording));
            recording.Dispose();
        }
    }

    /// <summary>
    /// Fences what the process that held a broken lock still has open on this host, which the breaker could not see (a
    /// client opened after it listed the watchers, or recorded after it read the records). Logged, never thrown: the loop
    /// that calls it ends here.
    /// </summary>
    private async Task FenceLeftoversAsync(RbdPoolDefinition rbd, VolumeId id, string holder, IReadOnlySet<string> ownHosts)
    {
        if (ownHosts.Count == 0)
        {
            return;
        }

        var seconds = (uint)_context.Options.FenceDuration.TotalSeconds;
        try
        {
            await RadosAsync(rbd, id, hostLock => hostLock.FenceLeftovers(ownHosts, seconds, address => Log.LeftoverClientFenced(_context.Logger, id, holder, address, seconds)), CancellationToken.None).ConfigureAwait(false);
        }
        catch (VolumeNotFoundException)
        {
            // The image is gone: nothing can write to it.
        }
        catch (Exception error) when (error is StorageException or ObjectDisposedException)
        {
            Log.LeftoverFenceFailed(_context.Logger, error, id, holder);
        }
    }

    /// <summary>Runs librados calls off the caller's thread: each blocks for a round trip to the cluster (bounded by the connection's timeouts).</summary>
    private Task RadosAsync(RbdPoolDefinition rbd, VolumeId id, Action<RbdHostLock> call, CancellationToken cancellationToken, bool tryDespiteBackoff = false) =>
        RadosAsync(rbd, id, hostLock =>
        {
            call(hostLock);
            return true;
        }, cancellationToken, tryDespiteBackoff);

    /// <remarks>
    /// A call that finds this manager's client blocklisted (fenced by another host, or by an operator) is made once more
    /// on a new client: the blocklist names the old client's address and nonce, not the new one's. The old client is
    /// retired: handed to no new call, and closed when the last call inside it returns.
    /// </remarks>
    private Task<T> RadosAsync<T>(RbdPoolDefinition rbd, VolumeId id, Func<RbdHostLock, T> call, CancellationToken cancellationToken, bool tryDespiteBackoff = false) =>
        Task.Run(() =>
        {
            if (!tryDespiteBackoff && _blocklistBackoff.Remaining(rbd.CephConfig, rbd.CephUser) is { } wait)
            {
                throw WholeAddressBlocklisted(rbd, id, wait, innerException: null);
            }

            var connection = EnterConnection(rbd);
            try
            {
                var result = call(new RbdHostLock(connection, rbd.RbdPool, id.Name, id));
                _blocklistBackoff.Succeeded(rbd.CephConfig, rbd.CephUser);
                return result;
            }
            catch (StorageException) when (connection.Blocklisted)
            {
                Retire(connection);
                Log.CephClientBlocklisted(_context.Logger, id, rbd.CephUser, rbd.CephConfig);
                var replacement = EnterConnection(rbd);
                try
                {
                    var result = call(new RbdHostLock(replacement, rbd.RbdPool, id.Name, id));
                    _blocklistBackoff.Succeeded(rbd.CephConfig, rbd.CephUser);
                    return result;
                }
                catch (StorageException again) when (replacement.Blocklisted)
                {
                    Retire(replacement);
                    throw WholeAddressBlocklisted(rbd, id, _blocklistBackoff.Refused(rbd.CephConfig, rbd.CephUser), again);
                }
                finally
                {
                    replacement.Exit();
                }
            }
            finally
            {
                connection.Exit();
            }
        }, cancellationToken);

    /// <summary>The cluster refuses this host's clients, a fresh one too; calls fail at once for <paramref name="wait"/> (<see cref="BlocklistBackoff"/>).</summary>
    private static StorageException WholeAddressBlocklisted(RbdPoolDefinition rbd, VolumeId id, TimeSpan wait, Exception? innerException) =>
        new(VirtErrorKind.Unavailable, $"volume '{id}': the Ceph cluster refuses this host's clients as blocklisted, a new one too (client.{rbd.CephUser}): the blocklist names this host's whole address, not one client; once the host is known to be healthy, remove that entry (ceph osd blocklist ls -c {rbd.CephConfig}; ceph osd blocklist rm ADDRESS). Calls fail at once for {wait.TotalSeconds:0} s before this host tries the cluster again", innerException);

    /// <summary>Stops handing out a blocklisted client; the next call opens a new one, and the old one closes once unused.</summary>
    private void Retire(RadosConnection connection)
    {
        var key = (connection.Config, connection.User);
        if (_connections.TryGetValue(key, out var current) && current.IsValueCreated && ReferenceEquals(current.Value, connection))
        {
            _connections.TryRemove(KeyValuePair.Create(key, current));
        }

        connection.Retire();
    }

    /// <summary>The current client for the pool's cluster and user, with this call counted in.</summary>
    /// <remarks>
    /// A client retired between the lookup and the count is out of the map already (<see cref="Retire"/> takes it out
    /// before it retires it), so the next lookup finds its successor, or fails once the manager is disposed.
    /// </remarks>
    private RadosConnection EnterConnection(RbdPoolDefinition rbd)
    {
        while (true)
        {
            var connection = Connection(rbd);
            if (connection.TryEnter())
            {
                return connection;
            }
        }
    }

    private RadosConnection Connection(RbdPoolDefinition rbd)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var key = (rbd.CephConfig, rbd.CephUser);
        var connection = _connections.GetOrAdd(key, key => new Lazy<RadosConnection>(() => RadosConnection.Open(key.Config, key.User)));
        try
        {
            var opened = connection.Value;
            if (Volatile.Read(ref _disposed) != 0)
            {
                // Opened while the manager was being disposed, after it retired the clients it had.
                opened.Retire();
                throw new ObjectDisposedException(nameof(StorageManager));
            }

            return opened;
        }
        catch (StorageException)
        {
            // Not kept: the next call tries the cluster again.
            _connections.TryRemove(KeyValuePair.Create(key, connection));
            throw;
        }
    }

    /// <summary>One volume's recording loop and what stops it.</summary>
    private sealed class Recording : IDisposable
    {
        private readonly CancellationTokenSource _stop = new();

        public Task Loop { get; set; } = Task.CompletedTask;

        public CancellationToken Token => _stop.Token;

        public async Task Stop()
        {
            try
            {
                await _stop.CancelAsync().ConfigureAwait(false);
            }
            catch (ObjectDisposedException)
            {
                // The loop has ended already.
            }

            await Loop.ConfigureAwait(false);
        }

        public void Dispose() => _stop.Dispose();
    }
}
