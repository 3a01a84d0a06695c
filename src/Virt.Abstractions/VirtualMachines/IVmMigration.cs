namespace Virt.VirtualMachines;

/// <summary>Moving a running VM to another QEMU. Reached through <see cref="IVirtualMachine.Migration"/>.</summary>
public interface IVmMigration
{
    /// <summary>
    /// Live-migrates the running VM (shared disks): to a new QEMU on this host, which becomes the VM of
    /// record, or to a QEMU waiting at <see cref="VmMigrationOptions.DestinationUri"/>. Reports QEMU's
    /// progress until it completes; cancelling the enumeration cancels the migration and the VM runs on
    /// where it was.
    /// </summary>
    /// <param name="options">Destination, downtime limit, bandwidth, deadline.</param>
    /// <param name="cancellationToken">Cancels the migration.</param>
    /// <returns>Progress reports; the last one is completed, with the downtime.</returns>
    /// <exception cref="VmMigrationException">QEMU failed it, or it passed its deadline; nothing was left behind.</exception>
    IAsyncEnumerable<VmMigrationProgress> MigrateAsync(VmMigrationOptions options, CancellationToken cancellationToken = default);
}
