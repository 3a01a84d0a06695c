using System.Globalization;
using System.Text.Json;
using Etcdserverpb;
using Google.Protobuf;
using Virt.Cluster.Placement;
using Virt.Cluster.Store;

using Log = Virt.Cluster.Log;

namespace Virt.Clustering;

public sealed partial class ClusterManager
{
    /// <inheritdoc />
    public async Task<GuestOwnership> ClaimAsync(ClusterGuestKind kind, string name, GuestClaim claim, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        ClusterNames.Check(name, "guest", nameof(name));
        ArgumentNullException.ThrowIfNull(claim);
        ArgumentOutOfRangeException.ThrowIfNegative(claim.MemoryBytes);
        if (claim.AntiAffinityGroup is { } group)
        {
            ClusterNames.Check(group, "anti-affinity group", nameof(claim));
        }

        var lease = RequireLease($"claim {kind} {name}");
        var memberRevision = _lease!.MemberRevision;
        var key = _keys.Owner(kind, name);
        var record = new OwnerRecord(NodeName, claim.MemoryBytes, claim.AntiAffinityGroup, claim.HighAvailability);

        // The claim holds only while this node's heartbeat is under this process's lease: a node that lost it claims nothing.
        var response = await TxnAsync(
            $"claim {kind} {name}",
            [EtcdCompare.Absent(key), EtcdCompare.LeaseIs(_keys.AliveOf(NodeName), lease), MemberIs(memberRevision)],
            [Put(key, JsonSerializer.SerializeToUtf8Bytes(record, ClusterJsonContext.Default.OwnerRecord))],
            [Get(key), Get(_keys.AliveOf(NodeName)), Get(_keys.Member(NodeName))],
            cancellationToken).ConfigureAwait(false);
        if (response.Succeeded)
        {
            Log.OwnershipChanged(_logger, kind.ToString(), name, NodeName);
            return new GuestOwnership(kind, name, NodeName, record.MemoryBytes, record.AntiAffinityGroup, response.Header.Revision, record.HighAvailability);
        }

        var stillHolds = response.Responses[1].ResponseRange.Kvs.FirstOrDefault()?.Lease == lease
            && response.Responses[2].ResponseRange.Kvs.FirstOrDefault()?.CreateRevision == memberRevision;
        if (response.Responses[0].ResponseRange.Kvs.FirstOrDefault() is { } existing)
        {
            var owner = ToOwnership(kind, name, existing);
            if (owner.Node != NodeName)
            {
                throw new ClusterException(VirtErrorKind.Conflict, $"{kind} {name} is owned by node {owner.Node}: start, stop and migrate it there, or have it transferred (TransferAsync)");
            }

            if (stillHolds)
            {
                return owner;
            }
        }

        throw LeaseNotInStore($"claim {kind} {name}", response.Responses[1].ResponseRange);
    }

