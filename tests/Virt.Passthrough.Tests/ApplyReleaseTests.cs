using Microsoft.Extensions.Time.Testing;
using Virt.Passthrough.Testing;

namespace Virt.Passthrough.Tests;

/// <summary>Apply and release on the fake kernel: exact restore, journal, crash recovery, faults at every write.</summary>
public sealed class ApplyReleaseTests
{
    private const string Owner = "vm:gamer";
    private static readonly PciAddress Gpu = PciAddress.Parse(Scenarios.Gpu);

    private static Task<PassthroughBinding> BindAsync(PassthroughManager manager) => manager.AcquireAsync(Owner, [Gpu], allFunctions: true, TestContext.Current.CancellationToken);

    [Fact]
    public async Task A_gpu_and_its_audio_go_to_vfio_and_come_back_to_their_drivers_with_the_override_cleared()
    {
        var host = Scenarios.SecondaryNvidiaGpu();
        var before = host.Snapshot();
        var manager = new PassthroughManager(host.FileSystem, host.Options);

        var binding = await BindAsync(manager);
        Assert.Equal(["/dev/vfio/1"], binding.GroupDevices);
        Assert.Equal([("0000:01:00.1", "snd_hda_intel"), ("0000:01:00.0", "nvidia")], binding.Devices.Select(device => (device.Address.ToString(), device.OriginalDriver!)));
        Assert.All(host.Snapshot().Where(state => state.Address != Scenarios.RootPort), state => Assert.Equal(("vfio-pci", "vfio-pci"), (state.Driver, state.Override)));
        Assert.True(host.FileSystem.File.Exists("/dev/vfio/1"));
        Assert.True(Assert.Single(manager.ListIommuGroups()).IsViable);
        var listed = Assert.Single(manager.ListBindings());
        Assert.Equal(binding.Owner, listed.Owner);
        Assert.Equal(binding.Devices, listed.Devices);
        Assert.Equal(binding.GroupDevices, listed.GroupDevices);

        await manager.ReleaseAsync(Owner, TestContext.Current.CancellationToken);
        Assert.Equal(before, host.Snapshot());
        Assert.False(host.FileSystem.File.Exists("/dev/vfio/1"));
        Assert.Empty(manager.ListBindings());

        var writes = host.WriteCount;
        await manager.ReleaseAsync(Owner, TestContext.Current.CancellationToken);
        Assert.Equal(writes, host.WriteCount);
    }

    [Fact]
    public async Task A_new_process_releases_from_the_journal_after_a_crash()
    {
        var host = Scenarios.SecondaryNvidiaGpu();
        var before = host.Snapshot();
        await BindAsync(new PassthroughManager(host.FileSystem, host.Options));

        // The first manager is gone (the application crashed); a new one finds the binding in the journal.
        var recovered = new PassthroughManager(host.FileSystem, host.Options);
        Assert.Equal(Owner, Assert.Single(recovered.ListBindings()).Owner);
        await recovered.ReleaseAsync(Owner, TestContext.Current.CancellationToken);
        Assert.Equal(before, host.Snapshot());
    }

    [Fact]
    public async Task Binding_again_for_the_same_owner_is_a_no_op_and_another_owner_is_refused()
    {
        var host = Scenarios.SecondaryNvidiaGpu();
        var manager = new PassthroughManager(host.FileSystem, host.Options);
        var first = await BindAsync(manager);
        var writes = host.WriteCount;
        var second = await BindAsync(manager);
        Assert.Equal(writes, host.WriteCount);
        Assert.Equal(first.Devices, second.Devices);

        var other = await Assert.ThrowsAsync<PassthroughBlockedException>(() => manager.AcquireAsync("vm:other", [Gpu], true, TestContext.Current.CancellationToken));
        Assert.Contains(other.Plan.Blockers, blocker => blocker.Code == "device.owned");

        // Asking for only the GPU function: its audio sibling, held for vm:gamer, still blocks the shared group.
        var sibling = await manager.PlanAsync([Gpu], new PassthroughPlanOptions { Owner = "vm:other", AllFunctions = false }, TestContext.Current.CancellationToken);
        Assert.Contains(sibling.Blockers, blocker => blocker.Code == "device.owned" && blocker.Device.ToString() == Scenarios.GpuAudio);
    }

