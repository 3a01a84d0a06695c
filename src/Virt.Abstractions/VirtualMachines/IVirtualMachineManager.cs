namespace Virt.VirtualMachines;

/// <summary>
/// Defines, finds and deletes the VMs of this host. VMs outlive the application: a new manager finds
/// the VMs in its state directory again, re-attaching to those still running.
/// </summary>
public interface IVirtualMachineManager
{
    /// <summary>Validates and records a new VM (stopped).</summary>
    /// <param name="spec">The VM.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The VM.</returns>
    /// <exception cref="InvalidVmSpecException">The spec is invalid; nothing was written.</exception>
    /// <exception cref="VmAlreadyExistsException">A VM of that name exists.</exception>
    Task<IVirtualMachine> CreateAsync(VmSpec spec, CancellationToken cancellationToken = default);

    /// <summary>Finds a VM by name.</summary>
    /// <param name="name">The VM's name.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The VM.</returns>
    /// <exception cref="VmNotFoundException">No such VM.</exception>
    Task<IVirtualMachine> GetAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Lists every VM in the state directory.</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The VMs, by name.</returns>
    Task<IReadOnlyList<IVirtualMachine>> ListAsync(CancellationToken cancellationToken = default);

    /// <summary>Deletes a VM and its files. A running VM is refused unless <paramref name="force"/>, which kills it first.</summary>
    /// <param name="name">The VM's name.</param>
    /// <param name="force">Kill a running VM first.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task that completes when the VM is gone.</returns>
    /// <exception cref="VmStateException">The VM runs and <paramref name="force"/> is false.</exception>
    Task DeleteAsync(string name, bool force = false, CancellationToken cancellationToken = default);
}

/// <summary>One VM: its lifecycle, its state and its events.</summary>
public interface IVirtualMachine
{
    /// <summary>The VM's name.</summary>
    string Name { get; }

    /// <summary>The VM's spec.</summary>
    VmSpec Spec { get; }

    /// <summary>Where to reach the VM's consoles and channels on the host.</summary>
    VmEndpoints Endpoints { get; }

    /// <summary>The guest agent: exec, OS info, network interfaces, file-system freeze, shutdown from inside.</summary>
    IVmGuest Guest { get; }

    /// <summary>Starts QEMU, sets the VM up while paused, then lets it run.</summary>
    /// <param name="cancellationToken">Cancels the start; QEMU is killed and nothing is left behind.</param>
    /// <returns>A task that completes when the guest runs.</returns>
    /// <exception cref="VmStartException">QEMU could not start; carries its exit code and log tail.</exception>
    Task StartAsync(CancellationToken cancellationToken = default);

    /// <summary>Presses the ACPI power button and waits for QEMU to exit.</summary>
    /// <param name="timeout">How long the guest may take.</param>
    /// <param name="killAfterTimeout">Kill QEMU when the guest does not shut down in time; otherwise throw.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A task that completes when QEMU has exited.</returns>
    Task ShutdownAsync(TimeSpan timeout, bool killAfterTimeout = false, CancellationToken cancellationToken = default);

    /// <summary>Ends QEMU at once (SIGKILL) and cleans up.</summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A task that completes when QEMU is gone.</returns>
    Task KillAsync(CancellationToken cancellationToken = default);

    /// <summary>Resets the VM (a hardware reset; the guest boots again).</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task that completes when QEMU reset the VM.</returns>
    Task RebootAsync(CancellationToken cancellationToken = default);

    /// <summary>Pauses the vCPUs.</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task that completes when paused.</returns>
    Task PauseAsync(CancellationToken cancellationToken = default);

    /// <summary>Resumes paused vCPUs.</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task that completes when running.</returns>
    Task ResumeAsync(CancellationToken cancellationToken = default);

    /// <summary>The VM's current state.</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>State, pid, uptime, QEMU version and accelerator.</returns>
    Task<VmStatus> GetStatusAsync(CancellationToken cancellationToken = default);

