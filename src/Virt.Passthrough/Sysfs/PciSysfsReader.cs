using System.Globalization;
using System.IO.Abstractions;

namespace Virt.Passthrough.Sysfs;

/// <summary>
/// Reads the PCI functions of a host from sysfs (<c>/sys/bus/pci/devices</c>), read-only, through
/// <see cref="IFileSystem"/> so that a fake sysfs tree serves tests. Ids and class come from the
/// files the kernel exports; driver, IOMMU group and physical function from the links' last component.
/// </summary>
public sealed class PciSysfsReader
{
    private readonly IFileSystem _fileSystem;
    private readonly string _sysfs;
    private readonly PciIdDatabase? _names;
    private readonly SysfsFiles _files;

    /// <summary>Creates a reader.</summary>
    /// <param name="fileSystem">The file system (the real one, or a fake sysfs).</param>
    /// <param name="sysfsRoot">Where sysfs is mounted. Default <c>/sys</c>.</param>
    /// <param name="names">Vendor and device names; <see langword="null"/> for none.</param>
    public PciSysfsReader(IFileSystem fileSystem, string sysfsRoot = "/sys", PciIdDatabase? names = null)
    {
        _fileSystem = fileSystem ?? throw new ArgumentNullException(nameof(fileSystem));
        _sysfs = sysfsRoot;
        _names = names;
        _files = new SysfsFiles(fileSystem);
    }

    private const int ParallelThreshold = 64;

    private string DevicesDirectory => _fileSystem.Path.Combine(_sysfs, "bus", "pci", "devices");

    /// <summary>Every PCI function, ordered by address.</summary>
    /// <returns>The functions.</returns>
    public IReadOnlyList<PciDevice> ListDevices()
    {
        if (!_fileSystem.Directory.Exists(DevicesDirectory))
        {
            return [];
        }

        var addresses = _fileSystem.Directory.GetFileSystemEntries(DevicesDirectory)
            .Select(directory => PciAddress.TryParse(_fileSystem.Path.GetFileName(directory), out var address) ? address : (PciAddress?)null)
            .OfType<PciAddress>()
            .OrderBy(address => address.ToString(), StringComparer.Ordinal)
            .ToArray();

        // Each device is a dozen small reads; on large hosts two or more cores halve the wall time.
        var devices = new PciDevice[addresses.Length];
        if (addresses.Length >= ParallelThreshold && _files.IsThreadSafe)
        {
            Parallel.For(0, addresses.Length, index => devices[index] = Read(addresses[index]));
        }
        else
        {
            for (var index = 0; index < addresses.Length; index++)
            {
                devices[index] = Read(addresses[index]);
            }
        }

        return devices;
    }

    /// <summary>
    /// Every IOMMU group (<c>/sys/kernel/iommu_groups/N</c>) with its member devices, by number. Empty
    /// where the host has no IOMMU (or it is off): no groups exist then.
    /// </summary>
    /// <returns>The groups.</returns>
    public IReadOnlyList<IommuGroup> ListIommuGroups() => ListDevicesAndGroups().Groups;

    /// <summary>Devices and IOMMU groups in one pass over sysfs (each device is read once).</summary>
    /// <returns>The devices by address and the groups by number.</returns>
    public (IReadOnlyList<PciDevice> Devices, IReadOnlyList<IommuGroup> Groups) ListDevicesAndGroups()
    {
        var devices = ListDevices();
        var root = _fileSystem.Path.Combine(_sysfs, "kernel", "iommu_groups");
        if (!_fileSystem.Directory.Exists(root))
        {
            return (devices, []);
        }

        var members = devices.Where(device => device.IommuGroup is not null).ToLookup(device => device.IommuGroup!.Value);
        var groups = new List<IommuGroup>();
        foreach (var directory in _fileSystem.Directory.GetDirectories(root))
        {
            if (int.TryParse(_fileSystem.Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var number))
            {
                groups.Add(new IommuGroup(number, Text(directory, "type"), members[number].ToList()));
            }
        }

        return (devices, groups.OrderBy(group => group.Number).ToList());
    }

    /// <summary>One function.</summary>
    /// <param name="address">Its address.</param>
    /// <returns>The function.</returns>
    /// <exception cref="PciDeviceNotFoundException">No such function on this host.</exception>
    public PciDevice GetDevice(PciAddress address)
    {
        if (!_fileSystem.Directory.Exists(DeviceDirectory(address)))
        {
            throw new PciDeviceNotFoundException(address);
        }

        return Read(address);
    }

    /// <summary>A function's sysfs directory (<c>/sys/bus/pci/devices/DDDD:BB:SS.F</c>), for the code that writes its attributes.</summary>
    internal string DeviceDirectory(PciAddress address) => _fileSystem.Path.Combine(DevicesDirectory, address.ToString());

