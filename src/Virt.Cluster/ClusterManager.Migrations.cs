using System.Text.Json;
using Virt.Cluster.Store;

using Log = Virt.Cluster.Log;

namespace Virt.Clustering;

/// <summary>
/// The records of a live migration between nodes (see <see cref="MigrationRecord"/>), for the nodes' migration agents. The
/// record is what keeps a VM from being started anywhere while its state moves, and its hand-over transaction is what makes
/// the destination the owner exactly once.
/// </summary>
public sealed partial class ClusterManager
{
    /// <summary>
    /// Writes the migration record under this node's lease: only while this node owns the VM at
    /// <see cref="MigrationRecord.OwnerRevision"/>, holds its lease, and no other migration of the VM is in flight.
    /// </summary>
    /// <returns>The record's revision (its create revision too).</returns>
    internal async Task<long> BeginMigrationAsync(string name, MigrationRecord record, CancellationToken cancellationToken)
    {
        var lease = RequireLease($"migrate VM {name}");
        var key = _keys.Migration(ClusterGuestKind.VirtualMachine, name);
        var ownerKey = _keys.Owner(ClusterGuestKind.VirtualMachine, name);
        var response = await TxnAsync(
            $"begin the migration of VM {name} to node {record.Destination}",
            [EtcdCompare.ModRevisionIs(ownerKey, record.OwnerRevision), EtcdCompare.Absent(key), EtcdCompare.LeaseIs(_keys.AliveOf(NodeName), lease), MemberIs(_lease!.MemberRevision)],
            [Put(key, JsonSerializer.SerializeToUtf8Bytes(record, ClusterJsonContext.Default.MigrationRecord), lease)],
            [Get(key), Get(ownerKey), Get(_keys.AliveOf(NodeName))],
            cancellationToken).ConfigureAwait(false);
        if (response.Succeeded)
        {
            return response.Header.Revision;
        }

        if (response.Responses[0].ResponseRange.Kvs.FirstOrDefault() is { } inFlight)
        {
            var other = Parse(inFlight.Value, ClusterJsonContext.Default.MigrationRecord, key);
            throw new ClusterException(VirtErrorKind.Conflict, $"VM {name} is already being migrated from node {other.Source} to node {other.Destination}; wait for that migration to end");
        }

        if (response.Responses[1].ResponseRange.Kvs.FirstOrDefault()?.ModRevision != record.OwnerRevision)
        {
            throw new ClusterConflictException($"VM {name}: its ownership changed while node {NodeName} began migrating it; read it again", record.OwnerRevision, response.Responses[1].ResponseRange.Kvs.FirstOrDefault()?.ModRevision ?? 0);
        }

        throw LeaseNotInStore($"migrate VM {name}", response.Responses[2].ResponseRange);
    }

    /// <summary>A migration record with its revision and the lease it lives under, or <see langword="null"/>.</summary>
    internal async Task<(MigrationRecord Record, long Revision, long CreateRevision, long Lease)?> ReadMigrationAsync(string name, CancellationToken cancellationToken)
    {
        var key = _keys.Migration(ClusterGuestKind.VirtualMachine, name);
        var response = await _store.RangeAsync(key, prefix: false, cancellationToken).ConfigureAwait(false);
        return response.Kvs.FirstOrDefault() is { } kv ? (Parse(kv.Value, ClusterJsonContext.Default.MigrationRecord, key), kv.ModRevision, kv.CreateRevision, kv.Lease) : null;
    }

    /// <summary>The destination's answer (its ticket, or why not), kept under the source's lease; only if the record is still at <paramref name="expectedRevision"/>.</summary>
    /// <returns>Whether it was written (false: the migration ended or changed meanwhile).</returns>
    internal async Task<bool> AnswerMigrationAsync(string name, long expectedRevision, long sourceLease, MigrationRecord answered, CancellationToken cancellationToken)
    {
        var key = _keys.Migration(ClusterGuestKind.VirtualMachine, name);
        var response = await TxnAsync(
            $"answer the migration of VM {name} from node {answered.Source}",
            [EtcdCompare.ModRevisionIs(key, expectedRevision)],
            [Put(key, JsonSerializer.SerializeToUtf8Bytes(answered, ClusterJsonContext.Default.MigrationRecord), sourceLease)],
            null,
            cancellationToken).ConfigureAwait(false);
        return response.Succeeded;
    }

    /// <summary>
    /// Hands the VM to the migration's destination and ends the migration, in one transaction, if its ownership is still the
    /// one the migration began from. Called by the source when QEMU reported completion and by the destination when its VM
    /// runs; whichever comes second finds it done.
    /// </summary>
    /// <returns>The VM's owner after the call (the destination, unless something else moved it first, e.g. an HA recovery).</returns>
    internal async Task<string?> CompleteMigrationAsync(string name, MigrationRecord record, CancellationToken cancellationToken)
    {
        var key = _keys.Migration(ClusterGuestKind.VirtualMachine, name);
        var ownerKey = _keys.Owner(ClusterGuestKind.VirtualMachine, name);
        var current = await GetOwnerAsync(ClusterGuestKind.VirtualMachine, name, cancellationToken).ConfigureAwait(false);
        if (current is null || current.Revision != record.OwnerRevision)
        {
            return current?.Node;
        }

        var owner = new OwnerRecord(record.Destination, current.MemoryBytes, current.AntiAffinityGroup, current.HighAvailability, current.RequestedState);
        var response = await TxnAsync(
            $"hand VM {name} to node {record.Destination} after its migration",
            [EtcdCompare.ModRevisionIs(ownerKey, record.OwnerRevision)],
            [Put(ownerKey, JsonSerializer.SerializeToUtf8Bytes(owner, ClusterJsonContext.Default.OwnerRecord)), Delete(key)],
            [Get(ownerKey)],
            cancellationToken).ConfigureAwait(false);
        if (response.Succeeded)
        {
            Log.OwnershipChanged(_logger, nameof(ClusterGuestKind.VirtualMachine), name, record.Destination);
            return record.Destination;
        }

        return response.Responses[0].ResponseRange.Kvs.FirstOrDefault() is { } kv ? ToOwnership(ClusterGuestKind.VirtualMachine, name, kv).Node : null;
    }

    /// <summary>Ends a migration that failed, if the record is still the one made at <paramref name="createRevision"/>.</summary>
    internal async Task AbandonMigrationAsync(string name, long createRevision, CancellationToken cancellationToken)
    {
        var key = _keys.Migration(ClusterGuestKind.VirtualMachine, name);
        await TxnAsync($"end the failed migration of VM {name}", [EtcdCompare.CreatedAt(key, createRevision)], [Delete(key)], null, cancellationToken).ConfigureAwait(false);
    }
}
