using System.Collections.Concurrent;
using Virt.VirtualMachines;

namespace Virt.Testing;

/// <summary>Snapshots of an <see cref="InMemoryVirtualMachine"/>: names only, with the QEMU backend's errors.</summary>
internal sealed class InMemoryVmSnapshots(InMemoryVirtualMachine vm, TimeProvider time) : IVmSnapshots
{
    private readonly ConcurrentDictionary<string, VmSnapshot> _snapshots = new(StringComparer.Ordinal);

    public Task<VmSnapshot> CreateAsync(string name, CancellationToken cancellationToken = default)
    {
        vm.Require("snapshot", "start it first", VmState.Running, VmState.Paused);
        var snapshot = new VmSnapshot(name, time.GetUtcNow(), 0, TimeSpan.Zero);
        return _snapshots.TryAdd(name, snapshot)
            ? Task.FromResult(snapshot)
            : throw new VmSnapshotException(vm.Name, "create", name, "a snapshot of that name exists; delete it first, or choose another name");
    }

    public Task<IReadOnlyList<VmSnapshot>> ListAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<VmSnapshot>>([.. _snapshots.Values.OrderBy(s => s.CreatedAt)]);

    public Task RestoreAsync(string name, CancellationToken cancellationToken = default)
    {
        vm.Require("restore a snapshot of", "start it first", VmState.Running, VmState.Paused);
        return _snapshots.ContainsKey(name) ? Task.CompletedTask : throw Missing("restore", name);
    }

    public Task DeleteAsync(string name, CancellationToken cancellationToken = default) =>
        _snapshots.TryRemove(name, out _) ? Task.CompletedTask : throw Missing("delete", name);

    private VmSnapshotException Missing(string operation, string name) =>
        new(vm.Name, operation, name, $"there is no such snapshot (it has: {(_snapshots.IsEmpty ? "none" : string.Join(", ", _snapshots.Keys))})");
}
