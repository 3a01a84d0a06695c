using System.Runtime.CompilerServices;
using Virt.VirtualMachines;

namespace Virt.Testing;

/// <summary>
/// Hotplug, migration and guest facets of an <see cref="InMemoryVirtualMachine"/>. Hotplug edits the spec
/// and needs a running VM, as QEMU's does; what needs a real disk image or guest says so.
/// </summary>
internal sealed class InMemoryVmFacets(InMemoryVirtualMachine vm) : IVmDisks, IVmNics, IVmResources, IVmMigration, IVmGuest
{
    private const string HotplugFix = "hotplug needs a running VM; change the spec while it is stopped instead";

    public Task AttachAsync(VmDisk disk, CancellationToken cancellationToken = default)
    {
        vm.Require("attach disk", HotplugFix, VmState.Running, VmState.Paused);
        if (vm.Spec.Disks.Any(d => d.Id == disk.Id))
        {
            throw new VmHotplugException(vm.Name, "attach disk", disk.Id, "a disk with that id is attached; detach it first");
        }

        vm.Spec = vm.Spec with { Disks = [.. vm.Spec.Disks, disk] };
        return Task.CompletedTask;
    }

    Task IVmDisks.DetachAsync(string diskId, CancellationToken cancellationToken)
    {
        vm.Require("detach disk", HotplugFix, VmState.Running, VmState.Paused);
        var disks = vm.Spec.Disks.Where(d => d.Id != diskId).ToList();
        vm.Spec = disks.Count < vm.Spec.Disks.Count
            ? vm.Spec with { Disks = disks }
            : throw new VmHotplugException(vm.Name, "detach disk", diskId, "no disk with that id is attached");
        return Task.CompletedTask;
    }

    public async Task AttachAsync(VmNic nic, CancellationToken cancellationToken = default)
    {
        vm.Require("attach nic", HotplugFix, VmState.Running, VmState.Paused);
        if (vm.Spec.Nics.Any(n => n.Id == nic.Id))
        {
            throw new VmHotplugException(vm.Name, "attach nic", nic.Id, "a NIC with that id is attached; detach it first");
        }

        await vm.NetworkPorts.JoinAsync(ManagedNicPorts.Of(vm.Spec, [nic]), (_, reason, inner) => new VmHotplugException(vm.Name, "attach nic", nic.Id, reason, inner), cancellationToken).ConfigureAwait(false);
        vm.Spec = vm.Spec with { Nics = [.. vm.Spec.Nics, nic] };
    }

    async Task IVmNics.DetachAsync(string nicId, CancellationToken cancellationToken)
    {
        vm.Require("detach nic", HotplugFix, VmState.Running, VmState.Paused);
        var detached = vm.Spec.Nics.FirstOrDefault(n => n.Id == nicId) ?? throw new VmHotplugException(vm.Name, "detach nic", nicId, "no NIC with that id is attached");
        vm.Spec = vm.Spec with { Nics = vm.Spec.Nics.Where(n => n.Id != nicId).ToList() };
        if (detached.Network is not null)
        {
            await vm.NetworkPorts.ReleaseAsync("vm:" + vm.Name, nicId).ConfigureAwait(false);
        }
    }

    public Task SetCpuCountAsync(int count, CancellationToken cancellationToken = default)
    {
        vm.Require("set the CPU count of", HotplugFix, VmState.Running, VmState.Paused);
        var max = vm.Spec.Cpu.MaxCount ?? vm.Spec.Cpu.Count;
        return count < 1 || count > max
            ? throw new VmHotplugException(vm.Name, "set CPU count", "cpu", $"{count} is outside 1..{max} (the spec's Cpu.MaxCount)")
            : Task.CompletedTask;
    }

    public Task AddMemoryAsync(int sizeMiB, CancellationToken cancellationToken = default)
    {
        vm.Require("add memory to", HotplugFix, VmState.Running, VmState.Paused);
        var max = vm.Spec.Memory.MaxSizeMiB ?? vm.Spec.Memory.SizeMiB;
        if (sizeMiB <= 0 || vm.Spec.Memory.SizeMiB + sizeMiB > max)
        {
            throw new VmHotplugException(vm.Name, "add memory", "memory", $"{sizeMiB} MiB more exceeds the spec's Memory.MaxSizeMiB ({max})");
        }

        vm.Spec = vm.Spec with { Memory = vm.Spec.Memory with { SizeMiB = vm.Spec.Memory.SizeMiB + sizeMiB } };
        return Task.CompletedTask;
    }

    public Task<VmDiskSnapshot> CreateSnapshotAsync(string diskId, string overlayPath, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException($"VM '{vm.Name}': the in-memory VM has no disk images to snapshot; test disk snapshots against Virt.Kvm");

#pragma warning disable CS1998 // An iterator that throws on its first MoveNext, as the real ones do for a bad state.
    public async IAsyncEnumerable<VmBlockJobProgress> CommitAsync(string diskId, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        throw new NotSupportedException($"VM '{vm.Name}': the in-memory VM has no disk images to commit; test block jobs against Virt.Kvm");
#pragma warning disable CS0162
        yield break;
#pragma warning restore CS0162
    }

    public async IAsyncEnumerable<VmMigrationProgress> MigrateAsync(VmMigrationOptions options, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        vm.Require("migrate", "only a running VM can be live-migrated; start it first", VmState.Running);
        throw new NotSupportedException($"VM '{vm.Name}': the in-memory VM cannot migrate; test migration against Virt.Kvm");
#pragma warning disable CS0162
        yield break;
#pragma warning restore CS0162
    }
#pragma warning restore CS1998

    public Task<IReadOnlyDictionary<string, long>> GetLocalDiskSizesAsync(CancellationToken cancellationToken = default)
    {
        vm.Require("read disk sizes", "start it first", VmState.Running, VmState.Paused);
        throw new NotSupportedException($"VM '{vm.Name}': the in-memory VM has no disk images to measure; test migration against Virt.Kvm");
    }

    public Task<string?> GetIncomingSourceHostAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult(vm.State == VmState.Incoming ? vm.IncomingSourceHost : null);

    public Task PingAsync(CancellationToken cancellationToken = default) => throw NoGuest("guest-ping");

    public Task<GuestOsInfo> GetOsInfoAsync(CancellationToken cancellationToken = default) => throw NoGuest("guest-get-osinfo");

    public Task<IReadOnlyList<GuestNetworkInterface>> GetNetworkInterfacesAsync(CancellationToken cancellationToken = default) => throw NoGuest("guest-network-get-interfaces");

    public Task<GuestExecResult> ExecAsync(string path, IReadOnlyList<string>? arguments = null, byte[]? standardInput = null, TimeSpan? timeout = null, CancellationToken cancellationToken = default) => throw NoGuest("guest-exec");

    public Task<int> FreezeFileSystemsAsync(CancellationToken cancellationToken = default) => throw NoGuest("guest-fsfreeze-freeze");

    public Task<int> ThawFileSystemsAsync(CancellationToken cancellationToken = default) => throw NoGuest("guest-fsfreeze-thaw");

    public Task ShutdownAsync(GuestShutdownMode mode = GuestShutdownMode.Powerdown, CancellationToken cancellationToken = default) => throw NoGuest("guest-shutdown");

    private VmGuestAgentUnavailableException NoGuest(string operation) =>
        new(vm.Name, operation, "the in-memory VM runs no guest agent; test guest calls against Virt.Kvm with the test guest");
}
