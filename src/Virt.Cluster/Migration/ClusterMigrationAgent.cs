using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Virt.Cluster.Store;
using Virt.Containers;
using Virt.VirtualMachines;
using Log = Virt.Cluster.Log;

namespace Virt.Clustering;

/// <summary>
/// Moves a node's running VMs to other nodes, live, with etcd as the meeting point (Proxmox's <c>qm migrate</c> between
/// cluster nodes, done on the SDK's migration between instances). Run one per node, in the process that runs the node's
/// guests (the one that joined). It:
/// <list type="bullet">
/// <item>migrates a VM this node owns to another node on request (<see cref="MigrateAsync"/>): it writes a migration record
/// under its lease, the destination's agent prepares a waiting QEMU and answers with its ticket, the VM moves, and the
/// ownership is handed over in the transaction that ends the migration;</item>
/// <item>receives the VMs other nodes send it (its <see cref="ClusterMigrationOptions.ListenAddress"/>);</item>
/// <item>carries out a drain asked of this node (<see cref="IClusterManager.DrainAsync"/>): every running clustered VM
/// migrated to a placed node, containers stopped or kept per the policy, the outcome written back.</item>
/// </list>
/// While a migration record exists no node may start the VM (the start gate refuses), so an HA agent cannot restart it
/// behind the migration. A record lives under the source's lease: a source that dies takes it along, and the destination
/// keeps the VM only if the hand-over succeeds.
/// </summary>
public sealed partial class ClusterMigrationAgent : IAsyncDisposable
{
    private const ClusterGuestKind Vm = ClusterGuestKind.VirtualMachine;

    private readonly ClusterManager _cluster;
    private readonly IVirtualMachineManager _vms;
    private readonly IContainerManager? _containers;
    private readonly ClusterMigrationOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<string, bool> _receiving = new(StringComparer.Ordinal);

    // HA VMs this node has received: killed with the node's other HA VMs when it loses its lease (see FollowIncomingAsync).
    private readonly ConcurrentDictionary<string, bool> _receivedHa = new(StringComparer.Ordinal);
    private IDisposable? _leaseLost;
    private Task _running = Task.CompletedTask;
    private int _draining;
    private int _disposed;

