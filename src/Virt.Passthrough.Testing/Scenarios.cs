namespace Virt.Passthrough.Testing;

/// <summary>The realistic layouts of PCI-NOTES.md, ready-made. Each call returns a fresh host.</summary>
public static class Scenarios
{
    /// <summary>The NVIDIA GPU of the examples.</summary>
    public const string Gpu = "0000:01:00.0";

    /// <summary>Its HDMI audio function.</summary>
    public const string GpuAudio = "0000:01:00.1";

    /// <summary>The PCIe root port above it.</summary>
    public const string RootPort = "0000:00:01.0";

    /// <summary>
    /// An NVIDIA GPU (class 0x030000 on nvidia, boot VGA, /dev/nvidia0) and its HDMI audio (0x040300 on
    /// snd_hda_intel) in one IOMMU group with their PCIe root port (pcieport, has pci_bus/).
    /// </summary>
    /// <returns>The host.</returns>
    public static FakePciHost NvidiaGpuWithAudio() => new FakePciHost()
        .WithDevice(RootPort, d => d.Ids(0x8086, 0x1901).Class(0x060400).Driver("pcieport").Group(1))
        .WithDevice(Gpu, d => d.Ids(0x10de, 0x2684).Class(0x030000).Revision(0xa1).Driver("nvidia").Group(1).BootVga().ResetMethods("flr", "bus").NvidiaMinor(0).Drm("card0"))
        .WithDevice(GpuAudio, d => d.Ids(0x10de, 0x22ba).Class(0x040300).Revision(0xa1).Driver("snd_hda_intel").Group(1));

    /// <summary>The same GPU, not the boot VGA: a second card meant for a VM.</summary>
    /// <returns>The host.</returns>
    public static FakePciHost SecondaryNvidiaGpu() => new FakePciHost()
        .WithDevice(RootPort, d => d.Ids(0x8086, 0x1901).Class(0x060400).Driver("pcieport").Group(1))
        .WithDevice(Gpu, d => d.Ids(0x10de, 0x2684).Class(0x030000).Revision(0xa1).Driver("nvidia").Group(1).ResetMethods("flr", "bus").NvidiaMinor(1))
        .WithDevice(GpuAudio, d => d.Ids(0x10de, 0x22ba).Class(0x040300).Revision(0xa1).Driver("snd_hda_intel").Group(1));

    /// <summary>A 4-function Turing card: VGA (nvidia), audio (snd_hda_intel), USB xHCI (xhci_hcd), USB-C UCSI (nvidia-gpu), one group.</summary>
    /// <returns>The host.</returns>
    public static FakePciHost TuringFourFunctions() => new FakePciHost()
        .WithDevice(Gpu, d => d.Ids(0x10de, 0x1e87).Class(0x030000).Driver("nvidia").Group(2))
        .WithDevice(GpuAudio, d => d.Ids(0x10de, 0x10f8).Class(0x040300).Driver("snd_hda_intel").Group(2))
        .WithDevice("0000:01:00.2", d => d.Ids(0x10de, 0x1ad8).Class(0x0c0330).Driver("xhci_hcd").Group(2))
        .WithDevice("0000:01:00.3", d => d.Ids(0x10de, 0x1ad9).Class(0x0c8000).Driver("nvidia-gpu").Group(2));

    /// <summary>A secondary GPU whose IOMMU group also holds the NVMe controller of the host's root disk (must be refused).</summary>
    /// <returns>The host.</returns>
    public static FakePciHost BootNvmeInGpuGroup() => SecondaryNvidiaGpu()
        .WithDevice("0000:02:00.0", d => d.Ids(0x144d, 0xa80a).Class(0x010802).Driver("nvme").Group(1))
        .WithRootDiskOn("0000:02:00.0");

    /// <summary>A device with no driver (the edu test device): a probe with the override lands it on vfio-pci.</summary>
    /// <returns>The host.</returns>
    public static FakePciHost DeviceWithoutDriver() => new FakePciHost()
        .WithDevice("0000:00:04.0", d => d.Ids(0x1234, 0x11e8).Class(0x00ff00).Group(3));

    /// <summary>A device already on vfio-pci (binding it is a no-op).</summary>
    /// <returns>The host.</returns>
    public static FakePciHost DeviceAlreadyOnVfio() => new FakePciHost()
        .WithDevice("0000:05:00.0", d => d.Ids(0x8086, 0x10d3).Class(0x020000).Driver("vfio-pci").Group(4));

