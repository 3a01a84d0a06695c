namespace Virt.VirtualMachines;

/// <summary>
/// A VM's live snapshots with RAM, stored inside its qcow2 disks. Reached through
/// <see cref="IVirtualMachine.Snapshots"/>; disk-only snapshots are <see cref="IVmDisks.CreateSnapshotAsync"/>.
/// </summary>
public interface IVmSnapshots
{
    /// <summary>
    /// Takes a live snapshot with RAM (QEMU's <c>snapshot-save</c> job) into the VM's qcow2 disks; every
    /// writable disk must be qcow2. The guest pauses while its RAM is written, then runs on.
    /// </summary>
    /// <param name="name">The snapshot's name: 1–63 of a-z A-Z 0-9 . _ -, not all digits.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The snapshot.</returns>
    /// <exception cref="VmSnapshotException">QEMU refused or failed; nothing was left behind.</exception>
    Task<VmSnapshot> CreateAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>The live snapshots stored in the VM's disks.</summary>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The snapshots, oldest first.</returns>
    Task<IReadOnlyList<VmSnapshot>> ListAsync(CancellationToken cancellationToken = default);

    /// <summary>Rolls the running VM back to a snapshot (<c>snapshot-load</c>): disks, RAM and devices; it runs on from there.</summary>
    /// <param name="name">The snapshot's name.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>A task that completes when the VM runs from the snapshot.</returns>
    Task RestoreAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Deletes a snapshot from every disk (<c>snapshot-delete</c>).</summary>
    /// <param name="name">The snapshot's name.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>A task that completes when it is gone.</returns>
    Task DeleteAsync(string name, CancellationToken cancellationToken = default);
}
