using Virt.VirtualMachines;

namespace Virt.Testing.Tests;

/// <summary>What the in-memory VM adds beyond the shared contract: events, crash injection, hotplug rules.</summary>
public sealed class InMemoryVirtualMachineTests
{
    private readonly InMemoryVirtualMachineManager _manager = new();

    [Fact]
    public async Task Watchers_see_each_transition_in_order()
    {
        var ct = TestContext.Current.CancellationToken;
        var vm = (InMemoryVirtualMachine)await _manager.CreateAsync(new VmSpec("watched"), ct);
        await using var events = vm.WatchAsync(ct).GetAsyncEnumerator(ct);
        var first = events.MoveNextAsync();

        await vm.StartAsync(ct);
        await vm.PauseAsync(ct);
        await vm.ResumeAsync(ct);
        vm.Crash("segfault");

        var kinds = new List<VmEventKind>();
        Assert.True(await first);
        kinds.Add(events.Current.Kind);
        while (kinds.Count < 4 && await events.MoveNextAsync())
        {
            kinds.Add(events.Current.Kind);
        }

        Assert.Equal([VmEventKind.Started, VmEventKind.Paused, VmEventKind.Resumed, VmEventKind.Crashed], kinds);
        var status = await vm.GetStatusAsync(ct);
        Assert.Equal((VmState.Crashed, "segfault"), (status.State, status.LastExit?.Reason));
        await vm.StartAsync(ct);   // a crashed VM starts again, as with QEMU
    }

    [Fact]
    public async Task Hotplug_needs_a_running_VM_and_edits_the_spec()
    {
        var ct = TestContext.Current.CancellationToken;
        var vm = await _manager.CreateAsync(new VmSpec("hotplug"), ct);
        var stopped = await Assert.ThrowsAsync<VmStateException>(() => vm.Nics.AttachAsync(new VmNic("net1"), ct));
        Assert.Equal(VirtErrorKind.Conflict, stopped.ErrorKind);

        await vm.StartAsync(ct);
        await vm.Disks.AttachAsync(new VmDisk("data", "/images/data.qcow2"), ct);
        Assert.Contains(vm.Spec.Disks, d => d.Id == "data");
        await Assert.ThrowsAsync<VmHotplugException>(() => vm.Disks.AttachAsync(new VmDisk("data", "/images/other.qcow2"), ct));
        await vm.Disks.DetachAsync("data", ct);
        Assert.Empty(vm.Spec.Disks);
    }

    [Fact]
    public async Task The_guest_is_unavailable_and_force_delete_kills_a_running_VM()
    {
        var ct = TestContext.Current.CancellationToken;
        var vm = await _manager.CreateAsync(new VmSpec("guestless"), ct);
        await vm.StartAsync(ct);
        var guest = await Assert.ThrowsAsync<VmGuestAgentUnavailableException>(() => vm.Guest.PingAsync(ct));
        Assert.Equal(VirtErrorKind.Unavailable, guest.ErrorKind);

        await _manager.DeleteAsync("guestless", force: true, ct);
        Assert.Empty(await _manager.ListAsync(ct));
        Assert.Equal(VmState.Stopped, (await vm.GetStatusAsync(ct)).State);
    }

    [Fact]
    public async Task A_VM_prepared_for_a_migration_names_its_source_host_while_it_waits()
    {
        var ct = TestContext.Current.CancellationToken;
        await _manager.PrepareIncomingAsync(new VmSpec("arriving"), new IncomingMigrationOptions { ListenAddress = "192.0.2.2", SourceHost = "host-a" }, ct);
        await _manager.PrepareIncomingAsync(new VmSpec("unnamed"), new IncomingMigrationOptions { ListenAddress = "192.0.2.2" }, ct);
        var created = await _manager.CreateAsync(new VmSpec("local"), ct);

        Assert.Equal("host-a", await (await _manager.GetAsync("arriving", ct)).Migration.GetIncomingSourceHostAsync(ct));
        Assert.Null(await (await _manager.GetAsync("unnamed", ct)).Migration.GetIncomingSourceHostAsync(ct));
        Assert.Null(await created.Migration.GetIncomingSourceHostAsync(ct));
    }

    [Fact]
    public async Task An_invalid_spec_is_refused_as_the_real_backend_refuses_it()
    {
        await Assert.ThrowsAsync<InvalidVmSpecException>(() => _manager.CreateAsync(new VmSpec("bad name!"), TestContext.Current.CancellationToken));
    }
}
