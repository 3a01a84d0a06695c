using System.Text.Json;
using Etcdserverpb;
using Mvccpb;
using Virt.Cluster.Store;
using Virt.Clustering;

namespace Virt.Cluster.Membership;

/// <summary>
/// One watcher's picture of the cluster, built from a snapshot and the watch's events: the members, when each node's
/// heartbeat was last seen (this process's clock), and the state last reported for each, so that a node is reported
/// only when its state or offer changes, not at every heartbeat. Thread-safe: the watch and the suspect clock share it.
/// </summary>
internal sealed class ClusterView(ClusterKeys keys, TimeSpan leaseTtl, TimeProvider time)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, MemberRecord> _members = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (HeartbeatRecord Record, long SeenAt)> _heartbeats = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ClusterNode> _reported = new(StringComparer.Ordinal);

    // The definition, owner, migration and drain keys reported as present: a resync reports those gone meanwhile as deleted.
    private readonly HashSet<string> _presentKeys = new(StringComparer.Ordinal);

    /// <summary>The last store revision this view has applied.</summary>
    public long Revision { get; private set; }

    public IReadOnlyList<ClusterEvent> Reset(TxnResponse snapshot)
    {
        lock (_gate)
        {
            _members.Clear();
            _heartbeats.Clear();
            foreach (var kv in snapshot.Responses[0].ResponseRange.Kvs)
            {
                _members[kv.Key.ToStringUtf8()[keys.Members.Length..]] = JsonSerializer.Deserialize(kv.Value.Span, ClusterJsonContext.Default.MemberRecord)!;
            }

            var now = time.GetTimestamp();
            foreach (var kv in snapshot.Responses[1].ResponseRange.Kvs)
            {
                _heartbeats[kv.Key.ToStringUtf8()[keys.Alive.Length..]] = (JsonSerializer.Deserialize(kv.Value.Span, ClusterJsonContext.Default.HeartbeatRecord)!, now);
            }

            Revision = snapshot.Header.Revision;
            var changes = new List<ClusterEvent>();

            // Definitions and owners as they stand: a watcher that starts (or resumes after etcd compacted what it missed)
            // learns every one, as if each had just been written, and each one it knew that is gone as deleted.
            var snapshotKeys = snapshot.Responses.Skip(2).SelectMany(r => r.ResponseRange.Kvs).ToList();
            var stillThere = snapshotKeys.Select(kv => kv.Key.ToStringUtf8()).ToHashSet(StringComparer.Ordinal);
            foreach (var gone in _presentKeys.Where(key => !stillThere.Contains(key)).Order(StringComparer.Ordinal).ToList())
            {
                AddKeyChange(new KeyValue { Key = Google.Protobuf.ByteString.CopyFromUtf8(gone), ModRevision = Revision }, deleted: true, changes);
            }

            foreach (var kv in snapshotKeys)
            {
                AddKeyChange(kv, deleted: false, changes);
            }

            foreach (var gone in _reported.Keys.Where(n => !_members.ContainsKey(n)).ToList())
            {
                _reported.Remove(gone);
                changes.Add(new ClusterNodeChanged(Revision, gone, null));
            }

            foreach (var name in _members.Keys.Order(StringComparer.Ordinal))
            {
                Report(name, Revision, changes, force: true);
            }

            return changes;
        }
    }

    public IReadOnlyList<ClusterEvent> Apply(WatchResponse response)
    {
        lock (_gate)
        {
            var changes = new List<ClusterEvent>();
            foreach (var change in response.Events)
            {
                var key = change.Kv.Key.ToStringUtf8();
                var revision = change.Kv.ModRevision;
                var deleted = change.Type == Event.Types.EventType.Delete;
                if (key.StartsWith(keys.Members, StringComparison.Ordinal))
                {
                    var name = key[keys.Members.Length..];
                    if (deleted)
                    {
                        _members.Remove(name);
                        _reported.Remove(name);
                        changes.Add(new ClusterNodeChanged(revision, name, null));
                    }
                    else
                    {
                        _members[name] = JsonSerializer.Deserialize(change.Kv.Value.Span, ClusterJsonContext.Default.MemberRecord)!;
                        Report(name, revision, changes, force: false);
                    }
                }
                else if (key.StartsWith(keys.Alive, StringComparison.Ordinal))
                {
                    var name = key[keys.Alive.Length..];
                    if (deleted)
                    {
                        _heartbeats.Remove(name);
                    }
                    else
                    {
                        _heartbeats[name] = (JsonSerializer.Deserialize(change.Kv.Value.Span, ClusterJsonContext.Default.HeartbeatRecord)!, time.GetTimestamp());
                    }

                    Report(name, revision, changes, force: false);
                }
                else
                {
                    AddKeyChange(change.Kv, deleted, changes);
                }
            }

            // Resume after the last event received. A header's revision says more only in a progress notice (no events,
            // not the reply that confirms the watch, whose header is etcd's revision before any catch-up was sent).
            if (response.Events.Count > 0)
            {
                Revision = Math.Max(Revision, response.Events[^1].Kv.ModRevision);
            }
            else if (!response.Created && !response.Canceled)
            {
                Revision = Math.Max(Revision, response.Header.Revision);
            }

            return changes;
        }
    }

    /// <summary>Nodes whose state moved by the clock alone (a heartbeat overdue): reported with revision 0.</summary>
    public IReadOnlyList<ClusterEvent> Tick()
    {
        lock (_gate)
        {
            var changes = new List<ClusterEvent>();
            foreach (var name in _members.Keys.Order(StringComparer.Ordinal))
            {
                Report(name, 0, changes, force: false);
            }

            return changes;
        }
    }

    private void Report(string name, long revision, List<ClusterEvent> changes, bool force)
    {
        if (!_members.TryGetValue(name, out var member))
        {
            return;
        }

        var hasHeartbeat = _heartbeats.TryGetValue(name, out var heartbeat);
        var since = hasHeartbeat ? time.GetElapsedTime(heartbeat.SeenAt) : TimeSpan.Zero;
        var state = NodeStateRules.StateSeen(member.Maintenance, hasHeartbeat, since, leaseTtl);
        var left = leaseTtl - since;
        var node = new ClusterNode(name, state, state == ClusterNodeState.Dead ? null : heartbeat.Record?.Capacity, member.JoinedAt, state == ClusterNodeState.Dead ? null : (left < TimeSpan.Zero ? TimeSpan.Zero : left), member.Maintenance) { Values = member.Values ?? new Dictionary<string, string>() };
        if (force || !_reported.TryGetValue(name, out var last) || last.State != node.State || last.Maintenance != node.Maintenance || !SameOffer(last.Capacity, node.Capacity)
            || last.Values.Count != node.Values.Count || last.Values.Any(value => !node.Values.TryGetValue(value.Key, out var same) || same != value.Value))
        {
            _reported[name] = node;
            changes.Add(new ClusterNodeChanged(revision, name, node));
        }
    }

    /// <summary>Whether two offers differ in more than free memory (which moves with every heartbeat).</summary>
    private static bool SameOffer(NodeCapacity? a, NodeCapacity? b) =>
        a is null || b is null
            ? a is null && b is null
            : a.Cpus == b.Cpus && a.MemoryBytes == b.MemoryBytes && a.QemuVersion == b.QemuVersion && a.Networks.SequenceEqual(b.Networks) && a.Pools.SequenceEqual(b.Pools);

    private void AddKeyChange(KeyValue kv, bool deleted, List<ClusterEvent> changes)
    {
        var key = kv.Key.ToStringUtf8();
        var revision = kv.ModRevision;
        if (deleted)
        {
            _presentKeys.Remove(key);
        }
        else
        {
            _presentKeys.Add(key);
        }

        if (key.StartsWith(keys.Definitions, StringComparison.Ordinal) && SplitKindAndName(key[keys.Definitions.Length..]) is { } definition
            && ClusterKeys.DefinitionKindOf(definition.Kind) is { } definitionKind)
        {
            changes.Add(new ClusterDefinitionChanged(revision, definitionKind, definition.Name, deleted ? null : new ClusterDefinition(definitionKind, definition.Name, kv.Value.ToStringUtf8(), revision)));
        }
        else if (key.StartsWith(keys.Owners, StringComparison.Ordinal) && SplitKindAndName(key[keys.Owners.Length..]) is { } guest
            && ClusterKeys.GuestKindOf(guest.Kind) is { } guestKind)
        {
            GuestOwnership? ownership = null;
            if (!deleted)
            {
                var record = JsonSerializer.Deserialize(kv.Value.Span, ClusterJsonContext.Default.OwnerRecord)
                    ?? throw new JsonException($"the owner record at '{key}' is null");
                ownership = new GuestOwnership(guestKind, guest.Name, record.Node, record.MemoryBytes, record.AntiAffinityGroup, revision, record.HighAvailability, record.RequestedState);
            }

            changes.Add(new ClusterOwnershipChanged(revision, guestKind, guest.Name, ownership));
        }
        else if (key.StartsWith(keys.Migrations, StringComparison.Ordinal) && SplitKindAndName(key[keys.Migrations.Length..]) is { } migrating
            && ClusterKeys.GuestKindOf(migrating.Kind) is { } migratingKind)
        {
            var migration = deleted ? null : ClusterRecordViews.ToMigration(migrating.Name, ParseOrEnd(kv, ClusterJsonContext.Default.MigrationRecord), revision);
            changes.Add(new ClusterMigrationChanged(revision, migratingKind, migrating.Name, migration));
        }
        else if (key.StartsWith(keys.Drains, StringComparison.Ordinal))
        {
            var node = key[keys.Drains.Length..];
            var drain = deleted ? null : ClusterRecordViews.ToDrain(node, ParseOrEnd(kv, ClusterJsonContext.Default.DrainRecord), revision);
            changes.Add(new ClusterDrainChanged(revision, node, drain));
        }
    }

    /// <summary>A record that is not the SDK's ends the watch (with the key named), as a bad owner record does.</summary>
    private static T ParseOrEnd<T>(KeyValue kv, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type) =>
        JsonSerializer.Deserialize(kv.Value.Span, type) ?? throw new JsonException($"the record at '{kv.Key.ToStringUtf8()}' is null");

    private static (string Kind, string Name)? SplitKindAndName(string rest)
    {
        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        return slash > 0 ? (rest[..slash], rest[(slash + 1)..]) : null;
    }
}
