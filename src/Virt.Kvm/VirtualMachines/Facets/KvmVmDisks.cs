using Virt.VirtualMachines;

namespace Virt.Kvm.VirtualMachines;

/// <summary>Disk hotplug and disk-only snapshots of a QEMU VM.</summary>
internal sealed class KvmVmDisks(KvmVirtualMachine vm) : IVmDisks
{
    public Task AttachAsync(VmDisk disk, CancellationToken cancellationToken = default) => vm.AttachDiskAsync(disk, cancellationToken);

    public Task DetachAsync(string diskId, CancellationToken cancellationToken = default) => vm.DetachDiskAsync(diskId, cancellationToken);

    public Task<VmDiskSnapshot> CreateSnapshotAsync(string diskId, string overlayPath, CancellationToken cancellationToken = default) =>
        vm.CreateDiskSnapshotAsync(diskId, overlayPath, cancellationToken);

    public IAsyncEnumerable<VmBlockJobProgress> CommitAsync(string diskId, CancellationToken cancellationToken = default) =>
        vm.CommitDiskAsync(diskId, cancellationToken);
}
