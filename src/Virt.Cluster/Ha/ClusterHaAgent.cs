using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Virt.Cluster.Ha;
using Virt.Cluster.Store;
using Virt.Storage;
using Virt.VirtualMachines;
using Log = Virt.Cluster.Log;

namespace Virt.Clustering;

/// <summary>
/// Keeps a node's HA VMs running, Proxmox's HA manager done on etcd, with its rule that a node is fenced before its guests
/// run elsewhere. Run one in the process that runs the node's guests (the one that joined). It:
/// <list type="bullet">
/// <item>starts every HA VM this node owns that is not running (creating it from the shared definition where this host
/// does not have it yet), and again if it stops (an HA VM is kept running until it is unprotected);</item>
/// <item><b>self-fences</b>: the moment this node's lease runs out by its own count (never later than etcd's expiry), it
/// kills every HA VM it runs, before any survivor may start them;</item>
/// <item>when another node dies (its lease expired in etcd), it waits <see cref="ClusterHaOptions.RecoveryDelay"/>, then
/// places each of the dead node's HA VMs and hands it to the chosen node (every survivor tries; the compare-and-swap lets
/// one win), whose agent starts it.</item>
/// </list>
/// Limits (see docs/cluster.md): without a watchdog device (<see cref="ClusterHaOptions.WatchdogDevice"/>), nothing but the
/// RBD cross-host locks fences a node whose SDK process is gone while its QEMUs run;
/// with the storage backend's locks (<see cref="IVolumeLocks"/>) the new owner blocklists a dead node's Ceph clients
/// before it starts an HA VM whose RBD disk that node still locks, which stops a QEMU left running there from writing. Move an HA VM between nodes with
/// <see cref="ClusterMigrationAgent.MigrateAsync"/> (or a drain), which hands its ownership over with it; a migration
/// through the VM manager alone does not.
/// </summary>
public sealed class ClusterHaAgent : IAsyncDisposable
{
    private const ClusterGuestKind Vm = ClusterGuestKind.VirtualMachine;

    /// <summary>How many times a fence tries to kill one VM (100 ms apart) before it leaves it to the RBD lock.</summary>
    private const int FenceAttempts = 10;
    private readonly ClusterManager _cluster;
    private readonly IVirtualMachineManager _vms;
    private readonly IStorageManager? _storage;
    private readonly IVolumeLocks? _volumeLocks;
    private readonly ClusterHaOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<string, GuestOwnership> _ownedHa = new(StringComparer.Ordinal);

    // Every VM this node has owned as HA since the agent started: a fence kills all of these that run here, even one
    // whose ownership the watch says has moved (a stalled process may hear the transfer before its own fence).
    private readonly ConcurrentDictionary<string, bool> _everHa = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> _recovering = new(StringComparer.Ordinal);

    // HA VMs held back because fencing a dead holder of their disk failed half-way (see FenceDeadHoldersAsync).
    private readonly ConcurrentDictionary<string, string> _fenceFailures = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _reconcile = new(1, 1);
    private Task _running = Task.CompletedTask;
    private IDisposable? _leaseLost;
    private long _fences;
    private int _disposed;

    // The watchdog device's keeper, when ClusterHaOptions.WatchdogDevice names one; and whether the last fence killed every
    // HA VM here (none started since), so that keepalives need no lease.
    private HaWatchdogKeeper? _watchdog;
    private bool _fencedClean;
    private long _haStarts;

