using System.Globalization;

namespace Virt.Passthrough.Sysfs;

/// <summary>
/// Vendor and device names from the system's <c>pci.ids</c> (Debian's pci.ids package:
/// <c>/usr/share/misc/pci.ids</c>), read once on first use. The format: a vendor line <c>vvvv  Name</c>,
/// then its devices indented by one tab <c>dddd  Name</c> (two tabs are subsystems, skipped).
/// </summary>
public sealed class PciIdDatabase
{
    private readonly Lazy<(Dictionary<int, string> Vendors, Dictionary<(int, int), string> Devices)> _table;

    /// <summary>Creates a database over a pci.ids file (missing: every lookup answers null).</summary>
    /// <param name="path">The file. Default <c>/usr/share/misc/pci.ids</c>.</param>
    public PciIdDatabase(string path = "/usr/share/misc/pci.ids")
    {
        _table = new(() => Load(path));
    }

    /// <summary>The vendor's name.</summary>
    /// <param name="vendorId">The vendor id.</param>
    /// <returns>The name, or null.</returns>
    public string? VendorName(int vendorId) => _table.Value.Vendors.GetValueOrDefault(vendorId);

    /// <summary>The device's name.</summary>
    /// <param name="vendorId">The vendor id.</param>
    /// <param name="deviceId">The device id.</param>
    /// <returns>The name, or null.</returns>
    public string? DeviceName(int vendorId, int deviceId) => _table.Value.Devices.GetValueOrDefault((vendorId, deviceId));

    private static (Dictionary<int, string>, Dictionary<(int, int), string>) Load(string path)
    {
        var vendors = new Dictionary<int, string>();
        var devices = new Dictionary<(int, int), string>();
        if (!File.Exists(path))
        {
            return (vendors, devices);
        }

        int? vendor = null;
        foreach (var line in File.ReadLines(path))
        {
            if (line.Length < 6 || line[0] == '#')
            {
                continue;
            }

            if (line.StartsWith("C ", StringComparison.Ordinal))
            {
                // The class list at the end of the file: no more vendors.
                break;
            }

            if (line[0] != '\t' && TryId(line, 0, out var id))
            {
                vendor = id;
                vendors[id] = line[4..].Trim();
            }
            else if (vendor is { } current && line[0] == '\t' && line[1] != '\t' && TryId(line, 1, out var device))
            {
                devices[(current, device)] = line[5..].Trim();
            }
        }

        return (vendors, devices);
    }

    private static bool TryId(string line, int start, out int id) =>
        int.TryParse(line.AsSpan(start, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out id);
}