    [Fact]
    public async Task A_device_without_a_driver_lands_on_vfio_and_goes_back_to_none()
    {
        var host = Scenarios.DeviceWithoutDriver();
        var manager = new PassthroughManager(host.FileSystem, host.Options);
        await manager.AcquireAsync("vm:edu", [PciAddress.Parse("0000:00:04.0")], true, TestContext.Current.CancellationToken);
        Assert.Equal(new FakeDeviceState("0000:00:04.0", "vfio-pci", "vfio-pci"), Assert.Single(host.Snapshot()));
        await manager.ReleaseAsync("vm:edu", TestContext.Current.CancellationToken);
        Assert.Equal(new FakeDeviceState("0000:00:04.0", null, null), Assert.Single(host.Snapshot()));
    }

    [Fact]
    public async Task A_device_already_on_vfio_is_a_no_op_both_ways()
    {
        var host = Scenarios.DeviceAlreadyOnVfio();
        var manager = new PassthroughManager(host.FileSystem, host.Options);
        var plan = await manager.PlanAsync([PciAddress.Parse("0000:05:00.0")], new PassthroughPlanOptions { Owner = "vm:nic" }, TestContext.Current.CancellationToken);
        Assert.True(Assert.Single(plan.Devices).AlreadyBound);
        Assert.Empty(plan.Writes);
        await manager.ApplyAsync(plan, TestContext.Current.CancellationToken);
        await manager.ReleaseAsync("vm:nic", TestContext.Current.CancellationToken);
        Assert.Equal(0, host.WriteCount);
        Assert.Equal(new FakeDeviceState("0000:05:00.0", "vfio-pci", null), Assert.Single(host.Snapshot()));
    }

    [Fact]
    public async Task A_variant_driver_that_binds_only_through_the_override_is_used_and_undone()
    {
        var host = Scenarios.VariantDriver();
        var manager = new PassthroughManager(host.FileSystem, host.Options);
        var plan = await manager.PlanAsync([PciAddress.Parse("0000:08:00.2")], new PassthroughPlanOptions { Owner = "vm:mlx", Driver = "mlx5_vfio_pci" }, TestContext.Current.CancellationToken);
        await manager.ApplyAsync(plan, TestContext.Current.CancellationToken);
        Assert.Equal("mlx5_vfio_pci", Assert.Single(host.Snapshot()).Driver);
        Assert.True(host.FileSystem.File.Exists("/dev/vfio/12"));
        await manager.ReleaseAsync("vm:mlx", TestContext.Current.CancellationToken);
        Assert.Equal(new FakeDeviceState("0000:08:00.2", "mlx5_core", null), Assert.Single(host.Snapshot()));
    }

    [Fact]
    public async Task Release_is_refused_while_a_process_holds_the_vfio_group_and_changes_nothing()
    {
        var host = Scenarios.SecondaryNvidiaGpu();
        var manager = new PassthroughManager(host.FileSystem, host.Options);
        await BindAsync(manager);
        var qemu = host.OpenHandle("qemu-system-x86", "/dev/vfio/1");
        var writes = host.WriteCount;

        var busy = await Assert.ThrowsAsync<PassthroughDeviceBusyException>(() => manager.ReleaseAsync(Owner, TestContext.Current.CancellationToken));
        Assert.Contains($"{qemu} (qemu-system-x86)", busy.Message, StringComparison.Ordinal);
        Assert.Equal(writes, host.WriteCount);

        host.CloseHandles(qemu);
        await manager.ReleaseAsync(Owner, TestContext.Current.CancellationToken);
        Assert.Empty(manager.ListBindings());
    }

    [Fact]
    public async Task A_fault_at_any_write_of_the_bind_sequence_leaves_the_host_as_it_was()
    {
        var clean = Scenarios.SecondaryNvidiaGpu();
        await BindAsync(new PassthroughManager(clean.FileSystem, clean.Options));
        var writes = clean.WriteCount;
        Assert.Equal(6, writes);

        foreach (var error in new[] { Errno.EBUSY, Errno.ENODEV, Errno.EINVAL })
        {
            for (var ordinal = 0; ordinal < writes; ordinal++)
            {
                var host = Scenarios.SecondaryNvidiaGpu();
                var before = host.Snapshot();
                host.FailWrite(ordinal, error);
                var manager = new PassthroughManager(host.FileSystem, host.Options);

                var failure = await Assert.ThrowsAsync<PassthroughWriteException>(() => BindAsync(manager));
                Assert.True(failure.HostRestored, failure.Message);
                Assert.Equal(error.ToString(), failure.ErrorName);
                Assert.Contains(host.Writes[ordinal].Path, failure.Message, StringComparison.Ordinal);
                Assert.Equal(before, host.Snapshot());
                Assert.Empty(manager.ListBindings());
                Assert.False(host.FileSystem.File.Exists("/dev/vfio/1"));
            }
        }
    }