    /// <summary>An SR-IOV NIC: PF 0000:03:00.0 on ixgbe (4 VFs possible, 0x10ed on ixgbevf), each VF its own group from 20.</summary>
    /// <returns>The host.</returns>
    public static FakePciHost SriovNic() => new FakePciHost()
        .WithDriver("ixgbevf", overrideOnly: false, (0x8086, 0x10ed))
        .WithDevice("0000:03:00.0", d => d.Ids(0x8086, 0x10fb).Class(0x020000).Driver("ixgbe").Group(10).Sriov(4, 0x10ed, "0000:03:10.0", 20));

    /// <summary>An Intel iGPU with GVT-g mdev types (i915-GVTg_V5_4: 2 instances, i915-GVTg_V5_8: 4).</summary>
    /// <returns>The host.</returns>
    public static FakePciHost IntelGvtg() => new FakePciHost()
        .WithDevice("0000:00:02.0", d => d.Ids(0x8086, 0x3e92).Class(0x030000).Driver("i915").Group(0).BootVga()
            .MdevType("i915-GVTg_V5_4", "GVTg_V5_4", 2, description: "low_gm_size: 128MB\nhigh_gm_size: 512MB")
            .MdevType("i915-GVTg_V5_8", "GVTg_V5_8", 4, description: "low_gm_size: 64MB\nhigh_gm_size: 384MB"));

    /// <summary>NVIDIA vGPU on kernel ≥ 6.8: an L4's VF 0000:41:00.4 with creatable types and no current type.</summary>
    /// <returns>The host.</returns>
    public static FakePciHost NvidiaVgpu() => new FakePciHost()
        .WithDevice("0000:41:00.0", d => d.Ids(0x10de, 0x27b8).Class(0x030200).Driver("nvidia").Group(30))
        .WithDevice("0000:41:00.4", d => d.Ids(0x10de, 0x27b8).Class(0x030200).Group(31).NvidiaVgpuTypes((557, "NVIDIA L4-1B"), (560, "NVIDIA L4-4Q"), (563, "NVIDIA L4-24Q")));

    /// <summary>The GPU and audio on a host whose IOMMU is off: no groups, no DMAR.</summary>
    /// <returns>The host.</returns>
    public static FakePciHost IommuOff() => new FakePciHost(iommu: false)
        .WithDevice(Gpu, d => d.Ids(0x10de, 0x2684).Class(0x030000).Driver("nvidia"))
        .WithDevice(GpuAudio, d => d.Ids(0x10de, 0x22ba).Class(0x040300).Driver("snd_hda_intel"));

    /// <summary>A secondary GPU on an IOMMU without interrupt remapping.</summary>
    /// <returns>The host.</returns>
    public static FakePciHost NoInterruptRemapping() => new FakePciHost(interruptRemapping: false)
        .WithDevice(Gpu, d => d.Ids(0x10de, 0x2684).Class(0x030000).Driver("nvidia").Group(1));

    /// <summary>An AMD Polaris GPU whose only reset method is device_specific, without vendor-reset: writing reset answers ENOTTY.</summary>
    /// <returns>The host.</returns>
    public static FakePciHost DeviceSpecificResetWithoutVendorReset() => new FakePciHost()
        .WithDevice("0000:06:00.0", d => d.Ids(0x1002, 0x67df).Class(0x030000).Driver("amdgpu").Group(7).ResetMethods("device_specific").ResetFails(Errno.ENOTTY))
        .WithDevice("0000:06:00.1", d => d.Ids(0x1002, 0xaaf0).Class(0x040300).Driver("snd_hda_intel").Group(7));

    /// <summary>A Mellanox VF on mlx5_core and the variant driver mlx5_vfio_pci, which binds only through the override.</summary>
    /// <returns>The host.</returns>
    public static FakePciHost VariantDriver() => new FakePciHost()
        .WithDriver("mlx5_vfio_pci", overrideOnly: true)
        .WithDevice("0000:08:00.2", d => d.Ids(0x15b3, 0x101e).Class(0x020000).Driver("mlx5_core").Group(12));

    /// <summary>A GPU without the vfio modules loaded.</summary>
    /// <returns>The host.</returns>
    public static FakePciHost VfioNotLoaded() => new FakePciHost(vfio: false)
        .WithDevice(Gpu, d => d.Ids(0x10de, 0x2684).Class(0x030000).Driver("nvidia").Group(1));
}
