namespace Virt.VirtualMachines;

/// <summary>A running VM's vCPUs and memory, grown while it runs. Reached through <see cref="IVirtualMachine.Resources"/>.</summary>
public interface IVmResources
{
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
}
