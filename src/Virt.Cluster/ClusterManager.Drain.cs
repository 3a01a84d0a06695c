using System.Globalization;
using System.Text.Json;
using Virt.Cluster.Store;

using Log = Virt.Cluster.Log;

namespace Virt.Clustering;

public sealed partial class ClusterManager
{
    /// <inheritdoc />
    public async Task<ClusterDrain> RequestDrainAsync(string node, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        ClusterNames.Check(node, "node", nameof(node));
        var target = await GetNodeAsync(node, cancellationToken).ConfigureAwait(false);
        if (target.State == ClusterNodeState.Dead)
        {
            throw new ClusterException(VirtErrorKind.Refused, $"node {node} cannot be drained: it is dead (its lease expired), so nothing runs there to move its guests; its HA VMs are restarted elsewhere by the HA agents, the others wait for it to come back");
        }

        while (true)
        {
            var current = await ReadDrainAsync(node, cancellationToken).ConfigureAwait(false);
            if (current is { Record.State: ClusterDrainState.Requested or ClusterDrainState.Running } running)
            {
                return ClusterRecordViews.ToDrain(node, running.Record, running.Revision);
            }

            // Maintenance first, in the same transaction: from this revision on nothing is placed on the node, so a drain never
            // races a placement onto the node it empties.
            var (member, memberRevision) = await ReadMemberAsync(node, cancellationToken).ConfigureAwait(false);
            var record = new DrainRecord(ClusterDrainState.Requested, _time.GetUtcNow(), [], [], []);
            var drainKey = _keys.Drain(node);
            var response = await TxnAsync(
                $"ask node {node} to drain",
                [EtcdCompare.ModRevisionIs(_keys.Member(node), memberRevision), EtcdCompare.ModRevisionIs(drainKey, current?.Revision ?? 0)],
                [Put(_keys.Member(node), JsonSerializer.SerializeToUtf8Bytes(member with { Maintenance = true }, ClusterJsonContext.Default.MemberRecord)),
                 Put(drainKey, JsonSerializer.SerializeToUtf8Bytes(record, ClusterJsonContext.Default.DrainRecord))],
                null,
                cancellationToken).ConfigureAwait(false);
            if (response.Succeeded)
            {
                Log.DrainRequested(_logger, node);
                return ClusterRecordViews.ToDrain(node, record, response.Header.Revision);
            }

            // The member record or the drain changed between the read and the write: read both again.
        }
    }

    /// <inheritdoc />
    public async Task<ClusterDrain> DrainAsync(string node, CancellationToken cancellationToken = default)
    {
        var asked = await RequestDrainAsync(node, cancellationToken).ConfigureAwait(false);

        // Followed on the watch (which starts with the drain as it stands), so a drain that finished between the request and
        // the first event is seen too. A drain nobody takes up is said, not waited on forever.
        using var pickup = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (asked.State == ClusterDrainState.Requested)
        {
            pickup.CancelAfter(_options.DrainPickupTimeout);
        }

        try
        {
            await foreach (var change in WatchAsync(pickup.Token).ConfigureAwait(false))
            {
                switch (change)
                {
                    case ClusterDrainChanged { Drain: { Finished: true } done } when done.Node == node && done.Revision >= asked.Revision:
                        return done;
                    case ClusterDrainChanged { Drain.State: ClusterDrainState.Running } running when running.Node == node:
                        pickup.CancelAfter(Timeout.InfiniteTimeSpan);
                        break;
                    case ClusterDrainChanged { Drain: null } cleared when cleared.Node == node && cleared.Revision > asked.Revision:
                        throw new ClusterException(VirtErrorKind.Refused, $"the drain of node {node} was called off (ResumeAsync) before it finished; what it moved stays moved");
                    case ClusterNodeChanged { Node.State: ClusterNodeState.Dead } dead when dead.Name == node:
                        throw new ClusterException(VirtErrorKind.Failed, $"node {node} died while it was being drained; its HA VMs are restarted elsewhere by the HA agents, the others wait for it to come back");
                    case ClusterNodeChanged { Node: null } removed when removed.Name == node:
                        throw new ClusterException(VirtErrorKind.NotFound, $"node {node} was removed from the cluster while it was being drained");
                }
            }
        }
        catch (OperationCanceledException) when (pickup.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new ClusterException(VirtErrorKind.Failed, string.Create(CultureInfo.InvariantCulture, $"node {node} did not take up its drain within {_options.DrainPickupTimeout.TotalSeconds:0} s: is its migration agent running (the panel runs one; in an application, AddClusterMigration and ClusterMigrationAgent.StartAsync in the process that joined)? The node stays in maintenance with the drain asked; ResumeAsync calls it off"));
        }

        throw new ClusterException(VirtErrorKind.Failed, $"the cluster's watch ended before the drain of node {node} finished");
    }

    /// <inheritdoc />
    public async Task<ClusterDrain?> GetDrainAsync(string node, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        ClusterNames.Check(node, "node", nameof(node));
        var current = await ReadDrainAsync(node, cancellationToken).ConfigureAwait(false);
        return current is { } found ? ClusterRecordViews.ToDrain(node, found.Record, found.Revision) : null;
    }

    /// <inheritdoc />
    public async Task ResumeAsync(string node, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        ClusterNames.Check(node, "node", nameof(node));
        await SetMaintenanceAndAsync(node, maintenance: false, [Delete(_keys.Drain(node))], cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The drain asked of a node, with its revision, or <see langword="null"/>.</summary>
    internal async Task<(DrainRecord Record, long Revision)?> ReadDrainAsync(string node, CancellationToken cancellationToken)
    {
        var key = _keys.Drain(node);
        var response = await _store.RangeAsync(key, prefix: false, cancellationToken).ConfigureAwait(false);
        return response.Kvs.FirstOrDefault() is { } kv ? (Parse(kv.Value, ClusterJsonContext.Default.DrainRecord, key), kv.ModRevision) : null;
    }

    /// <summary>
    /// Writes the drain's progress (by this node's migration agent), only if it is still at <paramref name="expectedRevision"/>.
    /// </summary>
    /// <returns>The new revision, or 0 when the drain was called off or changed meanwhile.</returns>
    internal async Task<long> UpdateDrainAsync(string node, long expectedRevision, DrainRecord record, CancellationToken cancellationToken)
    {
        var key = _keys.Drain(node);
        var response = await TxnAsync(
            string.Create(CultureInfo.InvariantCulture, $"record the drain of node {node} ({record.State})"),
            [EtcdCompare.ModRevisionIs(key, expectedRevision)],
            [Put(key, JsonSerializer.SerializeToUtf8Bytes(record, ClusterJsonContext.Default.DrainRecord))],
            null,
            cancellationToken).ConfigureAwait(false);
        return response.Succeeded ? response.Header.Revision : 0;
    }
}
