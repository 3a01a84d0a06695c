using System.Globalization;
using System.Text.Json;
using Etcdserverpb;
using Virt.Cluster.Membership;
using Virt.Cluster.Store;
using Virt.IO;

using Log = Virt.Cluster.Log;

namespace Virt.Clustering;

public sealed partial class ClusterManager
{
    /// <inheritdoc />
    public async Task<ClusterNode> JoinAsync(NodeCapacity? capacity = null, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        await _joinGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_lease is { IsValid: true })
            {
                return await GetNodeAsync(NodeName, cancellationToken).ConfigureAwait(false);
            }

            if (_lease is { } lost)
            {
                // Whoever fences on the loss hears of it before the old lease's watchdog is stopped.
                lost.ExpireIfRunOut();
                await lost.DisposeAsync().ConfigureAwait(false);
                _lease = null;
            }

            capacity ??= await _capacity.MeasureAsync(cancellationToken).ConfigureAwait(false);
            var stateDirectory = OwnerOnly.CreateDirectory(_files, _options.StateDirectory);

            // Processes of one node join one at a time, so that they end up sharing one lease.
            using var joinLock = await NodeJoinLock.AcquireAsync(_files, Path.Combine(stateDirectory, NodeName + ".lock"), NodeName, _options.OperationTimeout * 2, cancellationToken).ConfigureAwait(false);
            var statePath = Path.Combine(stateDirectory, NodeName + ".json");
            var state = await ReadNodeStateAsync(statePath, cancellationToken).ConfigureAwait(false) ?? new NodeStateRecord(Guid.NewGuid().ToString("N"), 0);

            // A lease in the state file is another process's of this node, or this one's before a restart: renewing it
            // tells whether it still exists (etcd reports a lease with under a second left as 0 seconds, renewing does not).
            var sentAt = _time.GetTimestamp();
            var granted = state.LeaseId != 0 ? await _store.KeepAliveOnceAsync(state.LeaseId, _options.OperationTimeout, cancellationToken).ConfigureAwait(false) : 0;
            var leaseId = state.LeaseId;
            if (granted <= 0)
            {
                sentAt = _time.GetTimestamp();
                leaseId = await _store.GrantLeaseAsync((long)LeaseTtl.TotalSeconds, cancellationToken).ConfigureAwait(false);
                granted = (long)LeaseTtl.TotalSeconds;
            }

            NodeLease? lease = null;
            try
            {
                var memberRevision = await RegisterMemberAsync(state.HostId, leaseId, cancellationToken).ConfigureAwait(false);
                lease = new NodeLease(_store, _keys, NodeName, leaseId, memberRevision, capacity, LeaseTtl, _capacity, _logger, _time, NotifyLeaseLost);
                if (!await lease.WriteHeartbeatAsync(capacity, cancellationToken).ConfigureAwait(false))
                {
                    throw new ClusterException(VirtErrorKind.Conflict, $"node {NodeName} was removed from the cluster while it joined (by another process); join again");
                }

                if (leaseId != state.LeaseId)
                {
                    await StateFile.WriteAsync(_files, statePath, JsonSerializer.SerializeToUtf8Bytes(state with { LeaseId = leaseId }, ClusterJsonContext.Default.NodeStateRecord), OwnerOnly.FileMode, cancellationToken).ConfigureAwait(false);
                }
            }
            catch
            {
                // Nothing half-made: a lease this join granted goes (its heartbeat, if written, with it).
                if (lease is not null)
                {
                    await lease.DisposeAsync().ConfigureAwait(false);
                }

                if (leaseId != state.LeaseId)
                {
                    await RevokeQuietlyAsync(leaseId).ConfigureAwait(false);
                }

                throw;
            }

