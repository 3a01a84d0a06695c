using System.Diagnostics;
using System.IO.Abstractions;
using System.IO.Abstractions.TestingHelpers;
using Virt.Passthrough.Sysfs;

namespace Virt.Passthrough.Tests;

/// <summary>Reading PCI functions from sysfs: this machine's own /sys against lspci, and a GPU layout in a fake tree.</summary>
public sealed class PciSysfsReaderTests
{
    [Fact]
    public void This_machines_sysfs_agrees_with_lspci_device_for_device()
    {
        HostRequirement.Require(File.Exists("/usr/bin/lspci"), "lspci (apt-get install pciutils)");

        var devices = new PciSysfsReader(new FileSystem(), names: new PciIdDatabase()).ListDevices();
        var start = new ProcessStartInfo("lspci", ["-D", "-n"]) { RedirectStandardOutput = true };
        using var lspci = Process.Start(start)!;
        var expected = lspci.StandardOutput.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        lspci.WaitForExit();

        // lspci -D -n: "0000:00:01.0 ffff: 1af4:1045 (rev 01)"; the revision only when it is not 0.
        var ours = devices.Select(device => $"{device.Address} {device.ClassAndSubclass:x4}: {device.VendorId:x4}:{device.DeviceId:x4}" + (device.Revision != 0 ? $" (rev {device.Revision:x2})" : string.Empty)).ToArray();
        Assert.NotEmpty(ours);
        Assert.Equal(expected.Select(line => line.Trim()), ours);
        Assert.All(devices, device => Assert.NotNull(device.VendorName));
    }

    [Fact]
    public void A_gpu_and_its_audio_function_are_read_with_driver_group_and_boot_vga()
    {
        var fileSystem = new MockFileSystem();
        AddDevice(fileSystem, "0000:01:00.0", "0x10de", "0x2684", "0x030000", "0xa1", driver: "nvidia", group: "14", bootVga: true);
        AddDevice(fileSystem, "0000:01:00.1", "0x10de", "0x22ba", "0x040300", "0xa1", driver: "snd_hda_intel", group: "14", bootVga: false);
        fileSystem.AddFile("/sys/bus/pci/devices/0000:01:00.1/driver_override", new MockFileData("vfio-pci\n"));
        fileSystem.AddFile("/sys/bus/pci/devices/0000:01:00.0/reset_method", new MockFileData("flr bus\n"));
        var ids = Path.Combine(Path.GetTempPath(), "virt-pci-" + Guid.NewGuid().ToString("N") + ".ids");
        File.WriteAllText(ids, "# test\n10de  NVIDIA Corporation\n\t2684  AD102 [GeForce RTX 4090]\n\t\t10de 165b  a subsystem\n\t22ba  AD102 High Definition Audio Controller\n");
        try
        {
            var reader = new PciSysfsReader(fileSystem, names: new PciIdDatabase(ids));
            var devices = reader.ListDevices();
            Assert.Equal(["0000:01:00.0", "0000:01:00.1"], devices.Select(device => device.Address.ToString()));
            var gpu = devices[0];
            Assert.Equal((0x10de, 0x2684, 0x030000, 0x0300, 0xa1), (gpu.VendorId, gpu.DeviceId, gpu.ClassCode, gpu.ClassAndSubclass, gpu.Revision));
            Assert.Equal(("nvidia", 14, true, (string?)null), (gpu.Driver, gpu.IommuGroup, gpu.IsBootVga, gpu.DriverOverride));
            Assert.Equal(["flr", "bus"], gpu.ResetMethods);
            Assert.Equal(("NVIDIA Corporation", "AD102 [GeForce RTX 4090]"), (gpu.VendorName, gpu.DeviceName));
            var audio = reader.GetDevice(PciAddress.Parse("0000:01:00.1"));
            Assert.Equal(("snd_hda_intel", "vfio-pci", false), (audio.Driver, audio.DriverOverride, audio.IsBootVga));
            Assert.Throws<PciDeviceNotFoundException>(() => reader.GetDevice(PciAddress.Parse("0000:02:00.0")));
        }
        finally
        {
            File.Delete(ids);
        }
    }

