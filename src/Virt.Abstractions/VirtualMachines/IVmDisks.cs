namespace Virt.VirtualMachines;

/// <summary>
/// A VM's disks while it runs: hotplug and disk-only (external) snapshots. Reached through
/// <see cref="IVirtualMachine.Disks"/>.
/// </summary>
public interface IVmDisks
{
    /// <summary>
    /// Plugs a disk into the running VM (q35: into a free PCIe root port of <see cref="VmSpec.HotplugPorts"/>;
    /// virtio-blk only) and adds it to the stored spec once QEMU has it.
    /// </summary>
    /// <param name="disk">The disk; its id must be new.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>A task that completes when the device exists.</returns>
    /// <exception cref="VmHotplugException">QEMU refused, or no root port is free; nothing was left behind.</exception>
    Task AttachAsync(VmDisk disk, CancellationToken cancellationToken = default);

    /// <summary>
    /// Unplugs a disk: asks the guest to release it, waits for QEMU's DEVICE_DELETED within the unplug
    /// deadline, removes its block nodes, then removes it from the stored spec.
    /// </summary>
    /// <param name="diskId">The disk's id.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>A task that completes when the device is gone.</returns>
    /// <exception cref="VmHotplugException">The guest did not release it in time; the spec still lists it.</exception>
    Task DetachAsync(string diskId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Takes a disk-only external snapshot of a running VM's disk: a new qcow2 overlay is created on
    /// top of the disk's image and the VM writes there from now on; the guest's file systems are frozen
    /// around it when the guest agent answers. The stored spec then names the overlay.
    /// </summary>
    /// <param name="diskId">The disk.</param>
    /// <param name="overlayPath">Where to create the overlay (absolute, must not exist).</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The snapshot.</returns>
    /// <exception cref="VmSnapshotException">QEMU refused; no overlay or block node is left behind.</exception>
    Task<VmDiskSnapshot> CreateSnapshotAsync(string diskId, string overlayPath, CancellationToken cancellationToken = default);

    /// <summary>
    /// Block commit of the disk's active overlay into its backing image, which becomes the active image
    /// again (the overlay file is removed). Reports the job's progress; cancelling the enumeration
    /// cancels the job and the overlay stays active.
    /// </summary>
    /// <param name="diskId">The disk.</param>
    /// <param name="cancellationToken">Cancels the job.</param>
    /// <returns>Progress reports; the last one is completed.</returns>
    IAsyncEnumerable<VmBlockJobProgress> CommitAsync(string diskId, CancellationToken cancellationToken = default);
}
