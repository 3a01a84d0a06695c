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

    /// <summary>Creates a reader.</summary>
    /// <param name="fileSystem">The file system (the real one, or a fake sysfs).</param>
    /// <param name="sysfsRoot">Where sysfs is mounted. Default <c>/sys</c>.</param>
    /// <param name="names">Vendor and device names; <see langword="null"/> for none.</param>
    public PciSysfsReader(IFileSystem fileSystem, string sysfsRoot = "/sys", PciIdDatabase? names = null)
    {
        _fileSystem = fileSystem ?? throw new ArgumentNullException(nameof(fileSystem));
        _sysfs = sysfsRoot;
        _names = names;
    }

    private string DevicesDirectory => _fileSystem.Path.Combine(_sysfs, "bus", "pci", "devices");

    /// <summary>Every PCI function, ordered by address.</summary>
    /// <returns>The functions.</returns>
    public IReadOnlyList<PciDevice> ListDevices()
    {
        if (!_fileSystem.Directory.Exists(DevicesDirectory))
        {
            return [];
        }

        return _fileSystem.Directory.GetDirectories(DevicesDirectory)
            .Select(directory => PciAddress.TryParse(_fileSystem.Path.GetFileName(directory), out var address) ? address : (PciAddress?)null)
            .OfType<PciAddress>()
            .OrderBy(address => address.ToString(), StringComparer.Ordinal)
            .Select(Read)
            .ToList();
    }

    /// <summary>
    /// Every IOMMU group (<c>/sys/kernel/iommu_groups/N</c>) with its member devices, by number. Empty
    /// where the host has no IOMMU (or it is off): no groups exist then.
    /// </summary>
    /// <returns>The groups.</returns>
    public IReadOnlyList<IommuGroup> ListIommuGroups()
    {
        var root = _fileSystem.Path.Combine(_sysfs, "kernel", "iommu_groups");
        if (!_fileSystem.Directory.Exists(root))
        {
            return [];
        }

        var groups = new List<IommuGroup>();
        foreach (var directory in _fileSystem.Directory.GetDirectories(root))
        {
            if (!int.TryParse(_fileSystem.Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var number))
            {
                continue;
            }

            var devices = _fileSystem.Path.Combine(directory, "devices");
            var members = _fileSystem.Directory.Exists(devices)
                ? _fileSystem.Directory.GetFileSystemEntries(devices)
                    .Select(entry => PciAddress.TryParse(_fileSystem.Path.GetFileName(entry), out var address) ? address : (PciAddress?)null)
                    .OfType<PciAddress>()
                    .Where(address => _fileSystem.Directory.Exists(DirectoryOf(address)))
                    .OrderBy(address => address.ToString(), StringComparer.Ordinal)
                    .Select(Read)
                    .ToList()
                : [];
            groups.Add(new IommuGroup(number, Text(directory, "type"), members));
        }

        return groups.OrderBy(group => group.Number).ToList();
    }

    /// <summary>One function.</summary>
    /// <param name="address">Its address.</param>
    /// <returns>The function.</returns>
    /// <exception cref="PciDeviceNotFoundException">No such function on this host.</exception>
    public PciDevice GetDevice(PciAddress address)
    {
        if (!_fileSystem.Directory.Exists(DirectoryOf(address)))
        {
            throw new PciDeviceNotFoundException(address);
        }

        return Read(address);
    }

    private string DirectoryOf(PciAddress address) => _fileSystem.Path.Combine(DevicesDirectory, address.ToString());

    private PciDevice Read(PciAddress address)
    {
        var directory = DirectoryOf(address);
        var vendor = Hex(directory, "vendor") ?? 0;
        var device = Hex(directory, "device") ?? 0;
        var numa = Number(directory, "numa_node");
        var resetMethods = Text(directory, "reset_method");
        return new PciDevice(address, vendor, device, Hex(directory, "subsystem_vendor") ?? 0, Hex(directory, "subsystem_device") ?? 0, Hex(directory, "class") ?? 0, Hex(directory, "revision") ?? 0)
        {
            Driver = LinkName(directory, "driver"),
            DriverOverride = Text(directory, "driver_override") is { } value && value != "(null)" ? value : null,
            IommuGroup = LinkName(directory, "iommu_group") is { } group && int.TryParse(group, NumberStyles.None, CultureInfo.InvariantCulture, out var number) ? number : null,
            NumaNode = numa is >= 0 ? numa : null,
            IsBootVga = Number(directory, "boot_vga") == 1,
            ResetMethods = resetMethods is null ? [] : resetMethods.Split(' ', StringSplitOptions.RemoveEmptyEntries),
            SriovTotalVfs = Number(directory, "sriov_totalvfs"),
            SriovNumVfs = Number(directory, "sriov_numvfs"),
            PhysicalFunction = LinkName(directory, "physfn") is { } physfn && PciAddress.TryParse(physfn, out var pf) ? pf : null,
            VendorName = _names?.VendorName(vendor),
            DeviceName = _names?.DeviceName(vendor, device),
        };
    }

    private string? Text(string directory, string file)
    {
        var path = _fileSystem.Path.Combine(directory, file);
        return _fileSystem.File.Exists(path) ? _fileSystem.File.ReadAllText(path).Trim() : null;
    }

    private int? Hex(string directory, string file) =>
        Text(directory, file) is { } text && text.StartsWith("0x", StringComparison.Ordinal) && int.TryParse(text.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value) ? value : null;

    private int? Number(string directory, string file) =>
        Text(directory, file) is { } text && int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) ? value : null;

    /// <summary>The last component of a symlink's target (a driver's or a group's name), or null when there is no link.</summary>
    private string? LinkName(string directory, string link)
    {
        var path = _fileSystem.Path.Combine(directory, link);
        var target = _fileSystem.FileInfo.New(path).LinkTarget;
        return target is null ? null : _fileSystem.Path.GetFileName(target.TrimEnd('/'));
    }
}