    /// <summary>The attribute and link reader this reader uses, for the other sysfs readers of the backend.</summary>
    internal SysfsFiles Files => _files;

    /// <summary>
    /// Reads one function: <c>uevent</c> for ids, class and driver in one read where it exists (the attribute
    /// files otherwise), then revision, NUMA node, override, reset methods, SR-IOV counts and the links.
    /// Attributes a device does not have cost one failed open.
    /// </summary>
    private PciDevice Read(PciAddress address)
    {
        var directory = DeviceDirectory(address);
        var uevent = Uevent(directory);
        var (vendor, device, subsystemVendor, subsystemDevice, classCode) = uevent is { } identity
            ? identity.Ids
            : (Hex(directory, "vendor") ?? 0, Hex(directory, "device") ?? 0, Hex(directory, "subsystem_vendor") ?? 0, Hex(directory, "subsystem_device") ?? 0, Hex(directory, "class") ?? 0);
        var numa = Number(directory, "numa_node");
        var resetMethods = Text(directory, "reset_method");
        var sriovTotal = Number(directory, "sriov_totalvfs");
        return new PciDevice(address, vendor, device, subsystemVendor, subsystemDevice, classCode, Hex(directory, "revision") ?? 0)
        {
            Driver = uevent is not null ? uevent.Value.Driver : LinkName(directory, "driver"),
            DriverOverride = Text(directory, "driver_override") is { } value && value != "(null)" ? value : null,
            IommuGroup = LinkName(directory, "iommu_group") is { } group && int.TryParse(group, NumberStyles.None, CultureInfo.InvariantCulture, out var number) ? number : null,
            NumaNode = numa is >= 0 ? numa : null,
            IsBootVga = classCode >> 16 == 0x03 && Number(directory, "boot_vga") == 1,
            ResetMethods = resetMethods is null ? [] : resetMethods.Split(' ', StringSplitOptions.RemoveEmptyEntries),
            SriovTotalVfs = sriovTotal,
            SriovNumVfs = sriovTotal is null ? null : Number(directory, "sriov_numvfs"),
            PhysicalFunction = LinkName(directory, "physfn") is { } physfn && PciAddress.TryParse(physfn, out var pf) ? pf : null,
            VendorName = _names?.VendorName(vendor),
            DeviceName = _names?.DeviceName(vendor, device),
        };
    }

    /// <summary>
    /// Ids, class and driver from <c>uevent</c> in one read (<c>DRIVER=</c>, <c>PCI_CLASS=</c>,
    /// <c>PCI_ID=VVVV:DDDD</c>, <c>PCI_SUBSYS_ID=</c>), which the kernel writes from its own structures —
    /// unlike <c>config</c>, whose reads reach the hardware (and trap under a hypervisor).
    /// </summary>
    private ((int, int, int, int, int) Ids, string? Driver)? Uevent(string directory)
    {
        if (Text(directory, "uevent") is not { } text)
        {
            return null;
        }

        int? vendor = null, device = null, subsystemVendor = null, subsystemDevice = null, classCode = null;
        string? driver = null;
        foreach (var line in text.Split('\n'))
        {
            var equals = line.IndexOf('=', StringComparison.Ordinal);
            if (equals < 0)
            {
                continue;
            }

            var value = line.AsSpan(equals + 1);
            switch (line.AsSpan(0, equals))
            {
                case "DRIVER":
                    driver = value.ToString();
                    break;
                case "PCI_CLASS":
                    classCode = HexSpan(value);
                    break;
                case "PCI_ID" when value.Length == 9:
                    (vendor, device) = (HexSpan(value[..4]), HexSpan(value[5..]));
                    break;
                case "PCI_SUBSYS_ID" when value.Length == 9:
                    (subsystemVendor, subsystemDevice) = (HexSpan(value[..4]), HexSpan(value[5..]));
                    break;
            }
        }

        return vendor is { } v && device is { } d && classCode is { } c ? ((v, d, subsystemVendor ?? 0, subsystemDevice ?? 0, c), driver) : null;
    }

    private static int? HexSpan(ReadOnlySpan<char> text) => int.TryParse(text, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value) ? value : null;

    private string? Text(string directory, string file) => _files.ReadText(_fileSystem.Path.Combine(directory, file));

    private int? Hex(string directory, string file) =>
        Text(directory, file) is { } text && text.StartsWith("0x", StringComparison.Ordinal) && int.TryParse(text.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value) ? value : null;

    private int? Number(string directory, string file) =>
        Text(directory, file) is { } text && int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) ? value : null;

    /// <summary>The last component of a symlink's target (a driver's or a group's name), or null when there is no link.</summary>
    private string? LinkName(string directory, string link) => _files.LinkName(_fileSystem.Path.Combine(directory, link));
}
