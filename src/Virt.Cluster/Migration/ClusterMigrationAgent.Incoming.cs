using System.Text.Json;
using Virt.Cluster.Store;
using Virt.VirtualMachines;
using Log = Virt.Cluster.Log;

namespace Virt.Clustering;

/// <summary>The destination's side: prepare a waiting QEMU, answer with its ticket, take the VM over once it runs here.</summary>
public sealed partial class ClusterMigrationAgent
{
    /// <summary>How often the destination looks at its waiting VM and at the migration record.</summary>
    private static readonly TimeSpan IncomingPoll = TimeSpan.FromMilliseconds(200);

    private async Task ReceiveAsync(string name, string key, CancellationToken cancellationToken)
    {
        try
        {
            if (await _cluster.ReadMigrationAsync(name, cancellationToken).ConfigureAwait(false) is not { } found
                || found.Record.Destination != _cluster.NodeName || found.Record.TicketJson is not null || found.Record.Error is not null)
            {
                return;
            }

            var (record, revision, created, sourceLease) = found;
            MigrationTicket ticket;
            try
            {
                ticket = await PrepareAsync(name, record, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                // Every refusal is answered, so the source names it instead of waiting for a ticket that never comes.
                Log.MigrationFailed(_logger, $"receiving VM {name} from node {record.Source}", e.Message);
                await _cluster.AnswerMigrationAsync(name, revision, sourceLease, record with { Error = e.Message }, cancellationToken).ConfigureAwait(false);
                return;
            }

            bool answered;
            try
            {
                answered = await _cluster.AnswerMigrationAsync(name, revision, sourceLease, record with { TicketJson = JsonSerializer.Serialize(ticket, ClusterSpecJson.Default.MigrationTicket) }, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                await RemoveWaitingAsync(name).ConfigureAwait(false);
                throw;
            }

            if (!answered)
            {
                // The source gave up (or died) before the answer: nothing will come.
                await RemoveWaitingAsync(name).ConfigureAwait(false);
                return;
            }

            await FollowIncomingAsync(name, record, created, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is ClusterException or TimeoutException)
        {
            Log.MigrationFailed(_logger, $"receiving VM {name}", e.Message);
        }
        finally
        {
            _receiving.TryRemove(key, out _);
        }
    }

    private async Task<MigrationTicket> PrepareAsync(string name, MigrationRecord record, CancellationToken cancellationToken)
    {
        var listen = _options.ListenAddress
            ?? throw new ClusterException(VirtErrorKind.Refused, $"node {_cluster.NodeName} does not receive VMs: its migration agent has no ListenAddress (ClusterMigrationOptions.ListenAddress)");
        var spec = JsonSerializer.Deserialize(record.SpecJson, ClusterSpecJson.Default.VmSpec)
            ?? throw new ClusterException(VirtErrorKind.InvalidInput, $"VM {name}: the migration record carries a null spec");
        if (spec.Name != name)
        {
            throw new ClusterException(VirtErrorKind.InvalidInput, $"VM {name}: the migration record carries the spec of VM {spec.Name}");
        }

        return await _vms.PrepareIncomingAsync(spec, new IncomingMigrationOptions
        {
            ListenAddress = listen,
            Security = _options.Security,
            TlsDirectory = _options.TlsDirectory,
            SourceHost = record.Source,
            TicketLifetime = _options.TicketLifetime,
            LocalDiskSizes = record.LocalDiskSizes.Count > 0 ? record.LocalDiskSizes : null,
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Watches the waiting VM until it runs here (then takes the ownership over, unless the source did already), or the
    /// migration ends without it (then removes what waits). The VM manager itself removes a waiting QEMU whose stream
    /// failed, or whose ticket expired before a source came in.
    /// </summary>
    private async Task FollowIncomingAsync(string name, MigrationRecord record, long created, CancellationToken cancellationToken)
    {
        if (record.HighAvailability)
        {
            // From the moment its state may arrive, an HA VM is fenced with this node: if this node loses its lease before
            // its HA agent hears of the hand-over, a survivor may restart the VM elsewhere.
            _receivedHa[name] = true;
        }

        while (!cancellationToken.IsCancellationRequested)
        {
            await Task.Delay(IncomingPoll, _time, cancellationToken).ConfigureAwait(false);
            VmState state;
            try
            {
                state = (await (await _vms.GetAsync(name, cancellationToken).ConfigureAwait(false)).GetStatusAsync(cancellationToken).ConfigureAwait(false)).State;
            }
            catch (VirtException e) when (e.ErrorKind == VirtErrorKind.NotFound)
            {
                return; // The manager removed it: the stream failed, was cancelled, or the ticket expired unused.
            }

            if (state is VmState.Running or VmState.Paused)
            {
                var owner = await HandOverAsync(name, record).ConfigureAwait(false);
                if (owner != _cluster.NodeName)
                {
                    // Something moved the VM elsewhere before the hand-over (an HA recovery of a source that died): one copy only.
                    Log.MigrationFailed(_logger, $"taking over VM {name} from node {record.Source}", $"it is now owned by node {owner ?? "(none)"}; killing and removing the copy that arrived here");
                    await RemoveArrivedAsync(name).ConfigureAwait(false);
                }

                return;
            }

            if (state is VmState.Stopped or VmState.Crashed)
            {
                return;
            }

            if (await _cluster.ReadMigrationAsync(name, cancellationToken).ConfigureAwait(false) is { } still && still.CreateRevision == created)
            {
                continue;
            }

            // The record is gone: either the source handed the VM over (this node owns it; the state follows in a moment) or
            // the migration ended without it (the source gave up or died): then what waits here goes.
            var ownerNow = await _cluster.GetOwnerAsync(Vm, name, cancellationToken).ConfigureAwait(false);
            if (ownerNow?.Node != _cluster.NodeName)
            {
                await RemoveWaitingAsync(name).ConfigureAwait(false);
                return;
            }
        }
    }

    private async Task RemoveArrivedAsync(string name)
    {
        try
        {
            await _vms.DeleteAsync(name, force: true, CancellationToken.None).ConfigureAwait(false);
        }
        catch (VirtException e) when (e.ErrorKind == VirtErrorKind.NotFound)
        {
            // Already gone.
        }
    }

    /// <summary>
    /// Takes back a QEMU still waiting for a VM (no force: a VM whose state arrived meanwhile runs, and deleting it is then
    /// refused instead of killing the only copy).
    /// </summary>
    private async Task RemoveWaitingAsync(string name)
    {
        try
        {
            await _vms.DeleteAsync(name, force: false, CancellationToken.None).ConfigureAwait(false);
        }
        catch (VirtException e) when (e.ErrorKind == VirtErrorKind.NotFound)
        {
            // Already gone.
        }
        catch (VmStateException e)
        {
            Log.MigrationFailed(_logger, $"removing the waiting QEMU of VM {name}", $"{e.Message}; it arrived and runs here, so it is kept");
        }
    }
}
