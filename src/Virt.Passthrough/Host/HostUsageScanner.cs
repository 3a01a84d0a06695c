using System.Globalization;
using System.IO.Abstractions;
using System.Text.RegularExpressions;
using Virt.Passthrough.Hosting;

namespace Virt.Passthrough.Host;

/// <summary>
/// Finds what the host itself uses, read-only from sysfs and procfs: the controllers of mounted and swap
/// block devices, NICs with routes or addresses, and processes holding DRM, NVIDIA or VFIO device nodes.
/// </summary>
internal sealed partial class HostUsageScanner(IFileSystem fileSystem, PassthroughOptions options)
{
    private static readonly string[] NvidiaSharedNodes = ["nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset"];

    /// <summary>What makes a device critical to the host: (code, reason, fix) per finding.</summary>
    public IReadOnlyList<(string Code, string Reason, string Fix)> Findings(PciDevice device, HostUsage usage)
    {
        var findings = new List<(string, string, string)>();
        if (device.IsBootVga)
        {
            findings.Add(("host.boot-vga", "it is the boot VGA device (boot_vga = 1): the host's console is on it", "use another GPU for the host console, or set AllowHostCritical"));
        }

        if (usage.BlockControllers.TryGetValue(device.Address, out var mounts))
        {
            findings.Add(("host.block-device", $"it controls block devices the host uses: {string.Join(", ", mounts)}", "unmount them (and swapoff), or set AllowHostCritical if you know better"));
        }

        var interfaces = Interfaces(device.Address).Where(usage.RoutedInterfaces.Contains).ToList();
        if (interfaces.Count > 0)
        {
            findings.Add(("host.network", $"its network interface(s) {string.Join(", ", interfaces)} have addresses or routes", "move the host's addresses and routes off it (ip addr flush dev X), or set AllowHostCritical"));
        }

        var holders = Holders(device, usage);
        if (holders.Count > 0)
        {
            findings.Add(("host.open-handles", $"processes hold its device nodes: {string.Join(", ", holders)}", "stop those processes (nvidia-persistenced, a display server, CUDA jobs), or set AllowHostCritical"));
        }

        return findings;
    }

    /// <summary>One read of the host's state, shared by every device of a plan.</summary>
    public HostUsage Read() => new(BlockControllers(), RoutedInterfaces(), OpenDeviceNodes());

    /// <summary>The first of <paramref name="groups"/> whose <c>/dev/vfio/N</c> a process holds, with the holders ("pid (name)"), from one scan of /proc.</summary>
    public (string Node, IReadOnlyList<string> Holders)? HeldVfioGroup(IEnumerable<int> groups)
    {
        var handles = OpenDeviceNodes();
        foreach (var group in groups)
        {
            var node = fileSystem.Path.Combine(options.DevRoot, "vfio", group.ToString(CultureInfo.InvariantCulture));
            var holders = handles.Where(handle => handle.Target == node).Select(handle => handle.Process).Distinct().ToList();
            if (holders.Count > 0)
            {
                return (node, holders);
            }
        }

        return null;
    }

    private List<string> Holders(PciDevice device, HostUsage usage)
    {
        var nodes = new HashSet<string>(StringComparer.Ordinal);
        var drm = fileSystem.Path.Combine(DeviceDirectory(device.Address), "drm");
        if (fileSystem.Directory.Exists(drm))
        {
            foreach (var card in fileSystem.Directory.GetFileSystemEntries(drm))
            {
                nodes.Add(fileSystem.Path.Combine(options.DevRoot, "dri", fileSystem.Path.GetFileName(card)));
            }
        }

        if (device.Driver == "nvidia")
        {
            if (NvidiaMinor(device.Address) is { } minor)
            {
                nodes.Add(fileSystem.Path.Combine(options.DevRoot, "nvidia" + minor.ToString(CultureInfo.InvariantCulture)));
            }

            foreach (var shared in NvidiaSharedNodes)
            {
                nodes.Add(fileSystem.Path.Combine(options.DevRoot, shared));
            }
        }

        return usage.OpenNodes.Where(handle => nodes.Contains(handle.Target)).Select(handle => $"{handle.Process} on {handle.Target}").Distinct().ToList();
    }

    private int? NvidiaMinor(PciAddress address)
    {
        var information = fileSystem.Path.Combine(options.ProcRoot, "driver", "nvidia", "gpus", address.ToString(), "information");
        if (!fileSystem.File.Exists(information))
        {
            return null;
        }

        var line = fileSystem.File.ReadAllLines(information).FirstOrDefault(text => text.StartsWith("Device Minor:", StringComparison.Ordinal));
        return line is not null && int.TryParse(line["Device Minor:".Length..].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var minor) ? minor : null;
    }

    /// <summary>
    /// The network interfaces of a device: <c>/sys/class/net/IFACE</c> links into the device tree, whose path
    /// names the PCI function (directly, or through a child such as virtio's <c>virtioN</c>).
    /// </summary>
    private List<string> Interfaces(PciAddress address)
    {
        var net = fileSystem.Path.Combine(options.SysfsRoot, "class", "net");
        if (!fileSystem.Directory.Exists(net))
        {
            return [];
        }

        var needle = "/" + address + "/";
        return fileSystem.Directory.GetFileSystemEntries(net)
            .Where(entry => LinkTarget(entry) is { } target && target.Contains(needle, StringComparison.Ordinal))
            .Select(entry => fileSystem.Path.GetFileName(entry))
            .ToList();
    }

