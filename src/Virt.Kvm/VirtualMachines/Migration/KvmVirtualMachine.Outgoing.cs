using System.Text.Json;
using Microsoft.Extensions.Logging;
using Virt.IO;
using Virt.Kvm.Qmp;
using Virt.Kvm.Qmp.Api;
using Virt.Kvm.VirtualMachines.Migration;
using Virt.VirtualMachines;

namespace Virt.Kvm.VirtualMachines;

/// <summary>Which QEMU (<paramref name="Pid"/>) was migrated where (see <see cref="VmFiles.MigratedAway"/>).</summary>
/// <param name="Pid">The source QEMU's pid.</param>
/// <param name="Destination">The destination host (or URI).</param>
internal sealed record MigratedAwayRecord(int Pid, string Destination);

/// <summary>
/// The source of a migration to another host running the SDK, from the ticket that host's
/// <c>PrepareIncomingAsync</c> returned: everything is checked before any state moves (expiry, machine type,
/// CPU model, QEMU version, how each disk gets there); then the ticket is presented at the destination's gate and
/// the very connection it let in is handed to QEMU as the migration stream (TLS inside it unless the ticket says
/// clear text). Host-local disks the ticket plans as copied are mirrored into the destination's NBD exports first
/// (<see cref="CrossHostDiskCopy"/>). After completion this host's QEMU ends, its volumes are released and its record removed: the VM
/// belongs to the destination.
/// </summary>
internal sealed partial class KvmVirtualMachine
{
    /// <summary>
    /// Ends this host's QEMU after its state went to another host: records where it went (<see cref="VmFiles.MigratedAway"/>),
    /// so that whichever process watches QEMU reports the end as a migration, then quits it.
    /// </summary>
    private async Task EndMigratedQemuAsync(RunningQemu running, QmpClient source, string destination)
    {
        var record = new MigratedAwayRecord(running.Record.Pid, destination);
        await StateFile.WriteAsync(_environment.FileSystem, Files.MigratedAway, JsonSerializer.SerializeToUtf8Bytes(record, KvmJsonContext.Default.MigratedAwayRecord), OwnerOnly.FileMode, CancellationToken.None).ConfigureAwait(false);
        try
        {
            await source.QuitAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (QmpConnectionException)
        {
            // Already on its way out.
        }
    }

    /// <summary>Where the QEMU with <paramref name="pid"/> was migrated to, when a migration ended it (null otherwise).</summary>
    private string? MigratedAwayTo(int pid)
    {
        try
        {
            var record = JsonSerializer.Deserialize(_environment.FileSystem.File.ReadAllBytes(Files.MigratedAway), KvmJsonContext.Default.MigratedAwayRecord);
            return record?.Pid == pid ? record.Destination : null;
        }
        catch (Exception ex) when (ex is IOException or JsonException)
        {
            return null;
        }
    }

    /// <summary>Checks the ticket against this VM and QEMU, presents it, and returns the URI QEMU migrates to.</summary>
    private async Task<string> SendToTicketAsync(QmpClient source, MigrationTicket ticket, VmMigrationOptions options, CancellationToken cancellationToken)
    {
        OutgoingTicketCheck.Validate(Name, ticket, options, _environment.Time.GetUtcNow());

        if (MigrationCompatibility.Mismatch(await MigrationCompatibility.ReadAsync(source, cancellationToken).ConfigureAwait(false), ticket) is { } mismatch)
        {
            throw new VmMigrationException(Name, $"{ticket.DestinationHost} cannot take it: {mismatch}");
        }

        var copies = CrossHostDiskCopy.CopiesOf(Spec, ticket);
        try
        {
            if (ticket.Security == MigrationSecurity.Tls)
            {
                var directory = MigrationTls.RequireDirectory(_environment.FileSystem, Name, options.TlsDirectory ?? _environment.Options.MigrationTlsDirectory, server: false);
                await MigrationTls.ConfigureClientAsync(source, directory, ticket.DestinationHost, cancellationToken).ConfigureAwait(false);
            }

            // The copies catch up before the ticket is presented: the destination gives a stream 30 s to start.
            if (copies.Count > 0)
            {
                await CrossHostDiskCopy.MirrorAsync(source, Name, ticket, copies, options.Timeout, _environment.Time, cancellationToken).ConfigureAwait(false);
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

    /// <summary>The disks a migration to <paramref name="options"/>' ticket copies (none without a ticket).</summary>
    private static IReadOnlyList<string> CopiedDiskIds(VmMigrationOptions options) =>
        options.Ticket?.Disks.Where(plan => plan.Transfer == MigrationDiskTransfer.Copy).Select(plan => plan.DiskId).ToList() ?? [];

    /// <summary>After a failed or cancelled migration to a ticket: the source QEMU forgets the stream, the disk copies and the TLS settings.</summary>
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

        // The NBD nodes use the client credentials: they go first.
        await CrossHostDiskCopy.AbandonAsync(source, CopiedDiskIds(options)).ConfigureAwait(false);
        await MigrationTls.RemoveClientAsync(source).ConfigureAwait(false);
    }

    /// <summary>The VM runs on the destination now: end this host's QEMU, let the cleanup release what it held, remove the record.</summary>
    private async Task HandOverAsync(RunningQemu running, QmpClient source, VmMigrationOptions options)
    {
        var ticket = options.Ticket!;
        await EndMigratedQemuAsync(running, source, ticket.DestinationHost).ConfigureAwait(false);

        // The owner (this process, or the one that watches QEMU) cleans up after it and removes runtime.json; a follower
        // learns of that on its periodic check.
        await ((Task)running.Exited.Task.WaitAsync(TimeSpan.FromSeconds(60), _environment.Time)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (_logger.IsEnabled(LogLevel.Information))
        {
            Log.VmMigratedAway(_logger, Name, ticket.DestinationHost);
        }

        if (options.DeleteCopiedDisks)
        {
            // Asked for: the copies run on the destination, and this host's QEMU, which held the images, has ended.
            var copied = CopiedDiskIds(options);
            foreach (var disk in Spec.Disks.Where(disk => copied.Contains(disk.Id)))
            {
                _environment.FileSystem.File.Delete(disk.Path);
            }
        }

        await _environment.Forget(this).ConfigureAwait(false);
    }
}
