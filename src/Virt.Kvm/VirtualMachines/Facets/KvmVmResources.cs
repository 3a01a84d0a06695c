using Virt.VirtualMachines;

namespace Virt.Kvm.VirtualMachines;

/// <summary>vCPU and memory hotplug of a QEMU VM.</summary>
internal sealed class KvmVmResources(KvmVirtualMachine vm) : IVmResources
{
    public Task SetCpuCountAsync(int count, CancellationToken cancellationToken = default) => vm.SetCpuCountAsync(count, cancellationToken);

    public Task AddMemoryAsync(int sizeMiB, CancellationToken cancellationToken = default) => vm.AddMemoryAsync(sizeMiB, cancellationToken);
}