    /// <summary>Lifecycle events from now on, until the enumeration is cancelled.</summary>
    /// <param name="cancellationToken">Ends the stream.</param>
    /// <returns>The events.</returns>
    IAsyncEnumerable<VmEvent> WatchAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Plugs a disk into the running VM (q35: into a free PCIe root port of <see cref="VmSpec.HotplugPorts"/>;
    /// virtio-blk only) and adds it to the stored spec once QEMU has it.
    /// </summary>
    /// <param name="disk">The disk; its id must be new.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>A task that completes when the device exists.</returns>
    /// <exception cref="VmHotplugException">QEMU refused, or no root port is free; nothing was left behind.</exception>
    Task AttachDiskAsync(VmDisk disk, CancellationToken cancellationToken = default);

    /// <summary>
    /// Unplugs a disk: asks the guest to release it, waits for QEMU's DEVICE_DELETED within the unplug
    /// deadline, removes its block nodes, then removes it from the stored spec.
    /// </summary>
    /// <param name="diskId">The disk's id.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>A task that completes when the device is gone.</returns>
    /// <exception cref="VmHotplugException">The guest did not release it in time; the spec still lists it.</exception>
    Task DetachDiskAsync(string diskId, CancellationToken cancellationToken = default);

    /// <summary>Plugs a NIC into the running VM (as <see cref="AttachDiskAsync"/>) and adds it to the stored spec.</summary>
    /// <param name="nic">The NIC; its id must be new.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>A task that completes when the device exists.</returns>
    Task AttachNicAsync(VmNic nic, CancellationToken cancellationToken = default);

    /// <summary>Unplugs a NIC (as <see cref="DetachDiskAsync"/>) and removes it from the stored spec.</summary>
    /// <param name="nicId">The NIC's id.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>A task that completes when the device is gone.</returns>
    Task DetachNicAsync(string nicId, CancellationToken cancellationToken = default);

    /// <summary>Adds vCPUs, whole sockets at a time, up to <see cref="VmCpu.MaxCount"/>.</summary>
    /// <param name="count">The vCPU count wanted; more than now.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>A task that completes when QEMU added them.</returns>
    Task SetCpuCountAsync(int count, CancellationToken cancellationToken = default);

    /// <summary>Adds a memory DIMM, up to <see cref="VmMemory.MaxSizeMiB"/> and its slots.</summary>
    /// <param name="sizeMiB">The DIMM's size in MiB (a multiple of 2).</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>A task that completes when QEMU added it.</returns>
    Task AddMemoryAsync(int sizeMiB, CancellationToken cancellationToken = default);

    /// <summary>
    /// Takes a live snapshot with RAM (QEMU's <c>snapshot-save</c> job) into the VM's qcow2 disks; every
    /// writable disk must be qcow2. The guest pauses while its RAM is written, then runs on.
    /// </summary>
    /// <param name="name">The snapshot's name: 1–63 of a-z A-Z 0-9 . _ -, not all digits.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The snapshot.</returns>
    /// <exception cref="VmSnapshotException">QEMU refused or failed; nothing was left behind.</exception>
    Task<VmSnapshot> CreateSnapshotAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>The live snapshots stored in the VM's disks.</summary>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The snapshots, oldest first.</returns>
    Task<IReadOnlyList<VmSnapshot>> ListSnapshotsAsync(CancellationToken cancellationToken = default);

    /// <summary>Rolls the running VM back to a snapshot (<c>snapshot-load</c>): disks, RAM and devices; it runs on from there.</summary>
    /// <param name="name">The snapshot's name.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>A task that completes when the VM runs from the snapshot.</returns>
    Task RestoreSnapshotAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Deletes a snapshot from every disk (<c>snapshot-delete</c>).</summary>
    /// <param name="name">The snapshot's name.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>A task that completes when it is gone.</returns>
    Task DeleteSnapshotAsync(string name, CancellationToken cancellationToken = default);

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
    Task<VmDiskSnapshot> CreateDiskSnapshotAsync(string diskId, string overlayPath, CancellationToken cancellationToken = default);

    /// <summary>
    /// Block commit of the disk's active overlay into its backing image, which becomes the active image
    /// again (the overlay file is removed). Reports the job's progress; cancelling the enumeration
    /// cancels the job and the overlay stays active.
    /// </summary>
    /// <param name="diskId">The disk.</param>
    /// <param name="cancellationToken">Cancels the job.</param>
    /// <returns>Progress reports; the last one is completed.</returns>
    IAsyncEnumerable<VmBlockJobProgress> CommitDiskAsync(string diskId, CancellationToken cancellationToken = default);
}