    [Fact]
    public void An_iommu_group_is_viable_only_when_every_member_is_on_a_vfio_safe_driver()
    {
        var fileSystem = new MockFileSystem();
        AddDevice(fileSystem, "0000:00:01.0", "0x8086", "0x1901", "0x060400", "0x05", driver: "pcieport", group: "1", bootVga: false);
        AddDevice(fileSystem, "0000:01:00.0", "0x10de", "0x2684", "0x030000", "0xa1", driver: "nvidia", group: "1", bootVga: true);
        AddDevice(fileSystem, "0000:01:00.1", "0x10de", "0x22ba", "0x040300", "0xa1", driver: "snd_hda_intel", group: "1", bootVga: false);
        foreach (var member in new[] { "0000:00:01.0", "0000:01:00.0", "0000:01:00.1" })
        {
            fileSystem.Directory.CreateSymbolicLink("/sys/kernel/iommu_groups/1/devices/" + member, "/sys/bus/pci/devices/" + member);
        }

        fileSystem.AddFile("/sys/kernel/iommu_groups/1/type", new MockFileData("DMA\n"));
        var group = Assert.Single(new PciSysfsReader(fileSystem).ListIommuGroups());
        Assert.Equal((1, "DMA", 3), (group.Number, group.Type, group.Members.Count));
        Assert.False(group.IsViable);
        Assert.Equal(["0000:01:00.0", "0000:01:00.1"], group.BlockingMembers.Select(member => member.Address.ToString()));

        Assert.True(IommuGroup.IsVfioSafe("vfio-pci") && IommuGroup.IsVfioSafe("mlx5_vfio_pci") && IommuGroup.IsVfioSafe(null) && IommuGroup.IsVfioSafe("pci-stub"));
        Assert.False(IommuGroup.IsVfioSafe("nvme"));
    }

    [Fact]
    public void This_machine_has_as_many_groups_as_sysfs_lists()
    {
        var expected = Directory.Exists("/sys/kernel/iommu_groups") ? Directory.GetDirectories("/sys/kernel/iommu_groups").Length : 0;
        Assert.Equal(expected, new PciSysfsReader(new FileSystem()).ListIommuGroups().Count);
    }

    private static void AddDevice(MockFileSystem fileSystem, string address, string vendor, string device, string @class, string revision, string driver, string group, bool bootVga)
    {
        var directory = "/sys/bus/pci/devices/" + address;
        fileSystem.AddFile(directory + "/vendor", new MockFileData(vendor + "\n"));
        fileSystem.AddFile(directory + "/device", new MockFileData(device + "\n"));
        fileSystem.AddFile(directory + "/subsystem_vendor", new MockFileData(vendor + "\n"));
        fileSystem.AddFile(directory + "/subsystem_device", new MockFileData("0x165b\n"));
        fileSystem.AddFile(directory + "/class", new MockFileData(@class + "\n"));
        fileSystem.AddFile(directory + "/revision", new MockFileData(revision + "\n"));
        fileSystem.AddFile(directory + "/numa_node", new MockFileData("-1\n"));
        fileSystem.AddFile(directory + "/driver_override", new MockFileData("(null)\n"));
        if (@class.StartsWith("0x03", StringComparison.Ordinal))
        {
            fileSystem.AddFile(directory + "/boot_vga", new MockFileData(bootVga ? "1\n" : "0\n"));
        }

        fileSystem.Directory.CreateDirectory("/sys/bus/pci/drivers/" + driver);
        fileSystem.Directory.CreateDirectory("/sys/kernel/iommu_groups/" + group);
        // The real links are relative (../../../bus/pci/drivers/X); only the last component matters to the reader.
        fileSystem.Directory.CreateSymbolicLink(directory + "/driver", "/sys/bus/pci/drivers/" + driver);
        fileSystem.Directory.CreateSymbolicLink(directory + "/iommu_group", "/sys/kernel/iommu_groups/" + group);
    }
}
