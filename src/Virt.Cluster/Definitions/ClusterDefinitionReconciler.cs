using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Virt.Networking;
using Virt.Storage;
using Log = Virt.Cluster.Log;

namespace Virt.Clustering;

/// <summary>
/// Brings this node's networks and storage pools to the cluster's shared definitions (<see cref="ClusterDefinitionKind.Network"/>
/// and <see cref="ClusterDefinitionKind.StoragePool"/>, as JSON in the forms of <see cref="NetworkDefinitionJson"/> and
/// <see cref="StoragePoolDefinitionJson"/>): a shared network is defined here and applied to the host; a shared pool is
/// defined here. It follows the cluster's watch (every definition as it changes) and goes over all of them again every
/// <see cref="ResyncInterval"/>, which also repairs what failed and what drifted. Run one per node, in the process that joined.
/// <list type="bullet">
/// <item>A network defined here already is replaced by the shared definition (the network backend replaces definitions).</item>
/// <item>A pool defined here differently is left as it is and reported (<see cref="Problems"/>): a pool's definition is
/// not replaced under its volumes; remove it here to take the cluster's.</item>
/// <item>A shared definition that is deleted is removed here only if this node's reconciler applied it and the local one
/// is still that one (a network with ports attached, or a pool that refuses, stays and is reported). What it applied is
/// recorded in etcd per node, so a deletion made while no reconciler ran on the node is undone when one starts again
/// (and at each resync).</item>
/// </list>
/// </summary>
public sealed class ClusterDefinitionReconciler : IAsyncDisposable
{
    private readonly ClusterManager _cluster;
    private readonly INetworkManager? _networks;
    private readonly IStorageManager? _storage;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stop = new();
    private readonly Channel<ClusterDefinitionChanged> _changes = Channel.CreateUnbounded<ClusterDefinitionChanged>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ConcurrentDictionary<string, string> _problems = new(StringComparer.Ordinal);

    // What this node's reconciler applied, by key, as recorded in etcd (P/applied/NODE/): a deleted shared definition is
    // removed here only if the local one is still it.
    private readonly ConcurrentDictionary<string, string> _applied = new(StringComparer.Ordinal);

    // The member record's revision each key was recorded under: a rejoin (a new member record) records them all again.
    private readonly ConcurrentDictionary<string, long> _recordedUnder = new(StringComparer.Ordinal);
    private bool _appliedLoaded;

    // Each member's values as last seen: a change renders the definitions that use {{peers:KEY}} anew.
    private readonly ConcurrentDictionary<string, string> _memberValues = new(StringComparer.Ordinal);
    private Task _running = Task.CompletedTask;
    private int _disposed;

