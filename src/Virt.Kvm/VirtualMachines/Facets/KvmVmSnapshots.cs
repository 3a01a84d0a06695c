using Virt.VirtualMachines;

namespace Virt.Kvm.VirtualMachines;

/// <summary>Live snapshots with RAM of a QEMU VM (<c>snapshot-save</c>, <c>-load</c>, <c>-delete</c>).</summary>
internal sealed class KvmVmSnapshots(KvmVirtualMachine vm) : IVmSnapshots
{
    public Task<VmSnapshot> CreateAsync(string name, CancellationToken cancellationToken = default) => vm.CreateSnapshotAsync(name, cancellationToken);

    public Task<IReadOnlyList<VmSnapshot>> ListAsync(CancellationToken cancellationToken = default) => vm.ListSnapshotsAsync(cancellationToken);

    public Task RestoreAsync(string name, CancellationToken cancellationToken = default) => vm.RestoreSnapshotAsync(name, cancellationToken);

    public Task DeleteAsync(string name, CancellationToken cancellationToken = default) => vm.DeleteSnapshotAsync(name, cancellationToken);
}
