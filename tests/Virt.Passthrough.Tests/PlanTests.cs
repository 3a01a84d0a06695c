using Virt.Passthrough.Testing;

namespace Virt.Passthrough.Tests;

/// <summary>Plans are read-only and name every write, every device with its reason, and every blocker.</summary>
public sealed class PlanTests
{
    private static readonly PciAddress Gpu = PciAddress.Parse(Scenarios.Gpu);

    private static PassthroughPlanOptions Owner(bool includeGroupMembers = false, bool allowHostCritical = false, bool allFunctions = true) =>
        new() { Owner = "vm:gamer", IncludeGroupMembers = includeGroupMembers, AllowHostCritical = allowHostCritical, AllFunctions = allFunctions };

    [Fact]
    public async Task A_secondary_gpu_plans_its_audio_function_first_and_writes_override_unbind_probe()
    {
        var host = Scenarios.SecondaryNvidiaGpu();
        var plan = await new PassthroughManager(host.FileSystem, host.Options).PlanAsync([Gpu], Owner(), TestContext.Current.CancellationToken);

        Assert.True(plan.CanApply);
        Assert.Equal(0, host.WriteCount);
        Assert.Equal([(Scenarios.GpuAudio, PlannedDeviceRole.SiblingFunction), (Scenarios.Gpu, PlannedDeviceRole.Target)], plan.Devices.Select(device => (device.Address.ToString(), device.Role)));
        Assert.Equal([1], plan.Groups);
        Assert.Equal(
            [
                "/sys/bus/pci/devices/0000:01:00.1/driver_override=vfio-pci\n",
                "/sys/bus/pci/drivers/snd_hda_intel/unbind=0000:01:00.1",
                "/sys/bus/pci/drivers_probe=0000:01:00.1",
                "/sys/bus/pci/devices/0000:01:00.0/driver_override=vfio-pci\n",
                "/sys/bus/pci/drivers/nvidia/unbind=0000:01:00.0",
                "/sys/bus/pci/drivers_probe=0000:01:00.0",
            ],
            plan.Writes.Select(write => write.Path + "=" + write.Value));
    }

    [Fact]
    public async Task The_boot_vga_and_a_gpu_held_open_are_blockers_unless_host_critical_devices_are_allowed()
    {
        var host = Scenarios.NvidiaGpuWithAudio();
        host.OpenHandle("nvidia-persiste", "/dev/nvidia0");
        host.OpenHandle("Xorg", "/dev/dri/card0");
        var manager = new PassthroughManager(host.FileSystem, host.Options);

        var plan = await manager.PlanAsync([Gpu], Owner(), TestContext.Current.CancellationToken);
        Assert.False(plan.CanApply);
        Assert.Equal(["host.boot-vga", "host.open-handles"], plan.Blockers.Select(blocker => blocker.Code).Order());
        var handles = plan.Blockers.Single(blocker => blocker.Code == "host.open-handles").Reason;
        Assert.Contains("(nvidia-persiste) on /dev/nvidia0", handles, StringComparison.Ordinal);
        Assert.Contains("(Xorg) on /dev/dri/card0", handles, StringComparison.Ordinal);
        var refused = await Assert.ThrowsAsync<PassthroughBlockedException>(() => manager.ApplyAsync(plan, TestContext.Current.CancellationToken));
        Assert.Contains("host.boot-vga", refused.Message, StringComparison.Ordinal);
        Assert.Equal(0, host.WriteCount);

        Assert.True((await manager.PlanAsync([Gpu], Owner(allowHostCritical: true), TestContext.Current.CancellationToken)).CanApply);
    }

    [Fact]
    public async Task The_root_disk_controller_in_the_gpu_group_is_refused_even_as_a_group_member()
    {
        var host = Scenarios.BootNvmeInGpuGroup();
        var manager = new PassthroughManager(host.FileSystem, host.Options);

        var plan = await manager.PlanAsync([Gpu], Owner(), TestContext.Current.CancellationToken);
        var member = Assert.Single(plan.Blockers);
        Assert.Equal(("0000:02:00.0", "group.member"), (member.Device.ToString(), member.Code));

        var included = await manager.PlanAsync([Gpu], Owner(includeGroupMembers: true), TestContext.Current.CancellationToken);
        var disk = Assert.Single(included.Blockers);
        Assert.Equal("host.block-device", disk.Code);
        Assert.Contains("/dev/nvme0n1p1 mounted on /", disk.Reason, StringComparison.Ordinal);
        Assert.Contains(included.Devices, device => device.Role == PlannedDeviceRole.GroupMember && device.Address.ToString() == "0000:02:00.0");
    }

