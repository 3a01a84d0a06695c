namespace Virt.VirtualMachines;

/// <summary>Moving a running VM to another QEMU. Reached through <see cref="IVirtualMachine.Migration"/>.</summary>
public interface IVmMigration
{
    /// <summary>
    /// Live-migrates the running VM: to a new QEMU on this host, which becomes the VM of record (disks shared, or
    /// moved with <see cref="VmMigrationOptions.MoveDisks"/>), to another host's manager through its
    /// <see cref="VmMigrationOptions.Ticket"/> (disks given by a file path are copied as the ticket plans), or to a
    /// QEMU waiting at <see cref="VmMigrationOptions.DestinationUri"/> (disks shared). Reports QEMU's
    /// progress until it completes; cancelling the enumeration cancels the migration and the VM runs on
    /// where it was.
    /// </summary>
    /// <param name="options">Destination, downtime limit, bandwidth, deadline.</param>
    /// <param name="cancellationToken">Cancels the migration.</param>
    /// <returns>Progress reports; the last one is completed, with the downtime.</returns>
    /// <exception cref="VmMigrationException">QEMU failed it, or it passed its deadline; nothing was left behind.</exception>
    IAsyncEnumerable<VmMigrationProgress> MigrateAsync(VmMigrationOptions options, CancellationToken cancellationToken = default);

    /// <summary>
    /// The virtual size in bytes of each disk a migration to another host copies (the writable disks given by a file
    /// path), by disk id, as the running QEMU reports it. Hand them to the destination as
    /// <see cref="IncomingMigrationOptions.LocalDiskSizes"/>, so it can create images of the same size.
    /// </summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>Disk id → virtual size; empty when every disk is on shared storage.</returns>
    /// <exception cref="VmStateException">The VM is not running.</exception>
    Task<IReadOnlyDictionary<string, long>> GetLocalDiskSizesAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// The host this VM is to be received from, while it waits here for a migration
    /// (<see cref="VmState.Incoming"/>) whose <see cref="IncomingMigrationOptions.SourceHost"/> named one. A host-to-host
    /// endpoint checks a caller against it before it drops the wait for that caller.
    /// </summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The source host's name; null when the VM is not waiting for a migration, or its source was not named.</returns>
    Task<string?> GetIncomingSourceHostAsync(CancellationToken cancellationToken = default);
}