    /// <summary>Creates the reconciler; <see cref="StartAsync"/> sets it going.</summary>
    /// <param name="cluster">This node's cluster manager.</param>
    /// <param name="networks">This node's network backend; null: shared networks are not applied here.</param>
    /// <param name="storage">This node's storage backend; null: shared pools are not defined here.</param>
    /// <param name="logger">Where to log.</param>
    /// <param name="time">The clock.</param>
    public ClusterDefinitionReconciler(ClusterManager cluster, INetworkManager? networks = null, IStorageManager? storage = null, ILogger<ClusterDefinitionReconciler>? logger = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        _cluster = cluster;
        _networks = networks;
        _storage = storage;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>How often every shared definition is applied again (what failed, what drifted). Default 30 s.</summary>
    public TimeSpan ResyncInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// What could not be brought to the shared definitions on this node, by <c>network/NAME</c> or <c>pool/NAME</c>, with
    /// why; an entry goes when the next try succeeds.
    /// </summary>
    public IReadOnlyDictionary<string, string> Problems => _problems;

    /// <summary>Sets the reconciler going: it follows the cluster until disposed.</summary>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <returns>A task that completes when it runs.</returns>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        _running = Task.WhenAll(
            Task.Run(() => FollowAsync(_stop.Token), CancellationToken.None),
            Task.Run(() => ResyncAsync(_stop.Token), CancellationToken.None),
            Task.Run(() => ApplyChangesAsync(_stop.Token), CancellationToken.None),
            Task.Run(() => LoadAppliedAsync(_stop.Token), CancellationToken.None));
        return Task.CompletedTask;
    }

    /// <summary>
    /// What an earlier reconciler of this node applied, read from etcd (again until etcd answers: an unreachable etcd at
    /// start is no reason to stay down); a definition deleted since is then removed here by the pass that follows.
    /// </summary>
    private async Task LoadAppliedAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                foreach (var (key, canonical) in await _cluster.ReadAppliedAsync(cancellationToken).ConfigureAwait(false))
                {
                    // What this process applied meanwhile is newer than the record it read.
                    _applied.TryAdd(key, canonical);
                }

                Volatile.Write(ref _appliedLoaded, true);
                await QueueAllAsync(cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                Log.ReconcileFailed(_logger, "reading what this node applied before", e.Message);
                await Task.Delay(ResyncInterval, _time, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        _changes.Writer.TryComplete();
        await _running.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stop.Dispose();
    }

    private Task FollowAsync(CancellationToken cancellationToken) => Virt.Cluster.ClusterFollower.FollowAsync(
        _cluster,
        change => change switch
        {
            ClusterDefinitionChanged { Kind: ClusterDefinitionKind.Network or ClusterDefinitionKind.StoragePool } definition => _changes.Writer.WriteAsync(definition, cancellationToken),
            ClusterNodeChanged node when MemberValuesChanged(node) => new ValueTask(QueueAllAsync(cancellationToken)),
            _ => ValueTask.CompletedTask,
        },
        reason => Log.ReconcileFailed(_logger, "following the cluster's definitions", reason),
        _time,
        cancellationToken);

    /// <summary>Every shared network and pool, again, every <see cref="ResyncInterval"/> (through the same queue, so one at a time).</summary>
    private async Task ResyncAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            await Task.Delay(ResyncInterval, _time, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            await QueueAllAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary>
    /// Puts every shared network and pool in the queue (the start, a resync, or members whose values changed), and a
    /// deletion for each one applied here that the cluster no longer defines (deleted while no reconciler followed it).
    /// </summary>
    private async Task QueueAllAsync(CancellationToken cancellationToken)
    {
        try
        {
            var applied = _applied.Keys.ToHashSet(StringComparer.Ordinal);
            foreach (var kind in new[] { ClusterDefinitionKind.Network, ClusterDefinitionKind.StoragePool })
            {
                foreach (var definition in await _cluster.ListDefinitionsAsync(kind, cancellationToken).ConfigureAwait(false))
                {
                    applied.Remove(KeyOf(kind, definition.Name));
                    await _changes.Writer.WriteAsync(new ClusterDefinitionChanged(definition.Revision, kind, definition.Name, definition), cancellationToken).ConfigureAwait(false);
                }
            }

            // Only once the record of what an earlier reconciler applied is read; each deletion is checked again when applied.
            foreach (var key in Volatile.Read(ref _appliedLoaded) ? applied : [])
            {
                if (KindAndNameOf(key) is var (kind, name))
                {
                    await _changes.Writer.WriteAsync(new ClusterDefinitionChanged(0, kind, name, null), cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            Log.ReconcileFailed(_logger, "reading the cluster's definitions", e.Message);
        }
    }

    /// <summary>Whether a member joined, left or published other values since last seen (state changes alone are not).</summary>
    private bool MemberValuesChanged(ClusterNodeChanged change)
    {
        if (change.Node is not { } node)
        {
            return _memberValues.TryRemove(change.Name, out _);
        }

        var values = string.Join('\n', node.Values.OrderBy(pair => pair.Key, StringComparer.Ordinal).Select(pair => pair.Key + "=" + pair.Value));
        var before = _memberValues.GetValueOrDefault(node.Name);
        _memberValues[node.Name] = values;
        return before != values;
    }

    /// <summary>The shared definition as this node applies it: its <c>{{node:KEY}}</c> and <c>{{peers:KEY}}</c> filled in.</summary>
    private async Task<string> RenderAsync(string key, string json, CancellationToken cancellationToken) =>
        Virt.Cluster.Definitions.NodeValuePlaceholders.Uses(json)
            ? Virt.Cluster.Definitions.NodeValuePlaceholders.Render(json, key, _cluster.NodeName, _cluster.NodeValues, await _cluster.ListNodesAsync(cancellationToken).ConfigureAwait(false))
            : json;

    private async Task ApplyChangesAsync(CancellationToken cancellationToken)
    {
        await foreach (var change in _changes.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            var key = KeyOf(change.Kind, change.Name);
            try
            {
                // A deletion is checked against etcd first: one queued by a resync (or an older watch event) may be stale,
                // the definition created again since, and removing it here would leave it missing until the next pass.
                var json = change.Definition?.Json ?? (await _cluster.GetDefinitionAsync(change.Kind, change.Name, cancellationToken).ConfigureAwait(false))?.Json;
                if (change.Kind == ClusterDefinitionKind.Network)
                {
                    await ReconcileNetworkAsync(key, change.Name, json, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await ReconcilePoolAsync(key, change.Name, json, cancellationToken).ConfigureAwait(false);
                }

                _problems.TryRemove(key, out _);
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                _problems[key] = e.Message;
                Log.ReconcileFailed(_logger, $"bringing {key} to the cluster's definition", e.Message);
            }
        }
    }

    private async Task ReconcileNetworkAsync(string key, string name, string? json, CancellationToken cancellationToken)
    {
        if (_networks is null)
        {
            return;
        }

        var local = await FindNetworkAsync(name, cancellationToken).ConfigureAwait(false);
        if (json is null)
        {
            if (local is not null && _applied.TryGetValue(key, out var applied) && NetworkDefinitionJson.Serialize(local) == applied)
            {
                await _networks.DeleteAsync(name, cancellationToken).ConfigureAwait(false);
                Log.DefinitionReconciled(_logger, key, _cluster.NodeName, "removed");
            }

            await ForgetAppliedAsync(key, cancellationToken).ConfigureAwait(false);
            return;
        }

        var shared = NetworkDefinitionJson.Deserialize(await RenderAsync(key, json, cancellationToken).ConfigureAwait(false));
        if (shared.Name != name)
        {
            throw new ClusterException(VirtErrorKind.InvalidInput, $"the shared definition {key} names network '{shared.Name}'");
        }

        var canonical = NetworkDefinitionJson.Serialize(shared);
        if (local is null || NetworkDefinitionJson.Serialize(local) != canonical)
        {
            await _networks.DefineAsync(shared, cancellationToken).ConfigureAwait(false);
            Log.DefinitionReconciled(_logger, key, _cluster.NodeName, local is null ? "defined" : "replaced");
        }

        // Recorded as soon as it is defined here, before the apply (which may fail, over and over: a missing uplink), so a
        // deletion of the shared definition still removes it.
        await RecordAppliedAsync(key, canonical, cancellationToken).ConfigureAwait(false);

        // Applied every time: cheap when the host matches, and it repairs drift.
        await _networks.ApplyAsync(name, cancellationToken).ConfigureAwait(false);
    }

    private static string KeyOf(ClusterDefinitionKind kind, string name) => kind == ClusterDefinitionKind.Network ? "network/" + name : "pool/" + name;

    /// <summary>The kind and name a key of <see cref="KeyOf"/> stands for; null for a key of no kind this reconciler applies.</summary>
    private static (ClusterDefinitionKind Kind, string Name)? KindAndNameOf(string key) =>
        key.StartsWith("network/", StringComparison.Ordinal) ? (ClusterDefinitionKind.Network, key["network/".Length..])
        : key.StartsWith("pool/", StringComparison.Ordinal) ? (ClusterDefinitionKind.StoragePool, key["pool/".Length..])
        : null;

    /// <summary>Remembers, here and in etcd (when it changed), what was applied for <paramref name="key"/>.</summary>
    private async Task RecordAppliedAsync(string key, string canonical, CancellationToken cancellationToken)
    {
        if (_applied.TryGetValue(key, out var before) && before == canonical && _recordedUnder.TryGetValue(key, out var member) && member == _cluster.MemberRevision)
        {
            return;
        }

        // Remembered first, so that a deletion still removes what was defined here even if the record in etcd fails; a
        // failed record (no revision noted) is written again by the next pass.
        _applied[key] = canonical;
        _recordedUnder[key] = await _cluster.RecordAppliedAsync(key, canonical, cancellationToken).ConfigureAwait(false);
    }

    private async Task ForgetAppliedAsync(string key, CancellationToken cancellationToken)
    {
        if (_applied.ContainsKey(key))
        {
            await _cluster.RecordAppliedAsync(key, null, cancellationToken).ConfigureAwait(false);
            _applied.TryRemove(key, out _);
            _recordedUnder.TryRemove(key, out _);
        }
    }

    private async Task ReconcilePoolAsync(string key, string name, string? json, CancellationToken cancellationToken)
    {
        if (_storage is null)
        {
            return;
        }

        var local = await FindPoolAsync(name, cancellationToken).ConfigureAwait(false);
        if (json is null)
        {
            if (local is not null && _applied.TryGetValue(key, out var applied) && StoragePoolDefinitionJson.Serialize(local) == applied)
            {
                await _storage.RemovePoolAsync(name, cancellationToken).ConfigureAwait(false);
                Log.DefinitionReconciled(_logger, key, _cluster.NodeName, "removed");
            }

            await ForgetAppliedAsync(key, cancellationToken).ConfigureAwait(false);
            return;
        }

        var shared = StoragePoolDefinitionJson.Deserialize(await RenderAsync(key, json, cancellationToken).ConfigureAwait(false));
        if (shared.Name != name)
        {
            throw new ClusterException(VirtErrorKind.InvalidInput, $"the shared definition {key} names pool '{shared.Name}'");
        }

        var canonical = StoragePoolDefinitionJson.Serialize(shared);
        if (local is null)
        {
            await _storage.DefinePoolAsync(shared, cancellationToken).ConfigureAwait(false);
            Log.DefinitionReconciled(_logger, key, _cluster.NodeName, "defined");
        }
        else if (StoragePoolDefinitionJson.Serialize(local) != canonical)
        {
            throw new ClusterException(VirtErrorKind.Conflict, $"pool {name} is defined on node {_cluster.NodeName} differently from the cluster's definition; a pool is not redefined under its volumes: remove it on this node (RemovePoolAsync) to take the cluster's, or change the shared one");
        }

        await RecordAppliedAsync(key, canonical, cancellationToken).ConfigureAwait(false);
    }

    private async Task<NetworkDefinition?> FindNetworkAsync(string name, CancellationToken cancellationToken)
    {
        try
        {
            return (await _networks!.GetAsync(name, cancellationToken).ConfigureAwait(false)).Definition;
        }
        catch (VirtException e) when (e.ErrorKind == VirtErrorKind.NotFound)
        {
            return null;
        }
    }

    private async Task<StoragePoolDefinition?> FindPoolAsync(string name, CancellationToken cancellationToken)
    {
        try
        {
            return (await _storage!.GetPoolAsync(name, cancellationToken).ConfigureAwait(false)).Definition;
        }
        catch (VirtException e) when (e.ErrorKind == VirtErrorKind.NotFound)
        {
            return null;
        }
    }
}
