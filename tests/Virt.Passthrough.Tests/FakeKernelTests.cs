using Virt.Passthrough.Testing;

namespace Virt.Passthrough.Tests;

/// <summary>The fake kernel answers writes the way Linux does.</summary>
public sealed class FakeKernelTests
{
    private static void Write(FakePciHost host, string path, string value)
    {
        using var stream = host.FileSystem.FileStream.New(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, 1);
        stream.Write(System.Text.Encoding.ASCII.GetBytes(value));
    }

    private static int Errno(Action write) => Assert.IsType<IOException>(Record.Exception(write), exactMatch: true).HResult;

    [Fact]
    public void The_override_then_unbind_then_probe_moves_a_device_to_vfio_and_creates_its_group_node()
    {
        var host = Scenarios.SecondaryNvidiaGpu();
        Write(host, "/sys/bus/pci/devices/0000:01:00.1/driver_override", "vfio-pci\n");
        Assert.Equal("vfio-pci\n", host.FileSystem.File.ReadAllText("/sys/bus/pci/devices/0000:01:00.1/driver_override"));
        Assert.Equal("/sys/bus/pci/drivers/snd_hda_intel", host.FileSystem.FileInfo.New("/sys/bus/pci/devices/0000:01:00.1/driver").LinkTarget);
        Write(host, "/sys/bus/pci/drivers/snd_hda_intel/unbind", "0000:01:00.1");
        Assert.Null(host.FileSystem.FileInfo.New("/sys/bus/pci/devices/0000:01:00.1/driver").LinkTarget);
        Assert.False(host.FileSystem.File.Exists("/dev/vfio/1"));
        Write(host, "/sys/bus/pci/drivers_probe", "0000:01:00.1");
        Assert.Equal("/sys/bus/pci/drivers/vfio-pci", host.FileSystem.FileInfo.New("/sys/bus/pci/devices/0000:01:00.1/driver").LinkTarget);
        Assert.True(host.FileSystem.File.Exists("/dev/vfio/1"));
        Write(host, "/sys/bus/pci/devices/0000:01:00.1/driver_override", "\n");
        Assert.Equal("(null)\n", host.FileSystem.File.ReadAllText("/sys/bus/pci/devices/0000:01:00.1/driver_override"));
    }

    [Fact]
    public void Binds_are_refused_as_linux_refuses_them()
    {
        var host = Scenarios.SecondaryNvidiaGpu();
        Assert.Equal(16, Errno(() => Write(host, "/sys/bus/pci/drivers/vfio-pci/bind", Scenarios.Gpu)));            // EBUSY: bound
        Write(host, "/sys/bus/pci/drivers/nvidia/unbind", Scenarios.Gpu);
        Assert.Equal(19, Errno(() => Write(host, "/sys/bus/pci/drivers/vfio-pci/bind", Scenarios.Gpu)));            // ENODEV: no id, no override
        Assert.Equal(19, Errno(() => Write(host, "/sys/bus/pci/drivers/nvidia/unbind", Scenarios.Gpu)));            // ENODEV: not bound there
        Assert.Equal(19, Errno(() => Write(host, "/sys/bus/pci/drivers_probe", "0000:09:00.0")));                 // ENODEV: no such device
        Write(host, "/sys/bus/pci/drivers/vfio-pci/new_id", "10de 2684");
        Assert.Equal("/sys/bus/pci/drivers/vfio-pci", host.FileSystem.FileInfo.New("/sys/bus/pci/devices/0000:01:00.0/driver").LinkTarget);
        Assert.Equal(17, Errno(() => Write(host, "/sys/bus/pci/drivers/vfio-pci/new_id", "10de 2684")));         // EEXIST
        Write(host, "/sys/bus/pci/drivers/vfio-pci/remove_id", "10de 2684");
        Assert.Equal(19, Errno(() => Write(host, "/sys/bus/pci/drivers/vfio-pci/remove_id", "10de 2684")));      // ENODEV
    }

    [Fact]
    public void Sriov_counts_go_through_zero_and_vfs_get_their_own_groups()
    {
        var host = Scenarios.SriovNic();
        const string numvfs = "/sys/bus/pci/devices/0000:03:00.0/sriov_numvfs";
        Write(host, numvfs, "2");
        Assert.Equal("/sys/bus/pci/drivers/ixgbevf", host.FileSystem.FileInfo.New("/sys/bus/pci/devices/0000:03:10.1/driver").LinkTarget);
        Assert.Equal("/sys/kernel/iommu_groups/21", host.FileSystem.FileInfo.New("/sys/bus/pci/devices/0000:03:10.1/iommu_group").LinkTarget);
        Assert.Equal(16, Errno(() => Write(host, numvfs, "3")));   // EBUSY: not through 0
        Assert.Equal(34, Errno(() => Write(host, numvfs, "9")));   // ERANGE: above sriov_totalvfs
        Write(host, numvfs, "0");
        Assert.False(host.FileSystem.Directory.Exists("/sys/bus/pci/devices/0000:03:10.0"));
    }

    [Fact]
    public void Injected_errors_are_answered_once_at_the_chosen_write_and_logged()
    {
        var host = Scenarios.SecondaryNvidiaGpu();
        host.FailWrite(1, Testing.Errno.EBUSY);
        Write(host, "/sys/bus/pci/devices/0000:01:00.1/driver_override", "vfio-pci\n");
        Assert.Equal(16, Errno(() => Write(host, "/sys/bus/pci/drivers/snd_hda_intel/unbind", Scenarios.GpuAudio)));
        Write(host, "/sys/bus/pci/drivers/snd_hda_intel/unbind", Scenarios.GpuAudio);
        Assert.Equal([null, Testing.Errno.EBUSY, null], host.Writes.Select(write => write.Error));
    }
}
