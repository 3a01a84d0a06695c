using Virt.Passthrough.Testing;

namespace Virt.Passthrough.Tests;

/// <summary>SR-IOV VFs, mdev types and devices, NVIDIA vGPU types, on the fake kernel.</summary>
public sealed class SriovMdevTests
{
    private static readonly PciAddress Pf = PciAddress.Parse("0000:03:00.0");

    [Fact]
    public async Task Vfs_are_created_without_a_host_driver_changed_through_zero_and_one_is_bound_to_vfio()
    {
        var host = Scenarios.SriovNic();
        var manager = new PassthroughManager(host.FileSystem, host.Options);

        var vfs = await manager.SetVirtualFunctionCountAsync(Pf, 2, autoprobe: false, TestContext.Current.CancellationToken);
        Assert.Equal(["0000:03:10.0", "0000:03:10.1"], vfs.Select(vf => vf.Address.ToString()));
        Assert.All(vfs, vf => Assert.Equal((null, Pf), (vf.Driver, vf.PhysicalFunction)));

        vfs = await manager.SetVirtualFunctionCountAsync(Pf, 3, autoprobe: true, TestContext.Current.CancellationToken);
        Assert.Equal(3, vfs.Count);
        Assert.All(vfs, vf => Assert.Equal("ixgbevf", vf.Driver));
        Assert.Contains(host.Writes, write => write.Path.EndsWith("sriov_numvfs", StringComparison.Ordinal) && write.Value == "0");

        await manager.AcquireAsync("vm:router", [vfs[1].Address], allFunctions: false, TestContext.Current.CancellationToken);
        Assert.Equal("vfio-pci", manager.GetDevice(vfs[1].Address).Driver);
        Assert.True(host.FileSystem.File.Exists("/dev/vfio/21"));
        var owned = await Assert.ThrowsAsync<PassthroughException>(() => manager.SetVirtualFunctionCountAsync(Pf, 0, false, TestContext.Current.CancellationToken));
        Assert.Contains("vm:router", owned.Message, StringComparison.Ordinal);

        await manager.ReleaseAsync("vm:router", TestContext.Current.CancellationToken);
        Assert.Equal("ixgbevf", manager.GetDevice(vfs[1].Address).Driver);
        Assert.Empty(await manager.SetVirtualFunctionCountAsync(Pf, 0, false, TestContext.Current.CancellationToken));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => manager.SetVirtualFunctionCountAsync(Pf, 9, false, TestContext.Current.CancellationToken));
        await Assert.ThrowsAsync<PciDeviceNotFoundException>(() => manager.SetVirtualFunctionCountAsync(PciAddress.Parse("0000:03:10.0"), 1, false, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Gvtg_mdev_types_list_available_instances_and_devices_get_deterministic_uuids()
    {
        var host = Scenarios.IntelGvtg();
        var manager = new PassthroughManager(host.FileSystem, host.Options);
        var igpu = PciAddress.Parse("0000:00:02.0");
        Assert.Equal([("i915-GVTg_V5_4", 2), ("i915-GVTg_V5_8", 4)], manager.ListMdevTypes(igpu).Select(type => (type.Id, type.AvailableInstances)));

        var device = await manager.CreateMediatedDeviceAsync(igpu, "i915-GVTg_V5_4", "vm:desk/gpu0", TestContext.Current.CancellationToken);
        Assert.Equal(PassthroughManager.MediatedDeviceUuid("vm:desk/gpu0"), device.Uuid);
        Assert.Equal(5, device.Uuid.Version);
        Assert.Equal(device, await manager.CreateMediatedDeviceAsync(igpu, "i915-GVTg_V5_4", "vm:desk/gpu0", TestContext.Current.CancellationToken));
        Assert.Equal(1, manager.ListMdevTypes(igpu)[0].AvailableInstances);
        Assert.Equal(device, Assert.Single(manager.ListMediatedDevices()));

        await manager.CreateMediatedDeviceAsync(igpu, "i915-GVTg_V5_4", "vm:desk/gpu1", TestContext.Current.CancellationToken);
        var full = await Assert.ThrowsAsync<PassthroughException>(() => manager.CreateMediatedDeviceAsync(igpu, "i915-GVTg_V5_4", "vm:desk/gpu2", TestContext.Current.CancellationToken));
        Assert.Contains("available_instances = 0", full.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<PassthroughException>(() => manager.CreateMediatedDeviceAsync(igpu, "i915-GVTg_V9", "x", TestContext.Current.CancellationToken));

        await manager.RemoveMediatedDeviceAsync(device.Uuid, TestContext.Current.CancellationToken);
        await manager.RemoveMediatedDeviceAsync(device.Uuid, TestContext.Current.CancellationToken);
        Assert.Equal(1, manager.ListMdevTypes(igpu)[0].AvailableInstances);
        Assert.Single(manager.ListMediatedDevices());
    }

    [Fact]
    public async Task A_failing_mdev_remove_is_a_typed_error_naming_the_device()
    {
        var host = Scenarios.IntelGvtg();
        var manager = new PassthroughManager(host.FileSystem, host.Options);
        var device = await manager.CreateMediatedDeviceAsync(PciAddress.Parse("0000:00:02.0"), "i915-GVTg_V5_8", "vm:a", TestContext.Current.CancellationToken);
        host.FailWrites("/remove", Errno.EBUSY, once: true);
        var busy = await Assert.ThrowsAsync<PassthroughWriteException>(() => manager.RemoveMediatedDeviceAsync(device.Uuid, TestContext.Current.CancellationToken));
        Assert.Equal("EBUSY", busy.ErrorName);
        Assert.Contains(device.Uuid.ToString(), busy.Message, StringComparison.Ordinal);
        await manager.RemoveMediatedDeviceAsync(device.Uuid, TestContext.Current.CancellationToken);
        Assert.Empty(manager.ListMediatedDevices());
    }

    [Fact]
    public async Task Nvidia_vgpu_types_are_read_set_and_cleared()
    {
        var host = Scenarios.NvidiaVgpu();
        var manager = new PassthroughManager(host.FileSystem, host.Options);
        var vf = PciAddress.Parse("0000:41:00.4");
        var state = manager.GetNvidiaVgpuState(vf);
        Assert.Equal([557, 560, 563], state.CreatableTypes.Select(type => type.Id));
        Assert.Equal("NVIDIA L4-4Q", state.CreatableTypes[1].Name);
        Assert.Equal(0, state.CurrentTypeId);

        await manager.SetNvidiaVgpuTypeAsync(vf, 560, TestContext.Current.CancellationToken);
        Assert.Equal(560, manager.GetNvidiaVgpuState(vf).CurrentTypeId);
        await Assert.ThrowsAsync<PassthroughException>(() => manager.SetNvidiaVgpuTypeAsync(vf, 557, TestContext.Current.CancellationToken));
        await Assert.ThrowsAsync<PassthroughException>(() => manager.SetNvidiaVgpuTypeAsync(vf, 999, TestContext.Current.CancellationToken));
        await manager.SetNvidiaVgpuTypeAsync(vf, 0, TestContext.Current.CancellationToken);
        Assert.Equal(0, manager.GetNvidiaVgpuState(vf).CurrentTypeId);
        await Assert.ThrowsAsync<PassthroughException>(() => Task.FromResult(manager.GetNvidiaVgpuState(PciAddress.Parse("0000:41:00.0"))));
    }
}