    /// <summary>Creates the agent; <see cref="StartAsync"/> sets it going.</summary>
    /// <param name="cluster">This node's cluster manager (joined, or joining).</param>
    /// <param name="vms">This node's VM manager, whose start gate should be the cluster (<c>AddCluster()</c> does that).</param>
    /// <param name="storage">The storage backend, to check that an HA VM's disks are on shared pools; optional.</param>
    /// <param name="options">Timings; defaults where null.</param>
    /// <param name="logger">Where to log.</param>
    /// <param name="time">The clock.</param>
    /// <param name="volumeLocks">
    /// The storage backend's cross-host locks (RBD): before it starts an HA VM, the agent breaks, with fencing (Ceph's
    /// blocklist), the lock a dead node still holds on one of its disks. Without it such a start is refused by the lock.
    /// </param>
    public ClusterHaAgent(ClusterManager cluster, IVirtualMachineManager vms, IStorageManager? storage = null, ClusterHaOptions? options = null, ILogger<ClusterHaAgent>? logger = null, TimeProvider? time = null, IVolumeLocks? volumeLocks = null)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        ArgumentNullException.ThrowIfNull(vms);
        _cluster = cluster;
        _vms = vms;
        _storage = storage;
        _volumeLocks = volumeLocks;
        _options = options ?? new ClusterHaOptions();
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>Sets the agent going: it follows the cluster until disposed.</summary>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <returns>A task that completes when the agent runs.</returns>
    /// <exception cref="ClusterException">The watchdog device cannot be armed, or its timeout does not fit the lease (see <see cref="ClusterHaOptions.WatchdogDevice"/>).</exception>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (_options.WatchdogDevice is { } device && _watchdog is null)
        {
            _watchdog = StartWatchdog(device);
        }

