using Virt.VirtualMachines;

namespace Virt.Tests.Contracts;

/// <summary>
/// What every <see cref="IVirtualMachineManager"/> promises, written once and run against the in-memory
/// double (tests/Virt.Testing.Tests) and real QEMU (tests/Virt.Kvm.IntegrationTests). Kept short: each real
/// boot costs seconds under TCG.
/// </summary>
public abstract class VirtualMachineManagerContract
{
    /// <summary>The manager under test; a fresh, empty one per test.</summary>
    protected abstract IVirtualMachineManager Manager { get; }

    /// <summary>A spec that boots on this backend, with a disk that can hold a live snapshot.</summary>
    protected abstract Task<VmSpec> SpecAsync(string name);

    /// <summary>Waits until the guest has booted far enough to be paused and snapshotted.</summary>
    protected virtual Task WaitUntilBootedAsync(IVirtualMachine vm) => Task.CompletedTask;

    [Fact(Timeout = 180_000)]
    public async Task A_VM_goes_through_its_lifecycle_and_refuses_what_its_state_forbids()
    {
        var ct = TestContext.Current.CancellationToken;
        var vm = await Manager.CreateAsync(await SpecAsync("contract"), ct);
        Assert.Equal(VmState.Stopped, (await vm.GetStatusAsync(ct)).State);
        var conflict = await Assert.ThrowsAsync<VmAlreadyExistsException>(async () => await Manager.CreateAsync(await SpecAsync("contract"), ct));
        Assert.Equal(VirtErrorKind.Conflict, conflict.ErrorKind);
        var pauseStopped = await Assert.ThrowsAsync<VmStateException>(() => vm.PauseAsync(ct));
        Assert.Equal((VirtErrorKind.Conflict, VmState.Stopped), (pauseStopped.ErrorKind, pauseStopped.State));

        await vm.StartAsync(ct);
        await WaitUntilBootedAsync(vm);
        Assert.Equal(VmState.Running, (await vm.GetStatusAsync(ct)).State);
        var startRunning = await Assert.ThrowsAsync<VmStateException>(() => vm.StartAsync(ct));
        Assert.Equal(VirtErrorKind.Conflict, startRunning.ErrorKind);

        await vm.PauseAsync(ct);
        Assert.Equal(VmState.Paused, (await vm.GetStatusAsync(ct)).State);
        await vm.ResumeAsync(ct);
        Assert.Equal(VmState.Running, (await vm.GetStatusAsync(ct)).State);

        var snapshot = await vm.Snapshots.CreateAsync("contract-snap", ct);
        Assert.Equal("contract-snap", snapshot.Name);
        Assert.Contains(await vm.Snapshots.ListAsync(ct), s => s.Name == "contract-snap");
        await vm.Snapshots.DeleteAsync("contract-snap", ct);

        var deleteRunning = await Assert.ThrowsAsync<VmStateException>(() => Manager.DeleteAsync("contract", cancellationToken: ct));
        Assert.Equal(VirtErrorKind.Conflict, deleteRunning.ErrorKind);

        await vm.KillAsync(ct);
        Assert.Equal(VmState.Stopped, (await vm.GetStatusAsync(ct)).State);
        await Manager.DeleteAsync("contract", cancellationToken: ct);
        Assert.DoesNotContain(await Manager.ListAsync(ct), v => v.Name == "contract");
    }

    [Fact]
    public async Task A_missing_VM_is_not_found()
    {
        var ct = TestContext.Current.CancellationToken;
        var get = await Assert.ThrowsAsync<VmNotFoundException>(() => Manager.GetAsync("no-such-vm", ct));
        Assert.Equal((VirtErrorKind.NotFound, "no-such-vm"), (get.ErrorKind, get.VmName));
        var delete = await Assert.ThrowsAsync<VmNotFoundException>(() => Manager.DeleteAsync("no-such-vm", cancellationToken: ct));
        Assert.Equal(VirtErrorKind.NotFound, delete.ErrorKind);
    }
}
