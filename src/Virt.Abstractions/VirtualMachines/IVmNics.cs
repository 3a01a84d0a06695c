namespace Virt.VirtualMachines;

/// <summary>A VM's network cards while it runs: hotplug. Reached through <see cref="IVirtualMachine.Nics"/>.</summary>
public interface IVmNics
{
    /// <summary>Plugs a NIC into the running VM (as <see cref="IVmDisks.AttachAsync"/>) and adds it to the stored spec.</summary>
    /// <param name="nic">The NIC; its id must be new.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>A task that completes when the device exists.</returns>
    /// <exception cref="VmHotplugException">QEMU refused, or no root port is free; nothing was left behind.</exception>
    Task AttachAsync(VmNic nic, CancellationToken cancellationToken = default);

    /// <summary>Unplugs a NIC (as <see cref="IVmDisks.DetachAsync"/>) and removes it from the stored spec.</summary>
    /// <param name="nicId">The NIC's id.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>A task that completes when the device is gone.</returns>
    /// <exception cref="VmHotplugException">The guest did not release it in time; the spec still lists it.</exception>
    Task DetachAsync(string nicId, CancellationToken cancellationToken = default);
}
