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
/// <param name="LeavesHost">
/// The VM belongs to the destination now (a ticket from another host's SDK): whoever cleans up after the QEMU removes
/// the VM's spec, so that it is no longer defined here even when the migrating process does not live to remove it.
/// False for a hand-given destination: the VM stays defined here, stopped.
/// </param>
internal sealed record MigratedAwayRecord(int Pid, string Destination, bool LeavesHost);

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
    /// <summary>How long the migrating process waits for the owner's cleanup after this host's QEMU quit.</summary>
    private static readonly TimeSpan HandOverCleanupWait = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Ends this host's QEMU after its state went to another host: records where it went (<see cref="VmFiles.MigratedAway"/>),
    /// so that whichever process cleans up after QEMU reports the end as a migration (and, when the VM left this host,
    /// removes its spec), then quits it.
    /// </summary>
    private async Task EndMigratedQemuAsync(RunningQemu running, QmpClient source, string destination, bool leavesHost)
    {
        var record = new MigratedAwayRecord(running.Record.Pid, destination, leavesHost);
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

    /// <summary>The migration that ended the QEMU with <paramref name="pid"/>, if one did.</summary>
    private MigratedAwayRecord? MigratedAway(int pid)
    {
        try
        {
            var record = JsonSerializer.Deserialize(_environment.FileSystem.File.ReadAllBytes(Files.MigratedAway), KvmJsonContext.Default.MigratedAwayRecord);
            return record?.Pid == pid ? record : null;
        }
        catch (Exception ex) when (ex is IOException or JsonException)
        {
            return null;
        }
    }

    /// <summary>
    /// The cleanup after a QEMU that a migration to another host ended: the VM is no longer defined here. Only the spec
    /// goes (its absence is what every manager reads as "not defined"); the directory goes with the migrating process,
    /// or with the next create of that name.
    /// </summary>
    private void UndefineIfLeftHost(MigratedAwayRecord? migrated)
    {
        if (migrated is { LeavesHost: true })
        {
            _environment.FileSystem.File.Delete(Files.Spec);
        }
    }

    /// <summary>
    /// Checks the ticket against this VM and QEMU, gives QEMU the TLS client credentials, and starts the copies of the
    /// disks the ticket plans as copied (which the caller follows until they are ready); returns those copies.
    /// </summary>
    private async Task<IReadOnlyList<MigrationDiskPlan>> PrepareTicketAsync(QmpClient source, MigrationTicket ticket, VmMigrationOptions options, CancellationToken cancellationToken)
    {
        OutgoingTicketCheck.Validate(Name, ticket, options, _environment.Time.GetUtcNow());

        if (MigrationCompatibility.Mismatch(await MigrationCompatibility.ReadAsync(source, cancellationToken).ConfigureAwait(false), ticket) is { } mismatch)
        {
            throw new VmMigrationException(Name, $"{ticket.DestinationHost} cannot take it: {mismatch}");
        }

        var copies = CrossHostDiskCopy.CopiesOf(Spec, ticket);
        await NamingRefusalsAsync(ticket, async () =>
        {
            if (ticket.Security == MigrationSecurity.Tls)
            {
                var directory = MigrationTls.RequireDirectory(_environment.FileSystem, Name, options.TlsDirectory ?? _environment.Options.MigrationTlsDirectory, server: false);
                await MigrationTls.ConfigureClientAsync(source, directory, ticket.DestinationHost, cancellationToken).ConfigureAwait(false);
            }

            if (copies.Count > 0)
            {
                await CrossHostDiskCopy.StartAsync(source, Name, ticket, copies, cancellationToken).ConfigureAwait(false);
            }
        }).ConfigureAwait(false);
        return copies;
    }

    /// <summary>
    /// Presents the ticket at the destination's gate and hands QEMU the very connection it let in; returns the URI QEMU
    /// migrates to. The copies have caught up by now: the destination gives a stream 30 s to start once it let it in.
    /// </summary>
    private async Task<string> PresentTicketAsync(QmpClient source, MigrationTicket ticket, VmMigrationOptions options, CancellationToken cancellationToken)
    {
        await NamingRefusalsAsync(ticket, async () =>
        {
            using var stream = await MigrationGate.ConnectAsync(ticket, cancellationToken).ConfigureAwait(false);

            // QEMU gets its own copy of the connection; this process's copy closes when this returns.
            await source.GetfdAsync(new GetfdArguments { Fdname = IncomingDescriptor }, stream.SafeHandle, cancellationToken: cancellationToken).ConfigureAwait(false);
        }).ConfigureAwait(false);
        return "fd:" + IncomingDescriptor;
    }

    /// <summary>
    /// Runs one step of sending to a ticket, turning QEMU's refusal into the migration's error. What the step made is taken
    /// back by the migration's own cleanup (<see cref="ForgetTicketAsync"/>), whichever way it ends.
    /// </summary>
    private async Task NamingRefusalsAsync(MigrationTicket ticket, Func<Task> step)
    {
        try
        {
            await step().ConfigureAwait(false);
        }
        catch (QmpException ex)
        {
            throw new VmMigrationException(Name, $"this host's QEMU refused '{ex.Command}' while preparing the stream to {ticket.DestinationHost}: {ex.Description}", ex);
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
        await EndMigratedQemuAsync(running, source, ticket.DestinationHost, leavesHost: true).ConfigureAwait(false);

        // The owner (this process, or the one that watches QEMU) cleans up after it, removes the spec and runtime.json; a
        // follower learns of that on its periodic check.
        await ((Task)running.Exited.Task.WaitAsync(HandOverCleanupWait, _environment.Time)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (!running.Exited.Task.IsCompleted)
        {
            // The VM runs on the destination; what is left here is the owner's cleanup, which removes the spec when it ends.
            Log.VmWatchFailed(_logger, Name, $"migrated to {ticket.DestinationHost}, but {DescribeOwner()} has not cleaned up after this host's QEMU (pid {running.Record.Pid}) within {HandOverCleanupWait.TotalMinutes:0} min; the VM's spec goes when it does, and this host's copies of the copied disks were left in place");
            return;
        }

        if (_logger.IsEnabled(LogLevel.Information))
        {
            Log.VmMigratedAway(_logger, Name, ticket.DestinationHost);
        }

        if (options.DeleteCopiedDisks)
        {
            // Asked for: the copies run on the destination, and this host's QEMU, which held the images, has ended. A
            // volume goes only from a pool no other host reaches: one on shared storage is the destination's disk too.
            var copied = CopiedDiskIds(options);
            foreach (var disk in Spec.Disks.Where(disk => copied.Contains(disk.Id) && CrossHostDiskCopy.IsHostFile(disk)))
            {
                _environment.FileSystem.File.Delete(disk.Path);
            }

            try
            {
                var hostLocal = await CopiedVolumes.HostLocalAsync(_environment.Volumes, Spec, CancellationToken.None).ConfigureAwait(false);
                await CopiedVolumes.DeleteAsync(_environment.Volumes, hostLocal.Where(volume => copied.Contains(volume.Disk.Id)).Select(volume => Virt.Storage.VolumeId.Parse(volume.Disk.Path)), Name, _logger).ConfigureAwait(false);
            }
            catch (Exception error) when (error is not OperationCanceledException)
            {
                // The migration completed: a volume that could not be looked at stays, and the log says so.
                Log.CopiedVolumeNotDeleted(_logger, Name, string.Join(", ", Spec.Disks.Where(disk => copied.Contains(disk.Id)).Select(disk => disk.Path)), error.Message);
            }
        }

        await _environment.Forget(this).ConfigureAwait(false);
    }
}