    /// <summary>Creates the agent; <see cref="StartAsync"/> sets it going (needed to receive VMs and to carry out drains).</summary>
    /// <param name="cluster">This node's cluster manager (joined, or joining).</param>
    /// <param name="vms">This node's VM manager.</param>
    /// <param name="containers">This node's container manager, for drains (stop or keep its containers); optional.</param>
    /// <param name="options">Where to receive, TLS, drain policy; defaults where null.</param>
    /// <param name="logger">Where to log.</param>
    /// <param name="time">The clock.</param>
    public ClusterMigrationAgent(ClusterManager cluster, IVirtualMachineManager vms, IContainerManager? containers = null, ClusterMigrationOptions? options = null, ILogger<ClusterMigrationAgent>? logger = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        ArgumentNullException.ThrowIfNull(vms);
        _options = options ?? new ClusterMigrationOptions();
        _options.Validate();
        _cluster = cluster;
        _vms = vms;
        _containers = containers;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>Sets the agent going: it follows the cluster until disposed.</summary>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <returns>A task that completes when the agent runs.</returns>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        _leaseLost = _cluster.SubscribeLeaseLost(reason => _ = Task.Run(() => FenceReceivedAsync(reason), CancellationToken.None));
        _running = Task.Run(() => FollowAsync(_stop.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Live-migrates a clustered VM that this node owns and runs to another node, and hands its ownership over. The guest
    /// runs on throughout. A migration that fails before QEMU completes it leaves the guest running here, owned by this node,
    /// and the destination removes its waiting QEMU; one that completed is handed over even when an error followed. While it
    /// runs, the VM's ownership cannot change (no transfer, release or HA flag) and no node may start it.
    /// </summary>
    /// <param name="name">The VM.</param>
    /// <param name="toNode">The destination; <see langword="null"/> to place it (free memory, anti-affinity; never this node).</param>
    /// <param name="progress">QEMU's progress reports, as they come; optional.</param>
    /// <param name="cancellationToken">Cancels the migration (the VM runs on here).</param>
    /// <returns>Where it went, how long it took, and the downtime.</returns>
    /// <exception cref="ClusterException">Not clustered, owned by another node, not running here, the destination unknown, unfit or unable to receive, or the migration failed; each says which.</exception>
    public async Task<ClusterMigrationResult> MigrateAsync(string name, string? toNode = null, IProgress<VmMigrationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        var started = Stopwatch.GetTimestamp();
        var (owner, vm) = await CheckMigratableAsync(name, cancellationToken).ConfigureAwait(false);
        var destination = await ChooseDestinationAsync(owner, toNode, cancellationToken).ConfigureAwait(false);
        var sizes = await vm.Migration.GetLocalDiskSizesAsync(cancellationToken).ConfigureAwait(false);
        var record = new MigrationRecord(_cluster.NodeName, destination, owner.Revision, JsonSerializer.Serialize(vm.Spec, ClusterSpecJson.Default.VmSpec), sizes, _time.GetUtcNow(), HighAvailability: owner.HighAvailability);
        var created = await _cluster.BeginMigrationAsync(name, record, cancellationToken).ConfigureAwait(false);
        TimeSpan? downtime = null;
        var completed = false;
        try
        {
            var ticket = await WaitForTicketAsync(name, created, destination, cancellationToken).ConfigureAwait(false);
            var migration = new VmMigrationOptions
            {
                Ticket = ticket,
                TlsDirectory = _options.TlsDirectory,
                AllowClearText = _options.Security == MigrationSecurity.ClearText,
                DowntimeLimit = _options.DowntimeLimit,
                MaxBandwidth = _options.MaxBandwidth,
            };
            await foreach (var step in vm.Migration.MigrateAsync(migration, cancellationToken).ConfigureAwait(false))
            {
                if (step.Completed)
                {
                    (completed, downtime) = (true, step.Downtime);
                }

                progress?.Report(step);
            }

            if (!completed)
            {
                throw new ClusterException(VirtErrorKind.Failed, $"VM {name}: the migration to node {destination} ended without QEMU reporting completion");
            }
        }
        catch (Exception e) when (!completed)
        {
            // The VM manager finishes a migration that completed while it was being cancelled or failing (its QEMU here quits
            // and its record goes): then the guest runs on the destination, and the ownership must follow it.
            if (!await StillHereAsync(name).ConfigureAwait(false))
            {
                completed = true;
            }
            else
            {
                // It runs on here, and this node still owns it: end the record so that it may be started (and migrated)
                // again. The destination sees the record go and removes its waiting QEMU.
                await AbandonQuietlyAsync(name, created).ConfigureAwait(false);
                Log.MigrationFailed(_logger, $"migrating VM {name} from node {_cluster.NodeName} to node {destination}", e.Message);
                throw e is ClusterException ? e : new ClusterException(VirtErrorKind.Failed, $"VM {name} could not be migrated from node {_cluster.NodeName} to node {destination}: {e.Message}; it runs on node {_cluster.NodeName}", e);
            }
        }

        // The guest runs on the destination now: hand the ownership over (the destination's agent does the same when it sees
        // its VM run; whichever comes second finds it done).
        var newOwner = await HandOverAsync(name, record).ConfigureAwait(false);
        if (newOwner != destination)
        {
            throw new ClusterException(VirtErrorKind.Conflict, $"VM {name} migrated to node {destination}, but its ownership moved to node {newOwner ?? "(none)"} meanwhile (an HA recovery after this node lost its lease?); node {destination} stops its copy");
        }

        var elapsed = Stopwatch.GetElapsedTime(started);
        Log.VmMigrated(_logger, name, _cluster.NodeName, destination, (long)elapsed.TotalMilliseconds, (long)(downtime?.TotalMilliseconds ?? -1));
        return new ClusterMigrationResult(name, _cluster.NodeName, destination, elapsed, downtime);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _leaseLost?.Dispose();
        await _stop.CancelAsync().ConfigureAwait(false);
        await _running.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stop.Dispose();
    }

    /// <summary>
    /// This node lost its lease: kills the HA VMs it received (as the HA agent kills the HA VMs it knows of), since a survivor
    /// may restart them once etcd expires the lease. Each kill is tried on its own; a VM not running here is skipped.
    /// </summary>
    private async Task FenceReceivedAsync(string reason)
    {
        foreach (var name in _receivedHa.Keys)
        {
            try
            {
                var vm = await _vms.GetAsync(name, CancellationToken.None).ConfigureAwait(false);
                if ((await vm.GetStatusAsync(CancellationToken.None).ConfigureAwait(false)).State is not (VmState.Stopped or VmState.Crashed))
                {
                    await vm.KillAsync(CancellationToken.None).ConfigureAwait(false);
                    Log.HaFenced(_logger, name, _cluster.NodeName, reason);
                }
            }
            catch (Exception e) when (e is VirtException or TimeoutException or IOException or InvalidOperationException)
            {
                Log.MigrationFailed(_logger, $"fencing received HA VM {name}", e.Message);
            }
        }
    }

    /// <summary>Follows the cluster's watch: migrations sent to this node, and drains asked of it.</summary>
    private async Task FollowAsync(CancellationToken cancellationToken)
    {
        var work = new List<Task>();
        var firstDrainSeen = false;
        await Virt.Cluster.ClusterFollower.FollowAsync(
            _cluster,
            change =>
            {
                switch (change)
                {
                    case ClusterMigrationChanged { Kind: Vm, Migration: { Ready: false, Error: null } incoming } when incoming.Destination == _cluster.NodeName:
                        // One receiver per migration record (a retried migration is a new record, with a new revision).
                        var key = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{incoming.Name}@{incoming.Revision}");
                        if (_receiving.TryAdd(key, true))
                        {
                            work.Add(Task.Run(() => ReceiveAsync(incoming.Name, key, cancellationToken), CancellationToken.None));
                        }

                        break;
                    case ClusterDrainChanged { Drain: { } drain } when drain.Node == _cluster.NodeName:
                        // A drain left running by a process of this node that ended is taken up again, once. A request
                        // that comes while a drain runs is picked up by that one when it ends (it reads the record again).
                        var take = drain.State == ClusterDrainState.Requested || (drain.State == ClusterDrainState.Running && !firstDrainSeen);
                        firstDrainSeen = true;
                        if (take && Interlocked.CompareExchange(ref _draining, 1, 0) == 0)
                        {
                            work.Add(Task.Run(() => DrainWhileAskedAsync(resumeRunning: drain.State == ClusterDrainState.Running, cancellationToken), CancellationToken.None));
                        }

                        break;
                }

                work.RemoveAll(t => t.IsCompleted);
                return ValueTask.CompletedTask;
            },
            reason => Log.MigrationFailed(_logger, "following the cluster", reason),
            _time,
            cancellationToken).ConfigureAwait(false);
        await Task.WhenAll(work).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private async Task<(GuestOwnership Owner, IVirtualMachine Vm)> CheckMigratableAsync(string name, CancellationToken cancellationToken)
    {
        var owner = await _cluster.GetOwnerAsync(Vm, name, cancellationToken).ConfigureAwait(false)
            ?? throw new ClusterException(VirtErrorKind.NotFound, $"VM {name} is not clustered (it has no owner node); claim it (ClaimAsync) before migrating it between nodes");
        if (owner.Node != _cluster.NodeName)
        {
            throw new ClusterException(VirtErrorKind.Refused, $"VM {name} is owned by node {owner.Node}, not {_cluster.NodeName}: migrate it from there");
        }

        IVirtualMachine vm;
        try
        {
            vm = await _vms.GetAsync(name, cancellationToken).ConfigureAwait(false);
        }
        catch (VirtException e) when (e.ErrorKind == VirtErrorKind.NotFound)
        {
            throw new ClusterException(VirtErrorKind.Refused, $"VM {name} is owned by node {_cluster.NodeName} but not defined on this host: nothing runs here to migrate; transfer its ownership instead (TransferAsync)", e);
        }

        var state = (await vm.GetStatusAsync(cancellationToken).ConfigureAwait(false)).State;
        if (state is not (VmState.Running or VmState.Paused))
        {
            throw new ClusterException(VirtErrorKind.Refused, $"VM {name} is {state} on node {_cluster.NodeName}: only a running VM migrates live; transfer its ownership instead (TransferAsync)");
        }

        return (owner, vm);
    }

    private async Task<string> ChooseDestinationAsync(GuestOwnership owner, string? toNode, CancellationToken cancellationToken)
    {
        if (toNode is null)
        {
            var placed = await _cluster.PlaceAsync(new PlacementRequest { MemoryBytes = Math.Max(1, owner.MemoryBytes), AntiAffinityGroup = owner.AntiAffinityGroup, ExcludedNodes = [_cluster.NodeName] }, cancellationToken).ConfigureAwait(false);
            return placed.Node;
        }

        if (toNode == _cluster.NodeName)
        {
            throw new ClusterException(VirtErrorKind.InvalidInput, $"VM {owner.Name} already runs on node {toNode}; name another node, or none to have one placed");
        }

        var node = await _cluster.GetNodeAsync(toNode, cancellationToken).ConfigureAwait(false);
        if (node.State != ClusterNodeState.Online)
        {
            throw new ClusterException(VirtErrorKind.Refused, $"VM {owner.Name} cannot be migrated to node {toNode}: it is {node.State}; pick an online node, or none to have one placed");
        }

        return toNode;
    }

    /// <summary>
    /// Waits for the destination's answer. Polled (every 100 ms, bounded by <see cref="ClusterMigrationOptions.PrepareTimeout"/>):
    /// one key for a few seconds, where a watch would cost a stream per migration.
    /// </summary>
    private async Task<MigrationTicket> WaitForTicketAsync(string name, long created, string destination, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.PrepareTimeout);
        try
        {
            while (true)
            {
                var current = await _cluster.ReadMigrationAsync(name, timeout.Token).ConfigureAwait(false);
                if (current is not { } found || found.CreateRevision != created)
                {
                    throw new ClusterException(VirtErrorKind.Failed, $"VM {name}: the migration record vanished before node {destination} answered (this node's lease was lost?)");
                }

                if (found.Record.Error is { } error)
                {
                    throw new ClusterException(VirtErrorKind.Refused, $"VM {name}: node {destination} cannot receive it: {error}");
                }

                if (found.Record.TicketJson is { } json)
                {
                    return JsonSerializer.Deserialize(json, ClusterSpecJson.Default.MigrationTicket)
                        ?? throw new ClusterException(VirtErrorKind.Failed, $"VM {name}: node {destination}'s ticket is null JSON");
                }

                await Task.Delay(TimeSpan.FromMilliseconds(100), _time, timeout.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ClusterException(VirtErrorKind.Failed, $"VM {name}: node {destination} did not answer the migration within {_options.PrepareTimeout.TotalSeconds:0} s; is its migration agent running (ClusterMigrationAgent.StartAsync)?");
        }
    }

    /// <summary>The hand-over after completion, retried for a while: the guest already runs on the destination, so giving up is the worst outcome.</summary>
    internal async Task<string?> HandOverAsync(string name, MigrationRecord record)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await _cluster.CompleteMigrationAsync(name, record, CancellationToken.None).ConfigureAwait(false);
            }
            catch (ClusterUnavailableException e) when (attempt < 50)
            {
                Log.MigrationFailed(_logger, $"handing VM {name} to node {record.Destination} (try {attempt})", e.Message);
                await Task.Delay(TimeSpan.FromMilliseconds(200), _time, CancellationToken.None).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Whether the VM is still defined on this host (after a migration completes, the VM manager removes it).</summary>
    private async Task<bool> StillHereAsync(string name)
    {
        try
        {
            await _vms.GetAsync(name, CancellationToken.None).ConfigureAwait(false);
            return true;
        }
        catch (VirtException e) when (e.ErrorKind == VirtErrorKind.NotFound)
        {
            return false;
        }
    }

    private async Task AbandonQuietlyAsync(string name, long created)
    {
        try
        {
            await _cluster.AbandonMigrationAsync(name, created, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ClusterException or TimeoutException)
        {
            // The record lives under this node's lease: at worst it goes with it.
            Log.MigrationFailed(_logger, $"ending the migration record of VM {name}", e.Message);
        }
    }
}
