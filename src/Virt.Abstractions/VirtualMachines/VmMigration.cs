namespace Virt.VirtualMachines;

/// <summary>How a live migration runs.</summary>
public sealed record VmMigrationOptions
{
    /// <summary>
    /// Where to send the VM's state: <see langword="null"/> moves it to a new QEMU on this host, which
    /// then becomes the VM of record (same name, same state directory). Otherwise the address of a
    /// QEMU waiting for it (<c>tcp:HOST:PORT</c> or <c>unix:PATH</c>), e.g. on another host; after the
    /// migration this host's QEMU ends and the VM is stopped here.
    /// </summary>
    public string? DestinationUri { get; init; }

    /// <summary>
    /// A ticket from <see cref="IVirtualMachineManager.PrepareIncomingAsync"/> on another host running the SDK: the
    /// VM moves there and that host's manager becomes its owner. Exclusive with <see cref="DestinationUri"/>.
    /// </summary>
    public MigrationTicket? Ticket { get; init; }

    /// <summary>
    /// Accept a <see cref="Ticket"/> whose streams are clear text (<see cref="MigrationSecurity.ClearText"/>), or a
    /// <see cref="DestinationUri"/> <c>tcp:HOST:PORT</c> on another host (a QEMU waiting there takes no TLS). Default
    /// false: such a migration is refused before anything moves, whatever channel brought the ticket, because the guest's
    /// memory and copied disks would cross the network unencrypted. Set it only on a network no one else can reach.
    /// </summary>
    public bool AllowClearText { get; init; }

    /// <summary>This host's certificate directory for a TLS ticket (QEMU's layout); null for the manager's configured one.</summary>
    public string? TlsDirectory { get; init; }

    /// <summary>For a migration on this host: TCP on 127.0.0.1 instead of a unix socket. Default false.</summary>
    public bool UseTcpLocally { get; init; }

    /// <summary>
    /// The longest pause the guest may see when QEMU switches over. Null (default): adaptive, as Proxmox does it: under
    /// KVM 5 ms, doubled each time a pass over the guest's RAM ends without QEMU switching over, up to QEMU's own default
    /// of 300 ms, so an idle guest pauses briefly and a busy one still converges; under TCG QEMU's 300 ms (the many passes
    /// of a short limit lose pages of a writing guest with QEMU 7.2's TCG: docs/multihost.md).
    /// </summary>
    public TimeSpan? DowntimeLimit { get; init; }

    /// <summary>Bandwidth cap in bytes per second; null for QEMU's default.</summary>
    public long? MaxBandwidth { get; init; }

    /// <summary>
    /// Storage migration on this host: disk id → a new image path. The SDK creates each new image
    /// (qcow2, same size), copies the disk into it while the guest runs (an NBD export on the destination
    /// fed by <c>blockdev-mirror</c>), and the destination VM uses it. The old images are left in place.
    /// Null or empty: the disks are shared.
    /// </summary>
    public IReadOnlyDictionary<string, string>? MoveDisks { get; init; }

    /// <summary>
    /// For a migration to another host that copies disks (<see cref="MigrationDiskTransfer.Copy"/> in the ticket): once
    /// this host's QEMU reports the migration complete, delete this host's copies of the copied disks (image files, and
    /// volumes on pools no other host reaches). Default false: they stay where they were, unused, for the application to
    /// remove once it has checked the VM on its new host. The migration completes only once the destination has loaded the
    /// whole state (QEMU's return path), but this host cannot see the guest resume there: to be sure of that too, delete
    /// after the destination reports the VM running, as the panel's migrate-to and <c>virtctl vm migrate --to</c> do.
    /// </summary>
    public bool DeleteCopiedDisks { get; init; }

    /// <summary>How long the whole migration may take. Default 10 minutes.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(10);
}

/// <summary>
/// Progress of a live migration, as QEMU reports it (<c>query-migrate</c>); before it, while a migration to another host
/// copies the VM's host-local disks, as the disk copies stand (<c>query-block-jobs</c>).
/// </summary>
/// <param name="Status">QEMU's status: setup, active, device, completed, failed, cancelled...; <c>copying-disks</c> while the disks are copied.</param>
/// <param name="TransferredBytes">RAM sent so far (disk bytes copied while copying disks).</param>
/// <param name="RemainingBytes">RAM still to send (disk bytes still to copy).</param>
/// <param name="TotalBytes">The guest's RAM (the copied disks' size).</param>
/// <param name="Elapsed">Time since the migration started.</param>
/// <param name="Downtime">How long the guest was paused for the switch-over (once completed).</param>
public sealed record VmMigrationProgress(string Status, long TransferredBytes, long RemainingBytes, long TotalBytes, TimeSpan Elapsed, TimeSpan? Downtime)
{
    /// <summary>Whether this is the last report of a successful migration.</summary>
    public bool Completed => Status == "completed";

    /// <summary>
    /// The downtime limit QEMU had at this report: the one asked for, or where the adaptive limit stands (see
    /// <see cref="VmMigrationOptions.DowntimeLimit"/>); null while disks are copied, before QEMU's migration starts.
    /// </summary>
    public TimeSpan? DowntimeLimit { get; init; }
}

/// <summary>A live migration failed or was cancelled; the VM runs on where it was.</summary>
public sealed class VmMigrationException : VmException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="vmName">The VM.</param>
    /// <param name="reason">What went wrong, with the fix.</param>
    /// <param name="innerException">The underlying error, if any.</param>
    public VmMigrationException(string vmName, string reason, Exception? innerException = null)
        : base(VirtErrorKind.Failed, $"VM '{vmName}': live migration failed: {reason}", innerException)
    {
        VmName = vmName;
    }

    /// <summary>The VM.</summary>
    public string VmName { get; }
}