        // Straight from the lease's watchdog, not through the watch (whose stream may be stuck behind the partition).
        _leaseLost = _cluster.SubscribeLeaseLost(reason => _ = Task.Run(() => FenceAsync(reason), CancellationToken.None));
        _running = Task.WhenAll(
            Task.Run(() => FollowAsync(_stop.Token), CancellationToken.None),
            Task.Run(() => ReconcileLoopAsync(_stop.Token), CancellationToken.None));
        return Task.CompletedTask;
    }

    /// <summary>
    /// Makes <paramref name="spec"/> an HA VM owned by this node: checks that it can run on any node (shared disks, no
    /// host devices, no TPM, no CD-ROM), stores the spec among the shared definitions and claims it with HA; this node's
    /// agent then starts it.
    /// </summary>
    /// <param name="spec">The VM.</param>
    /// <param name="antiAffinityGroup">HA VMs of one group are kept on different nodes; null for none.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The ownership.</returns>
    /// <exception cref="ClusterException">The VM cannot be HA (<see cref="VirtErrorKind.InvalidInput"/>, each reason named), or another node owns it.</exception>
    public async Task<GuestOwnership> ProtectAsync(VmSpec spec, string? antiAffinityGroup = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        VmSpecValidator.Validate(spec);
        var problems = await HaSpecRules.ProblemsAsync(spec, _storage, cancellationToken).ConfigureAwait(false);
        if (problems.Count > 0)
        {
            throw new ClusterException(VirtErrorKind.InvalidInput, $"VM {spec.Name} cannot be HA (restarted on another node): {string.Join("; ", problems)}");
        }

        var json = JsonSerializer.Serialize(spec, ClusterSpecJson.Default.VmSpec);
        var current = await _cluster.GetDefinitionAsync(ClusterDefinitionKind.VirtualMachine, spec.Name, cancellationToken).ConfigureAwait(false);
        if (current is null || current.Json != json)
        {
            await _cluster.PutDefinitionAsync(ClusterDefinitionKind.VirtualMachine, spec.Name, json, current?.Revision ?? 0, cancellationToken).ConfigureAwait(false);
        }

        var owned = await _cluster.ClaimAsync(Vm, spec.Name, new GuestClaim(spec.Memory.SizeMiB * 1024L * 1024L, antiAffinityGroup, HighAvailability: true), cancellationToken).ConfigureAwait(false);
        if (!owned.HighAvailability || owned.RequestedState != HaRequestedState.Started)
        {
            owned = await _cluster.SetHighAvailabilityAsync(Vm, spec.Name, true, cancellationToken, HaRequestedState.Started).ConfigureAwait(false);
        }

        _ownedHa[spec.Name] = owned;
        _everHa[spec.Name] = true;
        _fenceFailures.TryRemove(spec.Name, out _);
        await ReconcileAsync(cancellationToken).ConfigureAwait(false);
        return owned;
    }

    /// <summary>
    /// Sets the state HA keeps an HA VM in (Proxmox's requested state), on the node that owns it.
    /// <see cref="HaRequestedState.Stopped"/> shuts it down (ACPI, killed after <see cref="ClusterHaOptions.StopTimeout"/>)
    /// and keeps it down, on this node and on whichever node takes it over when this one dies;
    /// <see cref="HaRequestedState.Started"/> starts it again. Returns once the VM is in that state. A stop through the VM
    /// manager alone changes nothing: an HA VM requested started is started again, as Proxmox's HA manager does.
    /// </summary>
    /// <param name="name">The VM.</param>
    /// <param name="state">The state to keep it in.</param>
    /// <param name="cancellationToken">Cancels the call (the request stays set).</param>
    /// <returns>The ownership, with the state.</returns>
    /// <exception cref="ClusterException">The VM is not HA, has no owner, or another node owns it (named); or its start or stop failed.</exception>
    public async Task<GuestOwnership> RequestStateAsync(string name, HaRequestedState state, CancellationToken cancellationToken = default)
    {
        var current = await _cluster.GetOwnerAsync(Vm, name, cancellationToken).ConfigureAwait(false)
            ?? throw new ClusterException(VirtErrorKind.NotFound, $"VM {name} has no owner in the cluster: protect it first (ProtectAsync)");
        if (!current.HighAvailability)
        {
            throw new ClusterException(VirtErrorKind.InvalidInput, $"VM {name} is not HA, so HA keeps it in no state: protect it first (ProtectAsync), or start and stop it through its VM manager");
        }

        var owned = await _cluster.SetHighAvailabilityAsync(Vm, name, true, cancellationToken, state).ConfigureAwait(false);
        _ownedHa[name] = owned;
        _everHa[name] = true;
        // Under the reconcile lock: a pass that read the old state cannot undo this one's work after it. A start keeps the
        // passes' guard: only with the lease, and what it started is fenced if the lease was lost meanwhile.
        await _reconcile.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (state == HaRequestedState.Stopped)
            {
                await EnsureStoppedAsync(name, cancellationToken).ConfigureAwait(false);
                return owned;
            }

            var fences = Interlocked.Read(ref _fences);
            if (!_cluster.HoldsLease)
            {
                throw new ClusterException(VirtErrorKind.Refused, $"HA VM {name} is requested started, but node {_cluster.NodeName} holds no lease now; its agent starts it once the node holds one");
            }

            await EnsureRunningAsync(name, cancellationToken).ConfigureAwait(false);
            if (Interlocked.Read(ref _fences) != fences)
            {
                await FenceAsync("the lease was lost while the VM started").ConfigureAwait(false);
                throw new ClusterException(VirtErrorKind.Refused, $"HA VM {name} was started, but node {_cluster.NodeName} lost its lease meanwhile, so it was killed again; it runs wherever the cluster places it");
            }
        }
        finally
        {
            _reconcile.Release();
        }

        return owned;
    }

    /// <summary>Stops keeping the VM running (it keeps its owner and keeps running until stopped).</summary>
    /// <param name="name">The VM.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task that completes when the flag is off.</returns>
    public async Task UnprotectAsync(string name, CancellationToken cancellationToken = default)
    {
        await _cluster.SetHighAvailabilityAsync(Vm, name, false, cancellationToken).ConfigureAwait(false);
        _ownedHa.TryRemove(name, out _);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        // A clean stop disarms the watchdog first (so a stop that hangs below is not turned into a reset): the HA VMs left
        // running are fenced on their disks by the survivors, as without one.
        if (_watchdog is { } watchdog)
        {
            await watchdog.DisposeAsync().ConfigureAwait(false);
        }

        _leaseLost?.Dispose();
        await _stop.CancelAsync().ConfigureAwait(false);
        await _running.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);

        _stop.Dispose();
    }

    /// <summary>
    /// Checks the watchdog settings and starts the keeper, which opens (arms) the device only once this node holds its
    /// lease and owns HA VMs. Not opened here: a process started after one that was killed with HA VMs running must not
    /// stop the reset that death set going (an open restarts the countdown; a probe's magic close would stop it).
    /// </summary>
    private HaWatchdogKeeper StartWatchdog(string path)
    {
        var ttl = _cluster.LeaseTtl;
        var timeout = _options.WatchdogTimeout ?? TimeSpan.FromSeconds(Math.Max(1, Math.Floor(ttl.TotalSeconds / 2)));
        var slack = _options.RecoveryDelay / 2;
        if (timeout.Ticks % TimeSpan.TicksPerSecond != 0 || timeout < TimeSpan.FromSeconds(1) || timeout > ttl / 2)
        {
            throw new ClusterException(VirtErrorKind.InvalidInput, $"ClusterHaOptions.WatchdogTimeout {timeout.TotalSeconds} s does not fit: give whole seconds from 1 s to half the lease TTL ({ttl.TotalSeconds / 2} s), so that the keepalives go on between the lease's renewals");
        }

        if (slack <= TimeSpan.Zero || slack >= timeout)
        {
            throw new ClusterException(VirtErrorKind.InvalidInput, $"ClusterHaOptions.RecoveryDelay {_options.RecoveryDelay.TotalSeconds} s leaves the watchdog no time: with a watchdog device it must be more than 0 and less than twice WatchdogTimeout ({timeout.TotalSeconds} s)");
        }

        if (!File.Exists(path))
        {
            throw new ClusterException(VirtErrorKind.NotFound, $"the watchdog device {path} does not exist: load a watchdog driver (modprobe softdog, or the board's, e.g. iTCO_wdt), or leave ClusterHaOptions.WatchdogDevice unset");
        }

        IWatchdogDevice Open()
        {
            var device = LinuxWatchdogDevice.Open(path, timeout);
            if (device.Timeout > ttl / 2 || device.Timeout <= slack)
            {
                _ = device.Disarm();
                throw new ClusterException(VirtErrorKind.Refused, $"the watchdog device {path} ({device.Identity}) set a timeout of {device.Timeout.TotalSeconds} s for the {timeout.TotalSeconds} s asked, outside {slack.TotalSeconds} s (half RecoveryDelay) to {ttl.TotalSeconds / 2} s (half the lease TTL): ask for a timeout the driver takes (ClusterHaOptions.WatchdogTimeout)");
            }

            return device;
        }

        var keeper = new HaWatchdogKeeper(Open, timeout, () => _cluster.HoldsLease && !_everHa.IsEmpty, () => _cluster.LeaseTimeLeft, () => Volatile.Read(ref _fencedClean), slack, _logger);
        keeper.Start();
        return keeper;
    }

    /// <summary>Follows the cluster's watch: this node's HA guests, the nodes' states, and this node's lease.</summary>
    private Task FollowAsync(CancellationToken cancellationToken) => Virt.Cluster.ClusterFollower.FollowAsync(
        _cluster,
        change =>
        {
            switch (change)
            {
                case ClusterOwnershipChanged { Kind: Vm } owner:
                    if (owner.Ownership is { HighAvailability: true } ha && ha.Node == _cluster.NodeName)
                    {
                        // One new to this node (arrived by migration, say) may run here without a start by this agent; a
                        // record seen again (a resync) changes nothing.
                        if (!_ownedHa.ContainsKey(owner.Name))
                        {
                            HaMayRunHere();
                        }

                        _ownedHa[owner.Name] = ha;
                        _everHa[owner.Name] = true;
                        _ = Task.Run(() => ReconcileAsync(cancellationToken), CancellationToken.None);
                    }
                    else
                    {
                        _ownedHa.TryRemove(owner.Name, out _);
                    }

                    break;
                case ClusterNodeChanged { Node: { } node }:
                    if (node.State == ClusterNodeState.Dead && node.Name != _cluster.NodeName && _recovering.TryAdd(node.Name, true))
                    {
                        _ = Task.Run(() => RecoverAsync(node.Name, cancellationToken), CancellationToken.None);
                    }

                    break;
            }

            return ValueTask.CompletedTask;
        },
        reason => Log.HaFailed(_logger, "following the cluster", reason),
        _time,
        cancellationToken);

    /// <summary>
    /// Kills every HA VM this node runs, all at once and each on its own (one that fails or hangs holds up no other): its
    /// lease is gone, so a survivor may start them once etcd expires it. A start in flight when this runs is killed when
    /// it ends (<see cref="ReconcileAsync"/> checks <see cref="_fences"/>).
    /// </summary>
    private async Task FenceAsync(string reason)
    {
        Interlocked.Increment(ref _fences);
        var starts = Interlocked.Read(ref _haStarts);
        Volatile.Write(ref _fencedClean, false);
        var killed = await Task.WhenAll(_everHa.Keys.Select(name => KillQuietlyAsync(name, reason))).ConfigureAwait(false);

        // Nothing of HA runs here any more, unless a start began (or an HA VM came to this node) meanwhile: the watchdog
        // device may then be kept alive without a lease, and is told at once.
        if (killed.All(done => done) && Interlocked.Read(ref _haStarts) == starts)
        {
            Volatile.Write(ref _fencedClean, true);
        }

        _watchdog?.Nudge();
    }

    /// <summary>An HA VM may run here from now on (a start, or one owned here): the last clean fence no longer says otherwise.</summary>
    private void HaMayRunHere()
    {
        Interlocked.Increment(ref _haStarts);
        Volatile.Write(ref _fencedClean, false);
    }

    /// <summary>Kills one VM, trying again for a few seconds while it still runs (a kill can meet the VM's lock held by another operation).</summary>
    /// <returns>Whether it is known not to run here any more.</returns>
    private async Task<bool> KillQuietlyAsync(string name, string reason)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var vm = await _vms.GetAsync(name, CancellationToken.None).ConfigureAwait(false);
                if ((await vm.GetStatusAsync(CancellationToken.None).ConfigureAwait(false)).State is VmState.Stopped)
                {
                    return true;
                }

                await vm.KillAsync(CancellationToken.None).ConfigureAwait(false);
                Log.HaFenced(_logger, name, _cluster.NodeName, reason);
                return true;
            }
            catch (VirtException e) when (e.ErrorKind == VirtErrorKind.NotFound)
            {
                return true; // Not on this host: nothing to fence.
            }
            catch (Exception e) when (e is VirtException or TimeoutException or IOException or InvalidOperationException)
            {
                // Said in the log each time; after the last try the RBD cross-host lock is the second guard.
                Log.HaFailed(_logger, $"fencing HA VM {name} (try {attempt} of {FenceAttempts})", e.Message);
                if (attempt == FenceAttempts)
                {
                    return false;
                }
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100), _time, CancellationToken.None).ConfigureAwait(false);
        }
    }

    private async Task ReconcileLoopAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await ReconcileAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                Log.HaFailed(_logger, "keeping the HA VMs running", e.Message);
            }

            await Task.Delay(_options.ReconcileInterval, _time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Starts each HA VM this node owns that does not run here, while the node holds its lease.</summary>
    private async Task ReconcileAsync(CancellationToken cancellationToken)
    {
        await _reconcile.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Without a valid lease nothing starts (the gate would refuse anyway). A process that has not joined yet kills
            // nothing either: the node's lease may still be valid (the previous process of the node renewed it), and
            // fencing is the job of the process that loses a lease it held.
            if (!_cluster.HoldsLease)
            {
                return;
            }

            var fences = Interlocked.Read(ref _fences);
            foreach (var (name, owned) in _ownedHa)
            {
                try
                {
                    if (owned.RequestedState == HaRequestedState.Stopped)
                    {
                        await EnsureStoppedAsync(name, cancellationToken).ConfigureAwait(false);
                    }
                    else
                    {
                        await EnsureRunningAsync(name, cancellationToken).ConfigureAwait(false);
                    }
                }
                catch (Exception e) when (!cancellationToken.IsCancellationRequested)
                {
                    // One VM's failure, whatever it is, holds up no other.
                    Log.HaFailed(_logger, $"starting HA VM {name}", e.Message);
                }

                if (Interlocked.Read(ref _fences) != fences)
                {
                    // The lease was lost while this start ran: what it started is fenced like the rest.
                    await FenceAsync("the lease was lost while the VM started").ConfigureAwait(false);
                    return;
                }
            }
        }
        finally
        {
            _reconcile.Release();
        }
    }

    private async Task EnsureRunningAsync(string name, CancellationToken cancellationToken)
    {
        IVirtualMachine vm;
        try
        {
            vm = await _vms.GetAsync(name, cancellationToken).ConfigureAwait(false);
        }
        catch (VirtException e) when (e.ErrorKind == VirtErrorKind.NotFound)
        {
            // Asked before the VM is made here, so nothing is left defined on a node that may not start it (e.g. the VM is
            // being migrated away, or was just handed to another node).
            await _cluster.EnsureMayStartAsync(Vm, name, cancellationToken).ConfigureAwait(false);
            var definition = await _cluster.GetDefinitionAsync(ClusterDefinitionKind.VirtualMachine, name, cancellationToken).ConfigureAwait(false)
                ?? throw new ClusterException(VirtErrorKind.NotFound, $"HA VM {name} has no shared definition to create it from on node {_cluster.NodeName}; protect it again (ProtectAsync)");
            var spec = JsonSerializer.Deserialize(definition.Json, ClusterSpecJson.Default.VmSpec)
                ?? throw new ClusterException(VirtErrorKind.Failed, $"HA VM {name}'s shared definition is null JSON");
            vm = await _vms.CreateAsync(spec, cancellationToken).ConfigureAwait(false);
        }

        var state = (await vm.GetStatusAsync(cancellationToken).ConfigureAwait(false)).State;
        if (state is VmState.Stopped or VmState.Crashed)
        {
            if (_fenceFailures.TryGetValue(name, out var held))
            {
                throw new ClusterException(VirtErrorKind.Refused, $"HA VM {name} is not started: {held}");
            }

            await FenceDeadHoldersAsync(vm.Spec, cancellationToken).ConfigureAwait(false);

            // From here an HA guest may run: the watchdog device's keepalives follow the lease again.
            HaMayRunHere();
            await vm.StartAsync(cancellationToken).ConfigureAwait(false);
            Log.HaStarted(_logger, name, _cluster.NodeName);
        }
    }

    /// <summary>Shuts down an HA VM requested stopped where it runs here (killed after the stop timeout); nothing where it does not.</summary>
    private async Task EnsureStoppedAsync(string name, CancellationToken cancellationToken)
    {
        IVirtualMachine vm;
        try
        {
            vm = await _vms.GetAsync(name, cancellationToken).ConfigureAwait(false);
        }
        catch (VirtException e) when (e.ErrorKind == VirtErrorKind.NotFound)
        {
            return;
        }

        if ((await vm.GetStatusAsync(cancellationToken).ConfigureAwait(false)).State is VmState.Stopped or VmState.Crashed or VmState.Incoming)
        {
            return;
        }

        await vm.ShutdownAsync(_options.StopTimeout, killAfterTimeout: true, cancellationToken).ConfigureAwait(false);
        Log.HaStopped(_logger, name, _cluster.NodeName);
    }

    /// <summary>
    /// Proxmox's rule, on the storage: a disk whose cross-host lock a dead node still holds is taken from it only with
    /// fencing. Its Ceph clients are blocklisted before the lock is broken, so a QEMU still running there (its SDK process
    /// gone, so nothing killed it) can no longer write. Only this node, the VM's owner, does it, just before the start it
    /// alone may make. A holder on a node that is alive (or not a member of the cluster) is left alone: the start is then
    /// refused by the lock, naming the holder.
    /// </summary>
    private async Task FenceDeadHoldersAsync(VmSpec spec, CancellationToken cancellationToken)
    {
        if (_volumeLocks is null)
        {
            return;
        }

        IReadOnlyList<ClusterNode>? nodes = null;
        foreach (var disk in spec.Disks)
        {
            if (!VmSpecValidator.IsVolumeId(disk.Path) || !VolumeId.TryParse(disk.Path, out var volume))
            {
                continue;
            }

            var foreign = (await _volumeLocks.GetLockHoldersAsync(volume, cancellationToken).ConfigureAwait(false)).Where(h => h.Host != _cluster.NodeName).ToList();
            if (foreign.Count == 0)
            {
                continue;
            }

            nodes ??= await _cluster.ListNodesAsync(cancellationToken).ConfigureAwait(false);
            if (!foreign.All(h => nodes.Any(n => n.Name == h.Host && n.State == ClusterNodeState.Dead)))
            {
                continue;
            }

            // Still the owner with a valid lease, just before: a node that lost the VM meanwhile (its lease ran out while it
            // looked) fences nothing. The break itself is made only if the holders are still those dead hosts.
            await _cluster.EnsureMayStartAsync(Vm, spec.Name, cancellationToken).ConfigureAwait(false);
            var dead = foreign.Select(h => h.Host).ToHashSet(StringComparer.Ordinal);
            try
            {
                var broken = await _volumeLocks.FenceHoldersAsync(volume, dead, cancellationToken).ConfigureAwait(false);
                Log.HaFencedStorage(_logger, spec.Name, volume.ToString(), string.Join(", ", broken.Select(h => $"{h.Holder} ({string.Join(" ", h.ClientAddresses)})")));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // A failure after the lock was broken (a client that could not be blocklisted) would let the next pass start
                // the VM with that client unfenced: hold the VM back until someone protects it again.
                if ((await _volumeLocks.GetLockHoldersAsync(volume, CancellationToken.None).ConfigureAwait(false)).Count == 0)
                {
                    _fenceFailures[spec.Name] = $"fencing the holders of disk {volume} failed after their lock was broken ({e.Message}); blocklist the client by hand (ceph osd blocklist add), then protect the VM again (ProtectAsync)";
                }

                throw;
            }
        }
    }

    /// <summary>
    /// Moves a dead node's HA VMs to live nodes. Every survivor's agent does this after the delay; the transfer is a
    /// compare-and-swap on the ownership's revision, so one wins and the others' attempts fail harmlessly. Errors (a
    /// quorum blip, no node fitting) are retried until the node is no longer dead or owns no HA VM.
    /// </summary>
    private async Task RecoverAsync(string deadNode, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(_options.RecoveryDelay, _time, cancellationToken).ConfigureAwait(false);
            while (!cancellationToken.IsCancellationRequested)
            {
                try
                {
                    var nodes = await _cluster.ListNodesAsync(cancellationToken).ConfigureAwait(false);
                    if (nodes.FirstOrDefault(n => n.Name == deadNode) is not { State: ClusterNodeState.Dead })
                    {
                        return;
                    }

                    var orphans = (await _cluster.ListGuestsAsync(cancellationToken).ConfigureAwait(false)).Where(g => g.Node == deadNode && g.HighAvailability && g.Kind == Vm).ToList();
                    if (orphans.Count == 0)
                    {
                        return;
                    }

                    if (_cluster.HoldsLease)
                    {
                        foreach (var orphan in orphans)
                        {
                            await RecoverOneAsync(orphan, deadNode, cancellationToken).ConfigureAwait(false);
                        }
                    }
                }
                catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is ClusterException or TimeoutException)
                {
                    Log.HaFailed(_logger, $"recovering the HA VMs of dead node {deadNode}", e.Message);
                }

                await Task.Delay(_options.ReconcileInterval, _time, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The agent stopped.
        }
        finally
        {
            _recovering.TryRemove(deadNode, out _);
        }
    }

    private async Task RecoverOneAsync(GuestOwnership orphan, string deadNode, CancellationToken cancellationToken)
    {
        try
        {
            var placed = await _cluster.PlaceAsync(new PlacementRequest { MemoryBytes = Math.Max(1, orphan.MemoryBytes), AntiAffinityGroup = orphan.AntiAffinityGroup, ExcludedNodes = [deadNode] }, cancellationToken).ConfigureAwait(false);
            await _cluster.TransferAsync(Vm, orphan.Name, placed.Node, orphan.Revision, cancellationToken).ConfigureAwait(false);
            Log.HaRecovered(_logger, orphan.Name, deadNode, placed.Node);
        }
        catch (ClusterConflictException)
        {
            // Another survivor moved it first.
        }
    }
}
