using System.Diagnostics;
using System.Globalization;
using System.IO.Abstractions;
using Virt.Passthrough.Sysfs;

namespace Virt.Benchmarks;

/// <summary>
/// Enumerating PCI devices with names plus IOMMU groups through Virt.Passthrough, against
/// <c>lspci -D -nn</c> (pciutils, its linux-sysfs method) on the same tree in the same run: a generated
/// 256-device sysfs tree on disk (4 functions per slot, one group per slot) and this machine's /sys.
/// </summary>
internal static class PciEnumerationComparison
{
    private static readonly (int Vendor, int Device, int Class)[] Models =
    [
        (0x10de, 0x2684, 0x030000), (0x10de, 0x22ba, 0x040300), (0x8086, 0x10fb, 0x020000), (0x144d, 0xa80a, 0x010802),
    ];

    private static readonly string[] Drivers = ["nvidia", "snd_hda_intel", "ixgbe", "nvme"];

    public static int Run(string[] args)
    {
        var rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 30;
        var root = Directory.CreateTempSubdirectory("vb-sysfs-").FullName;
        try
        {
            var sysfs = Path.Combine(root, "sys");
            Generate(sysfs, 256);
            Console.WriteLine($"{rounds} rounds per row; medians in ms; lspci is a process per call, the SDK a call in a running process");
            Console.WriteLine("| tree | devices | groups | SDK, names cached (ms) | SDK, pci.ids parsed each call (ms) | lspci -D -nn (ms) | SDK / lspci |");
            Console.WriteLine("|---|---|---|---|---|---|---|");
            Row("generated, 256 devices", sysfs, rounds);
            Row("this machine's /sys", "/sys", rounds);
            return 0;
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static void Row(string label, string sysfs, int rounds)
    {
        var names = new PciIdDatabase();
        var cached = new PciSysfsReader(new FileSystem(), sysfs, names);
        var lspciLines = HostCommand.Run("lspci", "-A", "linux-sysfs", "-O", $"sysfs.path={Path.Combine(sysfs, "bus", "pci")}", "-D", "-nn").Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
        var devices = cached.ListDevices().Count;
        if (devices != lspciLines)
        {
            throw new InvalidOperationException($"{label}: the SDK read {devices} devices, lspci {lspciLines}");
        }

        var groups = cached.ListIommuGroups().Count;
        var warm = Median(rounds, () => _ = cached.ListDevicesAndGroups().Groups.Count);
        var cold = Median(rounds, () =>
        {
            var reader = new PciSysfsReader(new FileSystem(), sysfs, new PciIdDatabase());
            _ = reader.ListDevicesAndGroups().Groups.Count;
        });
        var lspci = Median(rounds, () => HostCommand.Run("lspci", "-A", "linux-sysfs", "-O", $"sysfs.path={Path.Combine(sysfs, "bus", "pci")}", "-D", "-nn"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {label} | {devices} | {groups} | {warm:0.00} | {cold:0.00} | {lspci:0.00} | {warm / lspci:0.00}× (parsing pci.ids: {cold / lspci:0.00}×) |"));
    }

    /// <summary>The median time of <paramref name="rounds"/> calls, after one warm-up call.</summary>
    private static double Median(int rounds, Action action)
    {
        action();
        var timings = new List<double>();
        for (var round = 0; round < rounds; round++)
        {
            var started = Stopwatch.GetTimestamp();
            action();
            timings.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }

        return BenchmarkVms.Median(timings);
    }

    /// <summary>A sysfs tree as Linux lays it out, with the files both readers use (config space header included).</summary>
    private static void Generate(string sysfs, int count)
    {
        var devices = Path.Combine(sysfs, "bus", "pci", "devices");
        Directory.CreateDirectory(devices);
        foreach (var driver in Drivers)
        {
            Directory.CreateDirectory(Path.Combine(sysfs, "bus", "pci", "drivers", driver));
        }

        for (var index = 0; index < count; index++)
        {
            var (vendor, device, classCode) = Models[index % Models.Length];
            var address = string.Create(CultureInfo.InvariantCulture, $"0000:{1 + (index / 128):x2}:{index / 4 % 32:x2}.{index % 4:x1}");
            var directory = Path.Combine(devices, address);
            Directory.CreateDirectory(directory);
            void Write(string file, string text) => File.WriteAllText(Path.Combine(directory, file), text + "\n");
            Write("vendor", string.Create(CultureInfo.InvariantCulture, $"0x{vendor:x4}"));
            Write("device", string.Create(CultureInfo.InvariantCulture, $"0x{device:x4}"));
            Write("subsystem_vendor", string.Create(CultureInfo.InvariantCulture, $"0x{vendor:x4}"));
            Write("subsystem_device", "0x0001");
            Write("class", string.Create(CultureInfo.InvariantCulture, $"0x{classCode:x6}"));
            Write("revision", "0xa1");
            Write("numa_node", "-1");
            Write("driver_override", "(null)");
            Write("reset_method", "flr bus");

            var driverName = Drivers[index % Drivers.Length];
            Write("uevent", string.Create(CultureInfo.InvariantCulture, $"DRIVER={driverName}\nPCI_CLASS={classCode:X}\nPCI_ID={vendor:X4}:{device:X4}\nPCI_SUBSYS_ID={vendor:X4}:0001\nPCI_SLOT_NAME={address}\nMODALIAS=pci:v0000{vendor:X4}d0000{device:X4}sv0000{vendor:X4}sd00000001bc{classCode >> 16:X2}sc{(classCode >> 8) & 0xff:X2}i{classCode & 0xff:X2}"));

            // The 64-byte config header lspci reads: ids, revision and class, header type, subsystem ids.
            var config = new byte[64];
            BitConverter.TryWriteBytes(config.AsSpan(0), (ushort)vendor);
            BitConverter.TryWriteBytes(config.AsSpan(2), (ushort)device);
            config[8] = 0xa1;
            config[9] = (byte)classCode;
            config[10] = (byte)(classCode >> 8);
            config[11] = (byte)(classCode >> 16);
            config[14] = 0x80;
            BitConverter.TryWriteBytes(config.AsSpan(44), (ushort)vendor);
            BitConverter.TryWriteBytes(config.AsSpan(46), (ushort)1);
            File.WriteAllBytes(Path.Combine(directory, "config"), config);

            var group = Path.Combine(sysfs, "kernel", "iommu_groups", (index / 4).ToString(CultureInfo.InvariantCulture));
            Directory.CreateDirectory(Path.Combine(group, "devices"));
            File.WriteAllText(Path.Combine(group, "type"), "DMA\n");
            File.CreateSymbolicLink(Path.Combine(group, "devices", address), directory);
            File.CreateSymbolicLink(Path.Combine(directory, "iommu_group"), group);
            File.CreateSymbolicLink(Path.Combine(directory, "driver"), Path.Combine(sysfs, "bus", "pci", "drivers", driverName));
        }
    }
}
