namespace Virt.Passthrough.Testing;

/// <summary>Describes one PCI function of a fake host (ids, class, driver, group and what it offers).</summary>
public sealed class FakeDeviceBuilder
{
    internal FakeDeviceBuilder(FakeDevice device)
    {
        Device = device;
    }

    internal FakeDevice Device { get; }

    /// <summary>Vendor, device and subsystem ids.</summary>
    /// <param name="vendor">The vendor id.</param>
    /// <param name="device">The device id.</param>
    /// <param name="subsystemVendor">The subsystem vendor id.</param>
    /// <param name="subsystemDevice">The subsystem device id.</param>
    /// <returns>This builder.</returns>
    public FakeDeviceBuilder Ids(int vendor, int device, int subsystemVendor = 0, int subsystemDevice = 0)
    {
        (Device.Vendor, Device.DeviceId, Device.SubsystemVendor, Device.SubsystemDevice) = (vendor, device, subsystemVendor, subsystemDevice);
        return this;
    }

    /// <summary>The 24-bit class code (0x030000 VGA, 0x040300 HD audio, 0x060400 PCI bridge...).</summary>
    /// <param name="classCode">The class code.</param>
    /// <returns>This builder.</returns>
    public FakeDeviceBuilder Class(int classCode)
    {
        Device.ClassCode = classCode;
        Device.IsBridge = classCode >> 8 == 0x0604;
        return this;
    }

    /// <summary>The revision.</summary>
    /// <param name="revision">The revision.</param>
    /// <returns>This builder.</returns>
    public FakeDeviceBuilder Revision(int revision)
    {
        Device.Revision = revision;
        return this;
    }

    /// <summary>The driver bound at start (registered with the device's ids if the host does not know it).</summary>
    /// <param name="driver">The driver, or null for none.</param>
    /// <returns>This builder.</returns>
    public FakeDeviceBuilder Driver(string? driver)
    {
        Device.Driver = driver;
        return this;
    }

    /// <summary>A driver_override set at start.</summary>
    /// <param name="driverOverride">The override.</param>
    /// <returns>This builder.</returns>
    public FakeDeviceBuilder Override(string driverOverride)
    {
        Device.Override = driverOverride;
        return this;
    }

    /// <summary>The IOMMU group (ignored on a host without IOMMU).</summary>
    /// <param name="group">The group number.</param>
    /// <returns>This builder.</returns>
    public FakeDeviceBuilder Group(int group)
    {
        Device.Group = group;
        return this;
    }

    /// <summary>Marks the VGA device the firmware booted on (<c>boot_vga</c> = 1).</summary>
    /// <returns>This builder.</returns>
    public FakeDeviceBuilder BootVga()
    {
        Device.BootVga = true;
        return this;
    }

    /// <summary>The NUMA node.</summary>
    /// <param name="node">The node.</param>
    /// <returns>This builder.</returns>
    public FakeDeviceBuilder Numa(int node)
    {
        Device.Numa = node;
        return this;
    }

    /// <summary>The reset methods (<c>reset_method</c>); a <c>reset</c> file exists when there is one.</summary>
    /// <param name="methods">The methods, e.g. <c>flr</c>, <c>bus</c>, <c>device_specific</c>.</param>
    /// <returns>This builder.</returns>
    public FakeDeviceBuilder ResetMethods(params string[] methods)
    {
        Device.ResetMethods = methods;
        return this;
    }

    /// <summary>Writing 1 to <c>reset</c> fails (<c>device_specific</c> without vendor-reset answers ENOTTY).</summary>
    /// <param name="error">The error.</param>
    /// <returns>This builder.</returns>
    public FakeDeviceBuilder ResetFails(Errno error = Errno.ENOTTY)
    {
        Device.ResetError = error;
        return this;
    }

    /// <summary>An SR-IOV physical function.</summary>
    /// <param name="totalVfs">How many VFs it can have.</param>
    /// <param name="vfDeviceId">The VFs' device id.</param>
    /// <param name="firstVf">The first VF's address; the others follow function by function.</param>
    /// <param name="firstVfGroup">The first VF's IOMMU group; each VF gets its own.</param>
    /// <returns>This builder.</returns>
    public FakeDeviceBuilder Sriov(int totalVfs, int vfDeviceId, string firstVf, int firstVfGroup)
    {
        (Device.SriovTotal, Device.VfDeviceId, Device.FirstVf, Device.FirstVfGroup) = (totalVfs, vfDeviceId, PciAddress.Parse(firstVf), firstVfGroup);
        return this;
    }