    /// <summary>PCI functions on the sysfs path of every mounted or swap block device, with what is mounted.</summary>
    private Dictionary<PciAddress, List<string>> BlockControllers()
    {
        var controllers = new Dictionary<PciAddress, List<string>>();
        void Add(string? sysfsLink, string what)
        {
            var target = sysfsLink is null ? null : LinkTarget(sysfsLink);
            if (target is null)
            {
                return;
            }

            foreach (Match match in PciAddressPattern().Matches(target))
            {
                if (PciAddress.TryParse(match.Value, out var address))
                {
                    (controllers.TryGetValue(address, out var list) ? list : controllers[address] = []).Add(what);
                }
            }
        }

        // mountinfo: "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS ... - FSTYPE SOURCE SUPEROPTIONS"
        foreach (var line in ReadLines(options.ProcRoot, "self", "mountinfo"))
        {
            var fields = line.Split(' ');
            if (fields.Length > 4 && !fields[2].StartsWith("0:", StringComparison.Ordinal))
            {
                var source = line.Split(" - ", 2) is [_, var tail] ? tail.Split(' ').ElementAtOrDefault(1) : null;
                Add(fileSystem.Path.Combine(options.SysfsRoot, "dev", "block", fields[2]), $"{source ?? fields[2]} mounted on {fields[4]}");
            }
        }

        foreach (var line in ReadLines(options.ProcRoot, "swaps").Skip(1))
        {
            var device = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries).FirstOrDefault();
            if (device is not null && device.StartsWith("/dev/", StringComparison.Ordinal))
            {
                Add(fileSystem.Path.Combine(options.SysfsRoot, "class", "block", fileSystem.Path.GetFileName(device)), $"{device} (swap)");
            }
        }

        return controllers;
    }

    /// <summary>Interfaces with IPv4 routes (an address adds its prefix route) or non-link-local IPv6 addresses.</summary>
    private HashSet<string> RoutedInterfaces()
    {
        var interfaces = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in ReadLines(options.ProcRoot, "net", "route").Skip(1))
        {
            var name = line.Split('\t', ' ').FirstOrDefault(field => field.Length > 0);
            if (name is not null)
            {
                interfaces.Add(name);
            }
        }

        // if_inet6: ADDRESS INDEX PREFIXLEN SCOPE FLAGS NAME; scope 0x20 is link-local.
        foreach (var line in ReadLines(options.ProcRoot, "net", "if_inet6"))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length == 6 && fields[3] != "20")
            {
                interfaces.Add(fields[5]);
            }
        }

        return interfaces;
    }

    /// <summary>Every open DRM, NVIDIA and VFIO node of every process (/proc/PID/fd links).</summary>
    private List<(string Process, string Target)> OpenDeviceNodes()
    {
        var handles = new List<(string, string)>();
        if (!fileSystem.Directory.Exists(options.ProcRoot))
        {
            return handles;
        }

        var prefixes = new[] { "dri", "nvidia", "vfio" }.Select(name => fileSystem.Path.Combine(options.DevRoot, name)).ToArray();
        foreach (var process in fileSystem.Directory.GetDirectories(options.ProcRoot))
        {
            var pid = fileSystem.Path.GetFileName(process);
            if (!int.TryParse(pid, NumberStyles.None, CultureInfo.InvariantCulture, out _))
            {
                continue;
            }

            try
            {
                var fds = fileSystem.Path.Combine(process, "fd");
                foreach (var fd in fileSystem.Directory.GetFileSystemEntries(fds))
                {
                    if (LinkTarget(fd) is { } target && prefixes.Any(prefix => target.StartsWith(prefix, StringComparison.Ordinal)))
                    {
                        var name = ReadLines(process, "comm").FirstOrDefault() ?? "?";
                        handles.Add(($"{pid} ({name})", target));
                    }
                }
            }
            catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
            {
                // The process ended while we looked, or hides its descriptors: nothing to report.
            }
        }

        return handles;
    }

    private string DeviceDirectory(PciAddress address) => fileSystem.Path.Combine(options.SysfsRoot, "bus", "pci", "devices", address.ToString());

    private string? LinkTarget(string path)
    {
        try
        {
            return fileSystem.FileInfo.New(path).LinkTarget;
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private string[] ReadLines(params string[] parts)
    {
        var path = fileSystem.Path.Combine(parts);
        try
        {
            return fileSystem.File.Exists(path) ? fileSystem.File.ReadAllLines(path) : [];
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    [GeneratedRegex("[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\\.[0-7]")]
    private static partial Regex PciAddressPattern();
}

/// <summary>One read of what the host uses.</summary>
internal sealed record HostUsage(Dictionary<PciAddress, List<string>> BlockControllers, HashSet<string> RoutedInterfaces, List<(string Process, string Target)> OpenNodes);