    /// <inheritdoc />
    public async Task<GuestOwnership?> GetOwnerAsync(ClusterGuestKind kind, string name, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        ClusterNames.Check(name, "guest", nameof(name));
        var response = await _store.RangeAsync(_keys.Owner(kind, name), prefix: false, cancellationToken).ConfigureAwait(false);
        return response.Kvs.Count == 0 ? null : ToOwnership(kind, name, response.Kvs[0]);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<GuestOwnership>> ListGuestsAsync(CancellationToken cancellationToken = default) =>
        (await ReadGuestsAsync(cancellationToken).ConfigureAwait(false)).Guests;

    /// <summary>
    /// Refuses, naming them, while <paramref name="node"/> owns guests; otherwise returns the revision of the read, for the
    /// caller's transaction to check that no ownership changed since (<see cref="EtcdCompare.NoneChangedSince"/>): a claim
    /// or transfer to the node between the check and the write then fails the write instead of being orphaned.
    /// </summary>
    private async Task<long> RequireOwnsNothingAsync(string node, string what, CancellationToken cancellationToken)
    {
        // Owners and migrations in one read: a migration to the node would hand it a guest after the check.
        var snapshot = await TxnAsync("read the owners and migrations", [], [GetPrefix(_keys.Owners), GetPrefix(_keys.Migrations)], null, cancellationToken).ConfigureAwait(false);
        var owned = snapshot.Responses[0].ResponseRange.Kvs
            .Select(kv => ParseOwnerKey(kv.Key.ToStringUtf8()) is { } id ? ToOwnership(id.Kind, id.Name, kv) : null)
            .Where(g => g is not null && g.Node == node)
            .Select(g => $"{g!.Kind} {g.Name}")
            .ToList();
        if (owned.Count > 0)
        {
            throw new ClusterException(VirtErrorKind.Refused, $"node {node} cannot {what}: it owns {string.Join(", ", owned)}; migrate or release them, or move their ownership to another node, first");
        }

        foreach (var kv in snapshot.Responses[1].ResponseRange.Kvs)
        {
            var migration = Parse(kv.Value, ClusterJsonContext.Default.MigrationRecord, kv.Key.ToStringUtf8());
            if (migration.Source == node || migration.Destination == node)
            {
                throw new ClusterException(VirtErrorKind.Refused, $"node {node} cannot {what}: a migration from node {migration.Source} to node {migration.Destination} is in flight ({kv.Key.ToStringUtf8()[_keys.Migrations.Length..]}); wait for it to end");
            }
        }

        return snapshot.Header.Revision;
    }

    private async Task<(IReadOnlyList<GuestOwnership> Guests, long Revision)> ReadGuestsAsync(CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        var response = await _store.RangeAsync(_keys.Owners, prefix: true, cancellationToken).ConfigureAwait(false);
        var guests = new List<GuestOwnership>(response.Kvs.Count);
        foreach (var kv in response.Kvs)
        {
            if (ParseOwnerKey(kv.Key.ToStringUtf8()) is { } id)
            {
                guests.Add(ToOwnership(id.Kind, id.Name, kv));
            }
        }

        return (guests, response.Header.Revision);
    }

    /// <inheritdoc />
    public async Task<GuestOwnership> TransferAsync(ClusterGuestKind kind, string name, string toNode, long expectedRevision, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        ClusterNames.Check(name, "guest", nameof(name));
        ClusterNames.Check(toNode, "node", nameof(toNode));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(expectedRevision);
        var key = _keys.Owner(kind, name);
        var current = await GetOwnerAsync(kind, name, cancellationToken).ConfigureAwait(false)
            ?? throw new ClusterException(VirtErrorKind.NotFound, $"{kind} {name} has no owner to transfer from; claim it on the node that runs it (ClaimAsync)");
        // Ownership moves only from its owner (holding its lease) or from a dead owner: taking a guest from a live node
        // that may be starting it would let it run twice.
        var memberKey = _keys.Member(toNode);
        var fromAlive = _keys.AliveOf(current.Node);
        var fromOwner = current.Node == NodeName && _lease is { IsValid: true } own
            ? new[] { EtcdCompare.LeaseIs(fromAlive, own.LeaseId), MemberIs(own.MemberRevision) }
            : [EtcdCompare.Absent(fromAlive)];
        var record = new OwnerRecord(toNode, current.MemoryBytes, current.AntiAffinityGroup, current.HighAvailability, current.RequestedState);
        var migrationKey = _keys.Migration(kind, name);
        var response = await TxnAsync(
            $"transfer {kind} {name} to {toNode}",
            [EtcdCompare.ModRevisionIs(key, expectedRevision), EtcdCompare.Exists(memberKey), EtcdCompare.Absent(migrationKey), .. fromOwner],
            [Put(key, JsonSerializer.SerializeToUtf8Bytes(record, ClusterJsonContext.Default.OwnerRecord))],
            [Get(key), Get(memberKey), Get(fromAlive), Get(migrationKey)],
            cancellationToken).ConfigureAwait(false);
        if (!response.Succeeded)
        {
            ThrowIfMigrating(kind, name, response.Responses[3].ResponseRange, "hand it over");
            if (response.Responses[1].ResponseRange.Kvs.Count == 0)
            {
                throw UnknownNode(toNode, await ReadNodesAsync(cancellationToken).ConfigureAwait(false));
            }

            var now = response.Responses[0].ResponseRange.Kvs.FirstOrDefault();
            if (now is not null && now.ModRevision == expectedRevision && response.Responses[2].ResponseRange.Kvs.Count > 0)
            {
                throw new ClusterException(VirtErrorKind.Refused, current.Node == NodeName
                    ? $"{kind} {name}: node {NodeName} owns it but holds no valid lease, so it may not hand it over; join again (JoinAsync)"
                    : $"{kind} {name} is owned by node {current.Node}, which is alive: only that node may hand it over (it may be running it); transfer it from there, or wait until its lease has expired");
            }

            var state = now is not null
                ? string.Create(CultureInfo.InvariantCulture, $"is at revision {now.ModRevision} (owner {ToOwnership(kind, name, now).Node})")
                : "was released";
            throw new ClusterConflictException(string.Create(CultureInfo.InvariantCulture, $"{kind} {name}: the transfer to {toNode} was based on ownership revision {expectedRevision}, but it {state}; read it again and decide on the new owner"), expectedRevision, now?.ModRevision ?? 0);
        }

        Log.OwnershipChanged(_logger, kind.ToString(), name, toNode);
        return current with { Node = toNode, Revision = response.Header.Revision };
    }

    /// <inheritdoc />
    public async Task ReleaseAsync(ClusterGuestKind kind, string name, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        var current = await GetOwnerAsync(kind, name, cancellationToken).ConfigureAwait(false);
        if (current is null)
        {
            return;
        }

        if (current.Node != NodeName)
        {
            throw new ClusterException(VirtErrorKind.Conflict, $"{kind} {name} is owned by node {current.Node}, not {NodeName}: release it there");
        }

        var migrationKey = _keys.Migration(kind, name);
        var response = await TxnAsync($"release {kind} {name}", [EtcdCompare.ModRevisionIs(_keys.Owner(kind, name), current.Revision), EtcdCompare.Absent(migrationKey)], [Delete(_keys.Owner(kind, name))], [Get(migrationKey)], cancellationToken).ConfigureAwait(false);
        if (!response.Succeeded)
        {
            ThrowIfMigrating(kind, name, response.Responses[0].ResponseRange, "release it");
            var now = await GetOwnerAsync(kind, name, cancellationToken).ConfigureAwait(false);
            throw new ClusterConflictException($"{kind} {name}: its ownership changed while node {NodeName} released it (now {(now is null ? "released" : $"owned by {now.Node}")}); read it again", current.Revision, now?.Revision ?? 0);
        }
    }

    /// <inheritdoc />
    public async Task EnsureMayStartAsync(ClusterGuestKind kind, string name, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        ClusterNames.Check(name, "guest", nameof(name));
        var lease = RequireLease($"start {kind} {name}");
        var key = _keys.Owner(kind, name);
        var migrationKey = _keys.Migration(kind, name);

        // One linearizable transaction: the owner is this node, this node's heartbeat is under the lease this process
        // renews, its member record is the one it joined with, and the guest is not being migrated between nodes (its
        // state is moving: the source still runs it, and the destination may already).
        var response = await TxnAsync(
            $"check that node {NodeName} may start {kind} {name}",
            [EtcdCompare.LeaseIs(_keys.AliveOf(NodeName), lease), MemberIs(_lease!.MemberRevision)],
            [Get(key), Get(migrationKey)],
            [Get(_keys.AliveOf(NodeName))],
            cancellationToken).ConfigureAwait(false);
        if (!response.Succeeded)
        {
            throw LeaseNotInStore($"start {kind} {name}", response.Responses[0].ResponseRange);
        }

        var owner = response.Responses[0].ResponseRange.Kvs.FirstOrDefault() is { } kv ? ToOwnership(kind, name, kv) : null;
        if (owner is null)
        {
            throw new ClusterException(VirtErrorKind.Refused, $"node {NodeName} may not start {kind} {name}: it has no owner; claim it first (ClaimAsync)");
        }

        if (owner.Node != NodeName)
        {
            throw new ClusterException(VirtErrorKind.Refused, $"node {NodeName} may not start {kind} {name}: node {owner.Node} owns it; start it there, or transfer it (TransferAsync)");
        }

        if (response.Responses[1].ResponseRange.Kvs.FirstOrDefault() is { } inFlight)
        {
            var migration = Parse(inFlight.Value, ClusterJsonContext.Default.MigrationRecord, migrationKey);
            throw new ClusterException(VirtErrorKind.Refused, $"node {NodeName} may not start {kind} {name}: it is being migrated from node {migration.Source} to node {migration.Destination}; wait for the migration to end");
        }
    }

    /// <summary>Turns a guest's HA flag on or off, and sets the state HA keeps it in (unchanged where null); only its owner, holding its lease, may.</summary>
    internal async Task<GuestOwnership> SetHighAvailabilityAsync(ClusterGuestKind kind, string name, bool highAvailability, CancellationToken cancellationToken, HaRequestedState? requestedState = null)
    {
        ThrowIfDisposed();
        ClusterNames.Check(name, "guest", nameof(name));
        var lease = RequireLease($"change the HA flag of {kind} {name}");
        var memberRevision = _lease!.MemberRevision;
        var current = await GetOwnerAsync(kind, name, cancellationToken).ConfigureAwait(false)
            ?? throw new ClusterException(VirtErrorKind.NotFound, $"{kind} {name} has no owner; claim it first (ClaimAsync)");
        if (current.Node != NodeName)
        {
            throw new ClusterException(VirtErrorKind.Conflict, $"{kind} {name} is owned by node {current.Node}: change its HA flag there");
        }

        var key = _keys.Owner(kind, name);
        var state = requestedState ?? current.RequestedState;
        var record = new OwnerRecord(NodeName, current.MemoryBytes, current.AntiAffinityGroup, highAvailability, state);
        var migrationKey = _keys.Migration(kind, name);
        var response = await TxnAsync(
            $"set the HA flag of {kind} {name}",
            [EtcdCompare.ModRevisionIs(key, current.Revision), EtcdCompare.LeaseIs(_keys.AliveOf(NodeName), lease), MemberIs(memberRevision), EtcdCompare.Absent(migrationKey)],
            [Put(key, JsonSerializer.SerializeToUtf8Bytes(record, ClusterJsonContext.Default.OwnerRecord))],
            [Get(migrationKey)],
            cancellationToken).ConfigureAwait(false);
        if (!response.Succeeded)
        {
            ThrowIfMigrating(kind, name, response.Responses[0].ResponseRange, "change its HA flag");
            throw new ClusterConflictException($"{kind} {name}: its ownership changed while node {NodeName} set its HA flag; read it again", current.Revision, 0);
        }

        return current with { HighAvailability = highAvailability, RequestedState = state, Revision = response.Header.Revision };
    }

    /// <summary>
    /// The gate the VM and container managers ask before a start: a guest with an owner in the cluster starts only through
    /// <see cref="EnsureMayStartAsync"/>; one without (not clustered) passes. Without a quorum nothing can be known, so
    /// nothing starts (as on a Proxmox node without quorum).
    /// </summary>
    /// <param name="kind">The guest's kind.</param>
    /// <param name="name">The guest's name.</param>
    /// <param name="cancellationToken">Cancels the check.</param>
    /// <returns>A task that completes when the start may go ahead.</returns>
    public async Task CheckStartAsync(ClusterGuestKind kind, string name, CancellationToken cancellationToken = default)
    {
        if (await GetOwnerAsync(kind, name, cancellationToken).ConfigureAwait(false) is not null)
        {
            await EnsureMayStartAsync(kind, name, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async Task<PlacementDecision> PlaceAsync(PlacementRequest request, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(request);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(request.MemoryBytes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(request.Cpus);
        var nodes = await ReadNodesAsync(cancellationToken).ConfigureAwait(false);
        foreach (var excluded in request.ExcludedNodes.Where(e => nodes.All(n => n.Name != e)))
        {
            throw UnknownNode(excluded, nodes);
        }

        var guests = await ListGuestsAsync(cancellationToken).ConfigureAwait(false);
        return PlacementPlanner.Place(request, nodes, guests);
    }

    /// <summary>
    /// Refuses an ownership change while the guest migrates between nodes: the hand-over that ends the migration moves the
    /// ownership from the revision the migration began at, and a change in between would leave the guest on no node.
    /// </summary>
    private void ThrowIfMigrating(ClusterGuestKind kind, string name, RangeResponse migration, string what)
    {
        if (migration.Kvs.FirstOrDefault() is { } kv)
        {
            var record = Parse(kv.Value, ClusterJsonContext.Default.MigrationRecord, _keys.Migration(kind, name));
            throw new ClusterException(VirtErrorKind.Refused, $"{kind} {name} is being migrated from node {record.Source} to node {record.Destination}: cannot {what} until the migration ends");
        }
    }

    /// <summary>The node's member record is still the one this process joined under (not removed, not re-made by another host).</summary>
    private Compare MemberIs(long createRevision) => EtcdCompare.CreatedAt(_keys.Member(NodeName), createRevision);

    private long RequireLease(string what)
    {
        var lease = _lease;
        if (lease is null)
        {
            throw new ClusterException(VirtErrorKind.Refused, $"node {NodeName} may not {what}: this process has not joined the cluster (JoinAsync)");
        }

        if (!lease.IsValid)
        {
            throw new ClusterException(VirtErrorKind.Refused, $"node {NodeName} may not {what}: it lost its lease {lease.LeaseId} (expired, revoked, or etcd unreachable for longer than the lease); join again (JoinAsync) once etcd is reachable");
        }

        return lease.LeaseId;
    }

    private ClusterException LeaseNotInStore(string what, RangeResponse alive)
    {
        var detail = alive.Kvs.FirstOrDefault() switch
        {
            null => "etcd has no heartbeat of it (its lease expired)",
            { } kv when kv.Lease != _lease?.LeaseId => string.Create(CultureInfo.InvariantCulture, $"its heartbeat is under lease {kv.Lease}, not this process's {_lease?.LeaseId}"),
            _ => "its member record is not the one it joined with (it was removed, or another host joined under its name)",
        };
        return new ClusterException(VirtErrorKind.Refused, $"node {NodeName} may not {what}: {detail}; join again (JoinAsync)");
    }

    private (ClusterGuestKind Kind, string Name)? ParseOwnerKey(string key)
    {
        var rest = key[_keys.Owners.Length..];
        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        return slash > 0 && ClusterKeys.GuestKindOf(rest[..slash]) is { } kind ? (kind, rest[(slash + 1)..]) : null;
    }

    private GuestOwnership ToOwnership(ClusterGuestKind kind, string name, Mvccpb.KeyValue kv)
    {
        var record = Parse(kv.Value, ClusterJsonContext.Default.OwnerRecord, _keys.Owner(kind, name));
        return new GuestOwnership(kind, name, record.Node, record.MemoryBytes, record.AntiAffinityGroup, kv.ModRevision, record.HighAvailability, record.RequestedState);
    }
}