    /// <summary>A mediated device type (<c>mdev_supported_types/&lt;id&gt;</c>).</summary>
    /// <param name="id">The type id.</param>
    /// <param name="name">Its name.</param>
    /// <param name="availableInstances">How many can be created.</param>
    /// <param name="deviceApi">The device API.</param>
    /// <param name="description">The description.</param>
    /// <returns>This builder.</returns>
    public FakeDeviceBuilder MdevType(string id, string name, int availableInstances, string deviceApi = "vfio-pci", string? description = null)
    {
        Device.MdevTypes.Add(new FakeMdevType(id, name, deviceApi, description) { Available = availableInstances });
        return this;
    }

    /// <summary>NVIDIA vGPU on kernel ≥ 6.8: the VF's <c>nvidia/creatable_vgpu_types</c>.</summary>
    /// <param name="types">The types (id, name).</param>
    /// <returns>This builder.</returns>
    public FakeDeviceBuilder NvidiaVgpuTypes(params (int Id, string Name)[] types)
    {
        Device.VgpuTypes = [.. types];
        return this;
    }

    /// <summary>A network interface on this device (<c>net/&lt;name&gt;</c>).</summary>
    /// <param name="name">The interface name.</param>
    /// <param name="hasRoutes">Whether it has addresses and routes (it then counts as in use by the host).</param>
    /// <returns>This builder.</returns>
    public FakeDeviceBuilder Network(string name, bool hasRoutes)
    {
        (Device.NetInterface, Device.NetRouted) = (name, hasRoutes);
        return this;
    }

    /// <summary>A DRM card node of this device (<c>drm/cardN</c>, <c>/dev/dri/cardN</c>).</summary>
    /// <param name="card">The card's name, e.g. <c>card0</c>.</param>
    /// <returns>This builder.</returns>
    public FakeDeviceBuilder Drm(string card)
    {
        Device.DrmCard = card;
        return this;
    }

    /// <summary>The NVIDIA driver's device minor (<c>/dev/nvidiaN</c>).</summary>
    /// <param name="minor">The minor.</param>
    /// <returns>This builder.</returns>
    public FakeDeviceBuilder NvidiaMinor(int minor)
    {
        Device.NvidiaMinor = minor;
        return this;
    }
}

/// <summary>A fake mediated device type.</summary>
internal sealed record FakeMdevType(string Id, string Name, string DeviceApi, string? Description)
{
    public int Available { get; set; }
}

/// <summary>The fake kernel's model of one PCI function.</summary>
internal sealed class FakeDevice(PciAddress address)
{
    public PciAddress Address { get; } = address;

    public int Vendor { get; set; } = 0x8086;

    public int DeviceId { get; set; } = 0x1234;

    public int SubsystemVendor { get; set; }

    public int SubsystemDevice { get; set; }

    public int ClassCode { get; set; } = 0xff0000;

    public int Revision { get; set; }

    public string? Driver { get; set; }

    public string? Override { get; set; }

    public int? Group { get; set; }

    public bool BootVga { get; set; }

    public bool IsBridge { get; set; }

    public int? Numa { get; set; }

    public string[] ResetMethods { get; set; } = [];

    public Errno? ResetError { get; set; }

    public int? SriovTotal { get; set; }

    public int NumVfs { get; set; }

    public bool Autoprobe { get; set; } = true;

    public int VfDeviceId { get; set; }

    public PciAddress FirstVf { get; set; }

    public int FirstVfGroup { get; set; }

    public PciAddress? PhysFn { get; set; }

    public List<FakeMdevType> MdevTypes { get; } = [];

    public List<(int Id, string Name)>? VgpuTypes { get; set; }

    public int CurrentVgpu { get; set; }

    public string? NetInterface { get; set; }

    public bool NetRouted { get; set; }

    public string? DrmCard { get; set; }

    public int? NvidiaMinor { get; set; }
}

/// <summary>The fake kernel's model of a PCI driver.</summary>
internal sealed class FakeDriver(string name, bool overrideOnly)
{
    public string Name { get; } = name;

    /// <summary>Binds only through driver_override or new_id (vfio-pci and its variants have no id table).</summary>
    public bool OverrideOnly { get; } = overrideOnly;

    public HashSet<(int Vendor, int Device)> Ids { get; } = [];

    public HashSet<(int Vendor, int Device)> DynamicIds { get; } = [];
}
