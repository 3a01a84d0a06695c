namespace Virt.Passthrough;

/// <summary>One PCI function as sysfs describes it.</summary>
/// <param name="Address">Its address.</param>
/// <param name="VendorId">The vendor id (e.g. 0x10de for NVIDIA).</param>
/// <param name="DeviceId">The device id.</param>
/// <param name="SubsystemVendorId">The subsystem vendor id.</param>
/// <param name="SubsystemDeviceId">The subsystem device id.</param>
/// <param name="ClassCode">The 24-bit class code: class, subclass, programming interface (0x030000 = VGA).</param>
/// <param name="Revision">The revision.</param>
public sealed record PciDevice(PciAddress Address, int VendorId, int DeviceId, int SubsystemVendorId, int SubsystemDeviceId, int ClassCode, int Revision)
{
    /// <summary>The driver bound now, or <see langword="null"/> for none.</summary>
    public string? Driver { get; init; }

    /// <summary>The <c>driver_override</c>, or <see langword="null"/> when unset.</summary>
    public string? DriverOverride { get; init; }

    /// <summary>The IOMMU group, or <see langword="null"/> without an IOMMU.</summary>
    public int? IommuGroup { get; init; }

    /// <summary>The NUMA node, or <see langword="null"/> when the platform does not say (-1).</summary>
    public int? NumaNode { get; init; }

    /// <summary>Whether this VGA device is the one the firmware booted on (<c>boot_vga</c>).</summary>
    public bool IsBootVga { get; init; }

    /// <summary>The reset methods the kernel can use (<c>reset_method</c>); empty when none.</summary>
    public IReadOnlyList<string> ResetMethods { get; init; } = [];

    /// <summary>For an SR-IOV physical function: how many VFs it can have; <see langword="null"/> otherwise.</summary>
    public int? SriovTotalVfs { get; init; }

    /// <summary>For an SR-IOV physical function: how many VFs exist now.</summary>
    public int? SriovNumVfs { get; init; }

    /// <summary>For a virtual function: its physical function.</summary>
    public PciAddress? PhysicalFunction { get; init; }

    /// <summary>The vendor's name from the system's pci.ids, when known.</summary>
    public string? VendorName { get; init; }

    /// <summary>The device's name from the system's pci.ids, when known.</summary>
    public string? DeviceName { get; init; }

    /// <summary>The class and subclass (the top 16 bits of <see cref="ClassCode"/>), as lspci -n shows them.</summary>
    public int ClassAndSubclass => ClassCode >> 8;
}
