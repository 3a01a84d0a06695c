using Virt.VirtualMachines;

namespace Virt.Kvm.VirtualMachines;

/// <summary>
/// The facets of <see cref="IVirtualMachine"/>. Each is a thin view that forwards to this VM's own
/// methods, so the lock, the running QEMU and the stored spec stay in one place.
/// </summary>
internal sealed partial class KvmVirtualMachine
{
    /// <inheritdoc/>
    public IVmDisks Disks => field ??= new KvmVmDisks(this);

    /// <inheritdoc/>
    public IVmNics Nics => field ??= new KvmVmNics(this);

    /// <inheritdoc/>
    public IVmResources Resources => field ??= new KvmVmResources(this);

    /// <inheritdoc/>
    public IVmSnapshots Snapshots => field ??= new KvmVmSnapshots(this);

    /// <inheritdoc/>
    public IVmMigration Migration => field ??= new KvmVmMigration(this);
}
