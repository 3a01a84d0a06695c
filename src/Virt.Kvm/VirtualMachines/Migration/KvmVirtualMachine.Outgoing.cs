using Microsoft.Extensions.Logging;
using Virt.Kvm.Qmp;
using Virt.Kvm.Qmp.Api;
using Virt.Kvm.VirtualMachines.Migration;
using Virt.VirtualMachines;

namespace Virt.Kvm.VirtualMachines;

/// <summary>
/// The source of a migration to another host running the SDK, from the ticket that host's
/// <c>PrepareIncomingAsync</c> returned: everything is checked before any state moves (expiry, machine type,
/// CPU model, QEMU version, how each disk gets there); then the ticket is presented at the destination's gate and
/// the very connection it let in is handed to QEMU as the migration stream (TLS inside it unless the ticket says
/// clear text). After completion this host's QEMU ends, its volumes are released and its record removed: the VM
/// belongs to the destination.
/// </summary>
internal sealed partial class KvmVirtualMachine
{
    /// <summary>Checks the ticket against this VM and QEMU, presents it, and returns the URI QEMU migrates to.</summary>
    private async Task<string> SendToTicketAsync(QmpClient source, MigrationTicket ticket, VmMigrationOptions options, CancellationToken cancellationToken)
    {
        if (ticket.VmName != Name)
        {
            throw new VmMigrationException(Name, $"the ticket is for VM '{ticket.VmName}'; ask {ticket.DestinationHost} for a ticket for '{Name}'");
        }

        if (_environment.Time.GetUtcNow() >= ticket.ExpiresAt)
        {
            throw new VmMigrationException(Name, $"the ticket from {ticket.DestinationHost} expired at {ticket.ExpiresAt:O} (the destination has removed what it prepared); ask it for a new one with PrepareIncomingAsync");
        }

        if (MigrationCompatibility.Mismatch(await MigrationCompatibility.ReadAsync(source, cancellationToken).ConfigureAwait(false), ticket) is { } mismatch)
        {
            throw new VmMigrationException(Name, $"{ticket.DestinationHost} cannot take it: {mismatch}");
        }

        foreach (var disk in Spec.Disks)
        {
            var plan = ticket.Disks.FirstOrDefault(p => p.DiskId == disk.Id)
                ?? throw new VmMigrationException(Name, $"the ticket has no plan for disk '{disk.Id}' (the destination was prepared from another spec); prepare it with this VM's spec");
            if (plan.Transfer != MigrationDiskTransfer.Shared)
            {
                throw new VmMigrationException(Name, $"disk '{disk.Id}' would have to be copied to {ticket.DestinationHost}, which is not supported yet; put it on storage both hosts reach (an RBD pool defined on both)");
            }
        }

        try
        {
            if (ticket.Security == MigrationSecurity.Tls)
            {
                var directory = MigrationTls.RequireDirectory(_environment.FileSystem, Name, options.TlsDirectory ?? _environment.Options.MigrationTlsDirectory, server: false);
                await MigrationTls.ConfigureClientAsync(source, directory, ticket.DestinationHost, cancellationToken).ConfigureAwait(false);
            }

            using var stream = await MigrationGate.ConnectAsync(ticket, cancellationToken).ConfigureAwait(false);

            // QEMU gets its own copy of the connection; this process's copy closes when this method returns.
            await source.GetfdAsync(new GetfdArguments { Fdname = IncomingDescriptor }, stream.SafeHandle, cancellationToken: cancellationToken).ConfigureAwait(false);
            return "fd:" + IncomingDescriptor;
        }
        catch (QmpException ex)
        {
            await ForgetTicketAsync(source, options).ConfigureAwait(false);
            throw new VmMigrationException(Name, $"this host's QEMU refused '{ex.Command}' while preparing the stream to {ticket.DestinationHost}: {ex.Description}", ex);
        }
        catch
        {
            await ForgetTicketAsync(source, options).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>After a failed or cancelled migration to a ticket: the source QEMU forgets the stream and the TLS settings.</summary>
    private static async Task ForgetTicketAsync(QmpClient source, VmMigrationOptions options)
    {
        if (options.Ticket is null)
        {
            return;
        }

        try
        {
            await source.ClosefdAsync(new ClosefdArguments { Fdname = IncomingDescriptor }, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is QmpException or QmpConnectionException)
        {
            // Already taken by the migration (QEMU closes it with the stream), or QEMU is gone.
        }

        await MigrationTls.RemoveClientAsync(source).ConfigureAwait(false);
    }

    /// <summary>The VM runs on the destination now: end this host's QEMU, let the cleanup release what it held, remove the record.</summary>
    private async Task HandOverAsync(RunningQemu running, QmpClient source, MigrationTicket ticket)
    {
        _events.Publish(new VmEvent(Name, VmEventKind.Migrated, _environment.Time.GetUtcNow(), $"to {ticket.DestinationHost}"));
        try
        {
            await source.QuitAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (QmpConnectionException)
        {
            // Already on its way out.
        }

        await ((Task)running.Exited.Task.WaitAsync(TimeSpan.FromSeconds(60), _environment.Time)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (_logger.IsEnabled(LogLevel.Information))
        {
            Log.VmMigratedAway(_logger, Name, ticket.DestinationHost);
        }

        await _environment.Forget(this).ConfigureAwait(false);
    }
}