            lease.Start(lease.ValidUntil(sentAt, granted));
            _lease = lease;
            Log.NodeJoined(_logger, NodeName, _store.Endpoints, leaseId, (long)LeaseTtl.TotalSeconds);
            return await GetNodeAsync(NodeName, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _joinGate.Release();
        }
    }

    /// <inheritdoc />
    public async Task LeaveAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        await _joinGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var ownersRead = await RequireOwnsNothingAsync(NodeName, "leave the cluster", cancellationToken).ConfigureAwait(false);

            // Only a process that holds the node's lease removes the node: one that never joined (a CLI under the same
            // name) must not pull the membership from under the running node.
            RequireLease("leave the cluster");
            var lease = _lease!;
            var response = await TxnAsync(
                $"remove node {NodeName}",
                [EtcdCompare.CreatedAt(_keys.Member(NodeName), lease.MemberRevision), EtcdCompare.NoneChangedSince(_keys.Owners, ownersRead), EtcdCompare.NoneChangedSince(_keys.Migrations, ownersRead)],
                [Delete(_keys.Member(NodeName)), Delete(_keys.AliveOf(NodeName)), DeletePrefix(_keys.AppliedOf(NodeName))],
                [Get(_keys.Member(NodeName))],
                cancellationToken).ConfigureAwait(false);
            if (!response.Succeeded && response.Responses[0].ResponseRange.Kvs.FirstOrDefault()?.CreateRevision == lease.MemberRevision)
            {
                // Still a member: an ownership changed after the check (a guest claimed or handed to this node). It stays.
                throw new ClusterException(VirtErrorKind.Conflict, $"node {NodeName} did not leave the cluster: a guest's ownership or a migration changed somewhere in the cluster while it left (this node may own a guest now); check ListGuestsAsync and try again");
            }

            await lease.DisposeAsync().ConfigureAwait(false);
            _lease = null;
            await RevokeQuietlyAsync(lease.LeaseId).ConfigureAwait(false);
            if (!response.Succeeded)
            {
                throw new ClusterException(VirtErrorKind.Conflict, $"node {NodeName} had already been removed from the cluster (by another process); its lease is revoked");
            }

            Log.NodeLeft(_logger, NodeName);
        }
        finally
        {
            _joinGate.Release();
        }
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<ClusterNode>> ListNodesAsync(CancellationToken cancellationToken = default) =>
        await ReadNodesAsync(cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public async Task<ClusterNode> GetNodeAsync(string name, CancellationToken cancellationToken = default)
    {
        ClusterNames.Check(name, "node", nameof(name));
        var nodes = await ReadNodesAsync(cancellationToken).ConfigureAwait(false);
        return nodes.FirstOrDefault(n => n.Name == name) ?? throw UnknownNode(name, nodes);
    }

    /// <inheritdoc />
    public async Task SetMaintenanceAsync(string name, bool maintenance, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        ClusterNames.Check(name, "node", nameof(name));
        await SetMaintenanceAndAsync(name, maintenance, [], cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Sets the maintenance flag and, in the same transaction, does <paramref name="alongside"/> (e.g. clears a drain).</summary>
    private async Task SetMaintenanceAndAsync(string name, bool maintenance, RequestOp[] alongside, CancellationToken cancellationToken)
    {
        while (true)
        {
            var (record, revision) = await ReadMemberAsync(name, cancellationToken).ConfigureAwait(false);
            var updated = record with { Maintenance = maintenance };
            var response = await TxnAsync($"set maintenance of node {name}", [EtcdCompare.ModRevisionIs(_keys.Member(name), revision)], [Put(_keys.Member(name), JsonSerializer.SerializeToUtf8Bytes(updated, ClusterJsonContext.Default.MemberRecord)), .. alongside], null, cancellationToken).ConfigureAwait(false);
            if (response.Succeeded)
            {
                Log.MaintenanceChanged(_logger, name, maintenance);
                return;
            }

            // The record changed between the read and the write (another flag, a rejoin): apply the flag to the new one.
        }
    }

    /// <inheritdoc />
    public async Task RemoveNodeAsync(string name, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        ClusterNames.Check(name, "node", nameof(name));
        var (_, revision) = await ReadMemberAsync(name, cancellationToken).ConfigureAwait(false);
        var ownersRead = await RequireOwnsNothingAsync(name, "be removed", cancellationToken).ConfigureAwait(false);
        var aliveKey = _keys.AliveOf(name);
        var response = await TxnAsync(
            $"remove node {name}",
            [EtcdCompare.ModRevisionIs(_keys.Member(name), revision), EtcdCompare.Absent(aliveKey), EtcdCompare.NoneChangedSince(_keys.Owners, ownersRead), EtcdCompare.NoneChangedSince(_keys.Migrations, ownersRead)],
            [Delete(_keys.Member(name)), DeletePrefix(_keys.AppliedOf(name))],
            [Get(aliveKey)],
            cancellationToken).ConfigureAwait(false);
        if (!response.Succeeded)
        {
            var alive = response.Responses[0].ResponseRange.Kvs.Count > 0;
            throw new ClusterException(VirtErrorKind.Refused, alive
                ? $"node {name} cannot be removed: it is alive (it holds its lease); have it leave (LeaveAsync) or stop it and wait for its lease to expire"
                : $"node {name} or a guest's ownership changed while it was being removed; try again");
        }
    }

    /// <summary>Every node, from one consistent read plus each live lease's remaining time.</summary>
    private async Task<IReadOnlyList<ClusterNode>> ReadNodesAsync(CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        var snapshot = await TxnAsync("read the nodes", [], [GetPrefix(_keys.Members), GetPrefix(_keys.Alive)], null, cancellationToken).ConfigureAwait(false);
        var heartbeats = snapshot.Responses[1].ResponseRange.Kvs.ToDictionary(kv => kv.Key.ToStringUtf8()[_keys.Alive.Length..], kv => kv, StringComparer.Ordinal);
        var leaseChecks = heartbeats.Values.Select(kv => kv.Lease).Distinct().ToDictionary(lease => lease, lease => _store.LeaseRemainingAsync(lease, cancellationToken));
        await Task.WhenAll(leaseChecks.Values).ConfigureAwait(false);
        var nodes = new List<ClusterNode>();
        foreach (var kv in snapshot.Responses[0].ResponseRange.Kvs)
        {
            var key = kv.Key.ToStringUtf8();
            var name = key[_keys.Members.Length..];
            var member = Parse(kv.Value, ClusterJsonContext.Default.MemberRecord, key);
            HeartbeatRecord? heartbeat = null;
            TimeSpan? remaining = null;
            if (heartbeats.TryGetValue(name, out var alive))
            {
                heartbeat = Parse(alive.Value, ClusterJsonContext.Default.HeartbeatRecord, alive.Key.ToStringUtf8());
                var seconds = await leaseChecks[alive.Lease].ConfigureAwait(false);
                remaining = seconds >= 0 ? TimeSpan.FromSeconds(seconds) : null;
            }

            var state = NodeStateRules.StateOf(member.Maintenance, heartbeat is not null, remaining, LeaseTtl);
            nodes.Add(new ClusterNode(name, state, state == ClusterNodeState.Dead ? null : heartbeat?.Capacity, member.JoinedAt, state == ClusterNodeState.Dead ? null : remaining, member.Maintenance) { Values = member.Values ?? new Dictionary<string, string>() });
        }

        return nodes.OrderBy(n => n.Name, StringComparer.Ordinal).ToList();
    }

    /// <summary>Writes the member record (first join) or checks that it is this node's (a rejoin, or another process of it).</summary>
    /// <returns>The member record's create revision, which the heartbeat and the start gate compare.</returns>
    private async Task<long> RegisterMemberAsync(string hostId, long leaseId, CancellationToken cancellationToken)
    {
        var memberKey = _keys.Member(NodeName);
        var values = _options.NodeValues.Count == 0 ? null : new SortedDictionary<string, string>(_options.NodeValues, StringComparer.Ordinal);
        var fresh = new MemberRecord(hostId, _time.GetUtcNow(), Maintenance: false, values);
        var created = await TxnAsync(
            $"register node {NodeName}",
            [EtcdCompare.Absent(memberKey)],
            [Put(memberKey, JsonSerializer.SerializeToUtf8Bytes(fresh, ClusterJsonContext.Default.MemberRecord))],
            [Get(memberKey), Get(_keys.AliveOf(NodeName))],
            cancellationToken).ConfigureAwait(false);
        if (created.Succeeded)
        {
            return created.Header.Revision;
        }

        var existingKv = created.Responses[0].ResponseRange.Kvs[0];
        var existing = Parse(existingKv.Value, ClusterJsonContext.Default.MemberRecord, memberKey);
        if (existing.HostId == hostId)
        {
            await PublishValuesAsync(memberKey, existing, existingKv.ModRevision, values, cancellationToken).ConfigureAwait(false);
            return existingKv.CreateRevision;
        }

        var alive = created.Responses[1].ResponseRange.Kvs.FirstOrDefault();
        throw new ClusterException(VirtErrorKind.Conflict, alive is not null && alive.Lease != leaseId
            ? string.Create(CultureInfo.InvariantCulture, $"node name '{NodeName}' is taken: another host (state directory id {existing.HostId}, joined {existing.JoinedAt:u}) is in the cluster under it and holds its lease; give this host another ClusterOptions.NodeName")
            : string.Create(CultureInfo.InvariantCulture, $"node name '{NodeName}' is taken: another host (state directory id {existing.HostId}, joined {existing.JoinedAt:u}) was a member under it and is now dead; recover its guests, then remove it with RemoveNodeAsync(\"{NodeName}\"), or give this host another ClusterOptions.NodeName"));
    }

    /// <summary>A rejoin with other <see cref="ClusterOptions.NodeValues"/> than the member record has: the record takes them (its create revision stays).</summary>
    private async Task PublishValuesAsync(string memberKey, MemberRecord existing, long revision, IReadOnlyDictionary<string, string>? values, CancellationToken cancellationToken)
    {
        while (!SameValues(existing.Values, values))
        {
            var updated = existing with { Values = values };
            var response = await TxnAsync($"publish the values of node {NodeName}", [EtcdCompare.ModRevisionIs(memberKey, revision)], [Put(memberKey, JsonSerializer.SerializeToUtf8Bytes(updated, ClusterJsonContext.Default.MemberRecord))], null, cancellationToken).ConfigureAwait(false);
            if (response.Succeeded)
            {
                return;
            }

            // Another change of the record (a maintenance flag) came first: apply the values to it, if it is still this host's.
            var hostId = existing.HostId;
            (existing, revision) = await ReadMemberAsync(NodeName, cancellationToken).ConfigureAwait(false);
            if (existing.HostId != hostId)
            {
                throw new ClusterException(VirtErrorKind.Conflict, $"node name '{NodeName}' was taken over by another host (state directory id {existing.HostId}) while this host joined; give this host another ClusterOptions.NodeName");
            }
        }

        static bool SameValues(IReadOnlyDictionary<string, string>? a, IReadOnlyDictionary<string, string>? b) =>
            (a?.Count ?? 0) == (b?.Count ?? 0) && (a ?? new Dictionary<string, string>()).All(pair => b!.TryGetValue(pair.Key, out var value) && value == pair.Value);
    }

    private async Task<(MemberRecord Record, long Revision)> ReadMemberAsync(string name, CancellationToken cancellationToken)
    {
        var response = await _store.RangeAsync(_keys.Member(name), prefix: false, cancellationToken).ConfigureAwait(false);
        if (response.Kvs.Count == 0)
        {
            throw UnknownNode(name, await ReadNodesAsync(cancellationToken).ConfigureAwait(false));
        }

        return (Parse(response.Kvs[0].Value, ClusterJsonContext.Default.MemberRecord, _keys.Member(name)), response.Kvs[0].ModRevision);
    }

    private static ClusterException UnknownNode(string name, IReadOnlyList<ClusterNode> nodes) =>
        new(VirtErrorKind.NotFound, nodes.Count == 0
            ? $"node '{name}' is not in the cluster, which has no nodes; a node joins with IClusterManager.JoinAsync"
            : $"node '{name}' is not in the cluster; its nodes are {string.Join(", ", nodes.Select(n => n.Name))}");

    private async Task<NodeStateRecord?> ReadNodeStateAsync(string path, CancellationToken cancellationToken)
    {
        if (!_files.File.Exists(path))
        {
            return null;
        }

        var bytes = await _files.File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
        try
        {
            return JsonSerializer.Deserialize(bytes, ClusterJsonContext.Default.NodeStateRecord);
        }
        catch (JsonException e)
        {
            throw new ClusterException(VirtErrorKind.Failed, $"node {NodeName}'s state file '{path}' is not valid JSON ({e.Message}); it holds the node's identity: restore it from a backup, or delete it to join as a new host (then remove the old member first)", e);
        }
    }

    private async Task RevokeQuietlyAsync(long leaseId)
    {
        try
        {
            await _store.RevokeLeaseAsync(leaseId, CancellationToken.None).ConfigureAwait(false);
        }
        catch (ClusterException)
        {
            // It expires by itself within the TTL.
        }
    }

    /// <summary>Calls <paramref name="handler"/> (on the renewal's thread: keep it short) when this process loses the node's lease.</summary>
    internal IDisposable SubscribeLeaseLost(Action<string> handler)
    {
        lock (_leaseLostHandlers)
        {
            _leaseLostHandlers.Add(handler);
        }

        return new Unsubscriber(() =>
        {
            lock (_leaseLostHandlers)
            {
                _leaseLostHandlers.Remove(handler);
            }
        });
    }

    private void NotifyLeaseLost(string reason)
    {
        Action<string>[] handlers;
        lock (_leaseLostHandlers)
        {
            handlers = [.. _leaseLostHandlers];
        }

        foreach (var handler in handlers)
        {
            handler(reason);
        }
    }

    private sealed class Unsubscriber(Action unsubscribe) : IDisposable
    {
        public void Dispose() => unsubscribe();
    }
}
