using Virt.VirtualMachines;

namespace Virt.Kvm.VirtualMachines;

/// <summary>NIC hotplug of a QEMU VM.</summary>
internal sealed class KvmVmNics(KvmVirtualMachine vm) : IVmNics
{
    public Task AttachAsync(VmNic nic, CancellationToken cancellationToken = default) => vm.AttachNicAsync(nic, cancellationToken);

    public Task DetachAsync(string nicId, CancellationToken cancellationToken = default) => vm.DetachNicAsync(nicId, cancellationToken);
}