    [Fact]
    public async Task A_fault_at_any_write_of_the_restore_sequence_keeps_the_journal_and_a_second_release_restores_exactly()
    {
        var clean = Scenarios.SecondaryNvidiaGpu();
        var cleanManager = new PassthroughManager(clean.FileSystem, clean.Options);
        await BindAsync(cleanManager);
        var bindWrites = clean.WriteCount;
        await cleanManager.ReleaseAsync(Owner, TestContext.Current.CancellationToken);
        var restoreWrites = clean.WriteCount - bindWrites;
        Assert.Equal(8, restoreWrites);

        for (var step = 0; step < restoreWrites; step++)
        {
            var host = Scenarios.SecondaryNvidiaGpu();
            var before = host.Snapshot();
            var manager = new PassthroughManager(host.FileSystem, host.Options);
            await BindAsync(manager);
            host.FailWrite(bindWrites + step, Errno.EBUSY);

            var failure = await Assert.ThrowsAsync<PassthroughWriteException>(() => manager.ReleaseAsync(Owner, TestContext.Current.CancellationToken));
            Assert.False(failure.HostRestored);
            Assert.Contains("call ReleaseAsync again", failure.Message, StringComparison.Ordinal);
            Assert.NotEmpty(manager.ListBindings());

            await new PassthroughManager(host.FileSystem, host.Options).ReleaseAsync(Owner, TestContext.Current.CancellationToken);
            Assert.Equal(before, host.Snapshot());
            Assert.Empty(manager.ListBindings());
        }
    }

    [Fact]
    public async Task An_unbind_that_blocks_times_out_is_rolled_back_and_released_once_the_holder_lets_go()
    {
        var host = Scenarios.SecondaryNvidiaGpu();
        var before = host.Snapshot();
        host.BlockUnbind(Scenarios.GpuAudio);
        var manager = new PassthroughManager(host.FileSystem, host.Options);

        var timeout = await Assert.ThrowsAsync<PassthroughTimeoutException>(() => BindAsync(manager));
        Assert.Equal(Scenarios.GpuAudio, timeout.Device.ToString());
        Assert.Contains("ReleaseAsync", timeout.Message, StringComparison.Ordinal);
        Assert.Equal(before, host.Snapshot());

        // The holder lets go: the kernel finishes the unbind it was blocked in, and the journal still knows the device.
        host.UnblockUnbinds();
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (host.Snapshot().Single(state => state.Address == Scenarios.GpuAudio).Driver is not null && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10, TestContext.Current.CancellationToken);
        }

        Assert.NotEqual(before, host.Snapshot());
        await manager.ReleaseAsync(Owner, TestContext.Current.CancellationToken);
        Assert.Equal(before, host.Snapshot());
    }

    [Fact]
    public async Task The_write_deadline_runs_on_the_given_clock()
    {
        var host = Scenarios.SecondaryNvidiaGpu();
        host.Options.WriteTimeout = TimeSpan.FromHours(1);
        var before = host.Snapshot();
        host.BlockUnbind(Scenarios.GpuAudio);
        var clock = new FakeTimeProvider();
        var manager = new PassthroughManager(host.FileSystem, host.Options, timeProvider: clock);
        try
        {
            // Only the fake clock can reach an hour's deadline: each step lets the binder's waits see the new time.
            var bind = BindAsync(manager);
            while (!bind.IsCompleted)
            {
                clock.Advance(TimeSpan.FromMinutes(10));
                await Task.WhenAny(bind, Task.Delay(1, TestContext.Current.CancellationToken));
            }

            var timeout = await Assert.ThrowsAsync<PassthroughTimeoutException>(() => bind);
            Assert.Equal(Scenarios.GpuAudio, timeout.Device.ToString());
            Assert.Contains("3600 s", timeout.Message, StringComparison.Ordinal);
            Assert.Equal(before, host.Snapshot());
        }
        finally
        {
            host.UnblockUnbinds();
        }
    }

    [Fact]
    public async Task A_device_that_vanishes_mid_sequence_fails_the_bind_and_the_others_are_restored()
    {
        var host = Scenarios.SecondaryNvidiaGpu();
        host.VanishAtWrite(1, Scenarios.GpuAudio);
        var manager = new PassthroughManager(host.FileSystem, host.Options);

        var failure = await Assert.ThrowsAsync<PassthroughWriteException>(() => BindAsync(manager));
        Assert.Equal("ENODEV", failure.ErrorName);
        Assert.Equal([new FakeDeviceState(Scenarios.RootPort, "pcieport", null), new FakeDeviceState(Scenarios.Gpu, "nvidia", null)], host.Snapshot());
        Assert.Empty(manager.ListBindings());
    }
}
