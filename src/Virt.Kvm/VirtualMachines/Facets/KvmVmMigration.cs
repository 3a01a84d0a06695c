using Virt.VirtualMachines;

namespace Virt.Kvm.VirtualMachines;

/// <summary>Live migration of a QEMU VM.</summary>
internal sealed class KvmVmMigration(KvmVirtualMachine vm) : IVmMigration
{
    public IAsyncEnumerable<VmMigrationProgress> MigrateAsync(VmMigrationOptions options, CancellationToken cancellationToken = default) =>
        vm.MigrateAsync(options, cancellationToken);

    public Task<IReadOnlyDictionary<string, long>> GetLocalDiskSizesAsync(CancellationToken cancellationToken = default) =>
        vm.GetLocalDiskSizesAsync(cancellationToken);

    public Task<string?> GetIncomingSourceHostAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult(vm.IncomingSourceHost());
}