    [Fact]
    public async Task Without_all_functions_the_other_functions_of_a_four_function_card_block_the_group()
    {
        var host = Scenarios.TuringFourFunctions();
        var manager = new PassthroughManager(host.FileSystem, host.Options);
        var single = await manager.PlanAsync([Gpu], Owner(allFunctions: false), TestContext.Current.CancellationToken);
        Assert.Equal(["0000:01:00.1", "0000:01:00.2", "0000:01:00.3"], single.Blockers.Select(blocker => blocker.Device.ToString()));
        Assert.All(single.Blockers, blocker => Assert.Equal("group.member", blocker.Code));
        var before = host.Snapshot();
        var refused = await Assert.ThrowsAsync<PassthroughBlockedException>(() => manager.ApplyAsync(single, TestContext.Current.CancellationToken));
        Assert.Contains("0000:01:00.2 [group.member]", refused.Message, StringComparison.Ordinal);
        Assert.Equal(before, host.Snapshot());
        Assert.Equal(0, host.WriteCount);

        var all = await manager.PlanAsync([Gpu], Owner(), TestContext.Current.CancellationToken);
        Assert.True(all.CanApply);
        Assert.Equal(["0000:01:00.3", "0000:01:00.2", "0000:01:00.1", "0000:01:00.0"], all.Devices.Select(device => device.Address.ToString()));
    }

    [Fact]
    public async Task Bad_input_gets_a_typed_error_naming_the_device_and_the_fix_and_writes_nothing()
    {
        Assert.Throws<FormatException>(() => PciAddress.Parse("01:00.0"));
        var host = Scenarios.SecondaryNvidiaGpu();
        var manager = new PassthroughManager(host.FileSystem, host.Options);
        var missing = await Assert.ThrowsAsync<PciDeviceNotFoundException>(() => manager.PlanAsync([PciAddress.Parse("0000:09:00.0")], Owner(), TestContext.Current.CancellationToken));
        Assert.Contains("0000:09:00.0", missing.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ArgumentException>(() => manager.PlanAsync([Gpu], new PassthroughPlanOptions { Owner = "vm/../../etc" }, TestContext.Current.CancellationToken));
        var bridge = await manager.PlanAsync([PciAddress.Parse(Scenarios.RootPort)], Owner(), TestContext.Current.CancellationToken);
        Assert.Contains(bridge.Blockers, blocker => blocker.Code == "device.bridge");

        var off = Scenarios.IommuOff();
        var iommu = await Assert.ThrowsAsync<IommuUnavailableException>(() => new PassthroughManager(off.FileSystem, off.Options).PlanAsync([Gpu], Owner(), TestContext.Current.CancellationToken));
        Assert.Contains("intel_iommu=on", iommu.Message, StringComparison.Ordinal);

        var novfio = Scenarios.VfioNotLoaded();
        var vfio = await Assert.ThrowsAsync<VfioUnavailableException>(() => new PassthroughManager(novfio.FileSystem, novfio.Options).PlanAsync([Gpu], Owner(), TestContext.Current.CancellationToken));
        Assert.Contains("modprobe vfio_pci", vfio.Message, StringComparison.Ordinal);
        Assert.Equal(0, host.WriteCount + off.WriteCount + novfio.WriteCount);
    }

    [Fact]
    public async Task A_device_without_a_group_on_a_host_with_groups_is_named_as_such_not_as_an_iommu_that_is_off()
    {
        // The AMD IOMMU's own function: the kernel puts every other device in a group, but not this one.
        const string AmdIommu = "0000:00:00.2";
        var host = Scenarios.SecondaryNvidiaGpu().WithDevice(AmdIommu, d => d.Ids(0x1022, 0x1481).Class(0x080600));

        var error = await Assert.ThrowsAsync<IommuUnavailableException>(() => new PassthroughManager(host.FileSystem, host.Options).PlanAsync([PciAddress.Parse(AmdIommu)], Owner(), TestContext.Current.CancellationToken));

        Assert.Equal(1, error.HostGroupCount);
        Assert.Contains($"{AmdIommu} through: it is in no IOMMU group", error.Message, StringComparison.Ordinal);
        Assert.Contains("the host has 1 group:", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("iommu_groups is empty", error.Message, StringComparison.Ordinal);

        var off = Scenarios.IommuOff();
        var whole = await Assert.ThrowsAsync<IommuUnavailableException>(() => new PassthroughManager(off.FileSystem, off.Options).PlanAsync([Gpu], Owner(), TestContext.Current.CancellationToken));
        Assert.Equal(0, whole.HostGroupCount);
        Assert.Contains("iommu_groups is empty", whole.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_nic_with_routes_is_host_critical_and_one_without_is_not()
    {
        var host = new FakePciHost()
            .WithDevice("0000:04:00.0", d => d.Ids(0x8086, 0x1533).Class(0x020000).Driver("igb").Group(5).Network("enp4s0", hasRoutes: true))
            .WithDevice("0000:05:00.0", d => d.Ids(0x8086, 0x1533).Class(0x020000).Driver("igb").Group(6).Network("enp5s0", hasRoutes: false));
        var manager = new PassthroughManager(host.FileSystem, host.Options);

        var routed = await manager.PlanAsync([PciAddress.Parse("0000:04:00.0")], Owner(), TestContext.Current.CancellationToken);
        var blocker = Assert.Single(routed.Blockers);
        Assert.Equal("host.network", blocker.Code);
        Assert.Contains("enp4s0", blocker.Reason, StringComparison.Ordinal);
        Assert.True((await manager.PlanAsync([PciAddress.Parse("0000:05:00.0")], Owner(), TestContext.Current.CancellationToken)).CanApply);
    }
}
