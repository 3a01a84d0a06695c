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

    /// <summary>
    /// Readies this host to receive a running VM from another host running the SDK: validates the spec against
    /// this host, starts a QEMU waiting for the VM's state, and returns the ticket the source migrates to. The VM
    /// is listed here as <see cref="VmState.Incoming"/> and becomes this host's VM of record only when QEMU reports
    /// completion; on failure, cancellation (deleting it) or expiry, everything made for it is removed.
    /// </summary>
    /// <param name="spec">The VM, as the source runs it.</param>
    /// <param name="options">Where to listen, TLS, and how long the ticket lives.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The ticket to hand to the source (<see cref="VmMigrationOptions.Ticket"/>).</returns>
    /// <exception cref="InvalidVmSpecException">The spec cannot run here (unknown network or volume, a host device); nothing was made.</exception>
    /// <exception cref="VmAlreadyExistsException">A VM of that name exists here.</exception>
    Task<MigrationTicket> PrepareIncomingAsync(VmSpec spec, IncomingMigrationOptions options, CancellationToken cancellationToken = default);
}

/// <summary>
/// One VM: its lifecycle, its state and its events. What else can be done to a VM is grouped in facets
/// (<see cref="Disks"/>, <see cref="Nics"/>, <see cref="Resources"/>, <see cref="Snapshots"/>,
/// <see cref="Migration"/>, <see cref="Guest"/>) so that each stays small as features are added.
/// </summary>
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

    /// <summary>Disk hotplug and disk-only snapshots of the running VM.</summary>
    IVmDisks Disks { get; }

    /// <summary>NIC hotplug of the running VM.</summary>
    IVmNics Nics { get; }

    /// <summary>vCPU and memory hotplug of the running VM.</summary>
    IVmResources Resources { get; }

    /// <summary>Live snapshots with RAM.</summary>
    IVmSnapshots Snapshots { get; }

    /// <summary>Live migration.</summary>
    IVmMigration Migration { get; }

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
}
