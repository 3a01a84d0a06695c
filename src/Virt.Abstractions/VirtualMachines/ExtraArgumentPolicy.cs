using System.Text.RegularExpressions;

namespace Virt.VirtualMachines;

/// <summary>
/// What <see cref="VmSpec.ExtraArguments"/> may contain: an allowlist of QEMU options, each with a
/// check of its value, chosen so that nothing added can reach a host file, a host socket, the
/// monitor or the SDK's own devices and chardevs. Everything else is refused with the typed field to
/// use instead. Options are read the way QEMU reads them (<c>-opt value</c>; <c>--opt</c> is the same
/// option); values are QEMU option lists where <c>,,</c> is a literal comma.
/// </summary>
internal static partial class ExtraArgumentPolicy
{
    /// <summary>Properties every allowed <c>-device</c> may set (placement only).</summary>
    private static readonly string[] CommonDeviceProperties = ["id", "bus", "addr", "multifunction"];

    /// <summary>
    /// Devices that need no host resource (no drive, netdev, chardev, file, memory backend, audio or
    /// host device), with the extra properties each may set. Values are checked to be plain words.
    /// </summary>
    private static readonly Dictionary<string, string[]> AllowedDevices = new(StringComparer.Ordinal)
    {
        ["pcie-root-port"] = ["chassis", "slot", "port"],
        ["pci-bridge"] = ["chassis_nr", "msi", "shpc"],
        ["pcie-pci-bridge"] = [],
        ["qemu-xhci"] = ["p2", "p3"],
        ["nec-usb-xhci"] = ["p2", "p3"],
        ["usb-ehci"] = [],
        ["ich9-usb-ehci1"] = [],
        ["usb-tablet"] = ["port"],
        ["usb-kbd"] = ["port"],
        ["usb-mouse"] = ["port"],
        ["virtio-keyboard-pci"] = [],
        ["virtio-mouse-pci"] = [],
        ["virtio-tablet-pci"] = [],
        ["i6300esb"] = [],
        ["ib700"] = [],
        ["intel-iommu"] = ["intremap", "caching-mode", "device-iotlb", "aw-bits"],
        ["virtio-iommu-pci"] = [],
        ["vmcoreinfo"] = [],
        ["edu"] = ["dma_mask"],
        ["VGA"] = ["vgamem_mb", "xres", "yres"],
        ["bochs-display"] = ["vgamem", "xres", "yres"],
        ["virtio-gpu-pci"] = ["max_outputs", "xres", "yres"],
        ["virtio-vga"] = ["max_outputs", "xres", "yres"],
    };

    /// <summary><c>-global driver.property=value</c> settings allowed, with their values.</summary>
    private static readonly Dictionary<string, string[]> AllowedGlobals = new(StringComparer.Ordinal)
    {
        ["kvm-pit.lost_tick_policy"] = ["delay", "discard"],
        ["ICH9-LPC.disable_s3"] = ["0", "1"],
        ["ICH9-LPC.disable_s4"] = ["0", "1"],
        ["PIIX4_PM.disable_s3"] = ["0", "1"],
        ["PIIX4_PM.disable_s4"] = ["0", "1"],
    };

    private static readonly HashSet<string> SmbiosTypes = new(StringComparer.Ordinal) { "0", "1", "2", "3", "4", "11", "17" };

    /// <summary>SMBIOS fields that take text; <c>file</c> and <c>path</c> (which read host files) are not among them.</summary>
    private static readonly HashSet<string> SmbiosKeys = new(StringComparer.Ordinal)
    {
        "vendor", "version", "date", "release", "uefi", "manufacturer", "product", "serial", "uuid", "sku", "family",
        "asset", "part", "location", "value", "max-speed", "current-speed", "processor-id", "loc_pfx", "bank", "speed",
    };

    /// <summary>For options that are refused, the typed field that does the job.</summary>
    private static readonly Dictionary<string, string> Replacements = new(StringComparer.Ordinal)
    {
        ["-drive"] = "VmSpec.Disks (or Cdroms)", ["-blockdev"] = "VmSpec.Disks (or Cdroms)", ["-hda"] = "VmSpec.Disks", ["-hdb"] = "VmSpec.Disks",
        ["-cdrom"] = "VmSpec.Cdroms", ["-snapshot"] = "the VM's snapshot methods",
        ["-netdev"] = "VmSpec.Nics", ["-nic"] = "VmSpec.Nics", ["-net"] = "VmSpec.Nics",
        ["-kernel"] = "VmSpec.Firmware.KernelPath", ["-initrd"] = "VmSpec.Firmware.InitrdPath", ["-append"] = "VmSpec.Firmware.KernelCommandLine",
        ["-bios"] = "VmSpec.Firmware.BiosPath", ["-pflash"] = "VmSpec.Firmware (Kind = Ovmf)",
        ["-m"] = "VmSpec.Memory", ["-smp"] = "VmSpec.Cpu", ["-cpu"] = "VmSpec.Cpu.Model", ["-machine"] = "VmSpec.Machine", ["-M"] = "VmSpec.Machine",
        ["-accel"] = "VmSpec.Accelerator", ["-enable-kvm"] = "VmSpec.Accelerator",
        ["-vnc"] = "VmSpec.Vnc", ["-display"] = "VmSpec.Vnc", ["-vga"] = "VmSpec.Vnc",
        ["-serial"] = "VmSpec.SerialConsole", ["-chardev"] = "VmSpec.SerialConsole and VmSpec.GuestAgent",
        ["-qmp"] = "the IVirtualMachine methods (the SDK owns the monitor)", ["-monitor"] = "the IVirtualMachine methods (the SDK owns the monitor)",
        ["-mon"] = "the IVirtualMachine methods (the SDK owns the monitor)",
        ["-runas"] = "KvmOptions.RunAsUser", ["-run-with"] = "KvmOptions.RunAsUser", ["-tpmdev"] = "VmSpec.Tpm",
        ["-object"] = "VmSpec.Rng and VmSpec.Memory (objects open host files, sockets and memory backends)",
        ["-fsdev"] = "a disk image (VmSpec.Disks): host directories are not shared with guests", ["-virtfs"] = "a disk image (VmSpec.Disks): host directories are not shared with guests",
        ["-incoming"] = "IVirtualMachine.Migration.MigrateAsync",
    };

    /// <summary>Checks the extra arguments; every problem is added with its index.</summary>
    public static void Validate(IReadOnlyList<string> arguments, List<VmSpecProblem> problems)
    {
        var unreadable = false;
        for (var i = 0; i < arguments.Count; i++)
        {
            if (arguments[i] is null || arguments[i].Any(char.IsControl))
            {
                problems.Add(new(Field(i), "is null or contains a control character: remove it"));
                unreadable = true;
            }
        }

        if (unreadable)
        {
            return;
        }

        var index = 0;
        while (index < arguments.Count)
        {
            var token = arguments[index];
            if (!token.StartsWith('-') || token.Length < 2)
            {
                problems.Add(new(Field(index), $"'{token}' is not an option: ExtraArguments is a list of allowed options, each followed by its value (e.g. \"-rtc\", \"base=localtime\"); put the option it belongs to before it"));
                index++;
                continue;
            }

            var option = token.StartsWith("--", StringComparison.Ordinal) ? token[1..] : token;
            var hasValue = index + 1 < arguments.Count && !arguments[index + 1].StartsWith('-');
            string? value = hasValue ? arguments[index + 1] : null;
            switch (option)
            {
                case "-no-reboot":
                    index++;
                    continue;
                case "-device" or "-global" or "-rtc" or "-boot" or "-smbios" or "-fw_cfg" or "-uuid" or "-watchdog-action" when value is null:
                    problems.Add(new(Field(index), $"'{token}' needs a value after it: add it as the next element"));
                    index++;
                    continue;
                case "-device":
                    CheckDevice(value!, Field(index + 1), problems);
                    break;
                case "-global":
                    CheckGlobal(value!, Field(index + 1), problems);
                    break;
                case "-rtc":
                    CheckRtc(value!, Field(index + 1), problems);
                    break;
                case "-boot":
                    CheckBoot(value!, Field(index + 1), problems);
                    break;
                case "-smbios":
                    CheckSmbios(value!, Field(index + 1), problems);
                    break;
                case "-fw_cfg":
                    CheckFwCfg(value!, Field(index + 1), problems);
                    break;
                case "-uuid":
                    if (!UuidPattern().IsMatch(value!))
                    {
                        problems.Add(new(Field(index + 1), $"'{value}' is not a UUID: write it as 8-4-4-4-12 hex digits"));
                    }

                    break;
                case "-watchdog-action":
                    if (value is not ("reset" or "shutdown" or "poweroff" or "pause" or "debug" or "none" or "inject-nmi"))
                    {
                        problems.Add(new(Field(index + 1), $"'{value}' is not a watchdog action: use reset, shutdown, poweroff, pause, debug, none or inject-nmi"));
                    }

                    break;
                default:
                    problems.Add(new(Field(index), Refusal(token, option)));
                    break;
            }

            // An option's value (allowed or not) is skipped with it.
            index += hasValue ? 2 : 1;
        }
    }

    /// <summary>The options allowed, for messages.</summary>
    public const string AllowedSummary =
        "-device (host-free devices only: " + "pcie-root-port, pci-bridge, qemu-xhci, usb-tablet, usb-kbd, intel-iommu, i6300esb, VGA, virtio-gpu-pci, edu and a few more), " +
        "-global (kvm-pit.lost_tick_policy, ICH9-LPC/PIIX4_PM.disable_s3/s4), -rtc, -boot (no splash), -smbios (no file/path), " +
        "-fw_cfg name=opt/...,string=..., -uuid, -watchdog-action, -no-reboot";

    private static string Refusal(string token, string option)
    {
        var why = $"'{token}' is not an option ExtraArguments allows: extra options are an allowlist, because most QEMU options can reach host files, sockets or the monitor. Allowed: {AllowedSummary}";
        return Replacements.TryGetValue(option, out var field) ? $"{why}. Use {field} instead" : $"{why}. Use the typed VmSpec fields (Disks, Cdroms, Nics, HostDevices, Firmware, Cpu, Memory, Vnc, SerialConsole, Tpm) instead";
    }

    private static void CheckDevice(string value, string field, List<VmSpecProblem> problems)
    {
        var parts = SplitOptionList(value);
        var driver = parts[0].Key == "driver" ? parts[0].Value : parts[0].Value is null ? parts[0].Key : null;
        if (driver is null || !AllowedDevices.TryGetValue(driver, out var extra))
        {
            var hint = driver is "vfio-pci" ? "use VmSpec.HostDevices"
                : driver is not null && (driver.StartsWith("virtio-blk", StringComparison.Ordinal) || driver.StartsWith("scsi-", StringComparison.Ordinal) || driver.StartsWith("ide-", StringComparison.Ordinal) || driver is "nvme" or "usb-storage")
                    ? "use VmSpec.Disks"
                : driver is not null && (driver.StartsWith("virtio-net", StringComparison.Ordinal) || driver.StartsWith("e1000", StringComparison.Ordinal) || driver is "rtl8139")
                    ? "use VmSpec.Nics"
                : $"allowed devices are those that need no host resource: {string.Join(", ", AllowedDevices.Keys)}";
            problems.Add(new(field, $"device '{driver}' is not allowed in ExtraArguments (devices with drives, netdevs, chardevs, files or host devices can reach the host): {hint}"));
            return;
        }

        foreach (var (key, propertyValue) in parts.Skip(1))
        {
            if (!CommonDeviceProperties.Contains(key) && !extra.Contains(key))
            {
                problems.Add(new(field, $"property '{key}' of device '{driver}' is not allowed in ExtraArguments: allowed are {string.Join(", ", CommonDeviceProperties.Concat(extra))}"));
                continue;
            }

            if (propertyValue is null || !WordPattern().IsMatch(propertyValue))
            {
                problems.Add(new(field, $"property '{key}' of device '{driver}' needs a plain value (letters, digits, . _ : -), not '{propertyValue}'"));
                continue;
            }

            if (key == "id" && (!DeviceIdPattern().IsMatch(propertyValue) || propertyValue.StartsWith("virt-", StringComparison.Ordinal)))
            {
                problems.Add(new(field, $"'{propertyValue}' is not a device id you may use: 1–31 characters of a-z 0-9 _ -, starting with a letter, and not 'virt-' (the SDK's own devices)"));
            }
            else if (key == "bus" && (propertyValue.StartsWith("virt-", StringComparison.Ordinal) || !BusPattern().IsMatch(propertyValue)))
            {
                problems.Add(new(field, $"bus '{propertyValue}' is not one you may use: pcie.0, pci.0, or a bus of a device you added (buses named 'virt-' are the SDK's, e.g. its hotplug ports)"));
            }
        }
    }

    private static void CheckGlobal(string value, string field, List<VmSpecProblem> problems)
    {
        var equals = value.IndexOf('=', StringComparison.Ordinal);
        var name = equals < 0 ? value : value[..equals];
        if (equals < 0 || !AllowedGlobals.TryGetValue(name, out var values) || !values.Contains(value[(equals + 1)..]))
        {
            problems.Add(new(field, $"'-global {value}' is not allowed (a -global can change the SDK's own devices, e.g. turn Secure Boot's flash protection off): allowed are {string.Join(", ", AllowedGlobals.Select(g => $"{g.Key}={string.Join('|', g.Value)}"))}"));
        }
    }

    private static void CheckRtc(string value, string field, List<VmSpecProblem> problems)
    {
        foreach (var (key, item) in SplitOptionList(value))
        {
            var ok = key switch
            {
                "base" => item is "utc" or "localtime" || (item is not null && RtcDatePattern().IsMatch(item)),
                "clock" => item is "host" or "rt" or "vm",
                "driftfix" => item is "none" or "slew",
                _ => false,
            };
            if (!ok)
            {
                problems.Add(new(field, $"'-rtc {value}': '{key}={item}' is not allowed: use base=utc|localtime|YYYY-MM-DDTHH:MM:SS, clock=host|rt|vm, driftfix=none|slew"));
            }
        }
    }

    private static void CheckBoot(string value, string field, List<VmSpecProblem> problems)
    {
        foreach (var (key, item) in SplitOptionList(value))
        {
            var ok = key switch
            {
                "order" or "once" => item is not null && BootOrderPattern().IsMatch(item),
                "menu" or "strict" => item is "on" or "off",
                "reboot-timeout" or "splash-time" => item is not null && NumberPattern().IsMatch(item),
                _ => false,
            };
            if (!ok)
            {
                problems.Add(new(field, $"'-boot {value}': '{key}={item}' is not allowed (splash reads a host file): use order, once, menu, strict, reboot-timeout, splash-time; boot order of disks is VmDisk.BootIndex"));
            }
        }
    }

    private static void CheckSmbios(string value, string field, List<VmSpecProblem> problems)
    {
        var parts = SplitOptionList(value);
        if (parts[0] is not ("type", { } type) || !SmbiosTypes.Contains(type))
        {
            problems.Add(new(field, $"'-smbios {value}' must start with type=N, N one of {string.Join(", ", SmbiosTypes)} (-smbios file=... reads a host file and is not allowed)"));
            return;
        }

        foreach (var (key, item) in parts.Skip(1))
        {
            if (!SmbiosKeys.Contains(key) || item is null)
            {
                problems.Add(new(field, $"'-smbios': field '{key}' is not allowed (file and path read host files): use {string.Join(", ", SmbiosKeys)} with a value"));
            }
        }
    }

    private static void CheckFwCfg(string value, string field, List<VmSpecProblem> problems)
    {
        var parts = SplitOptionList(value);
        var name = parts.FirstOrDefault(p => p.Key == "name").Value;
        if (name is null || !FwCfgNamePattern().IsMatch(name) || name.Contains("..", StringComparison.Ordinal))
        {
            problems.Add(new(field, $"'-fw_cfg {value}' needs name=opt/... (letters, digits, . _ - /): QEMU reserves other names"));
        }

        var refused = false;
        foreach (var (key, item) in parts)
        {
            if (key is not ("name" or "string") || item is null)
            {
                problems.Add(new(field, $"'-fw_cfg': '{key}' is not allowed (file= reads a host file): pass the content with string=..."));
                refused = true;
            }
        }

        if (!refused && !parts.Any(p => p.Key == "string"))
        {
            problems.Add(new(field, "'-fw_cfg' needs string=...: the content the guest reads"));
        }
    }

    /// <summary>Splits a QEMU option list (<c>a=b,c=d</c>, <c>,,</c> a literal comma) into keys and values (null for a bare word).</summary>
    internal static List<(string Key, string? Value)> SplitOptionList(string value)
    {
        var items = new List<string>();
        var current = new System.Text.StringBuilder();
        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] == ',' && i + 1 < value.Length && value[i + 1] == ',')
            {
                current.Append(',');
                i++;
            }
            else if (value[i] == ',')
            {
                items.Add(current.ToString());
                current.Clear();
            }
            else
            {
                current.Append(value[i]);
            }
        }

        items.Add(current.ToString());
        return items.Select(item => item.IndexOf('=', StringComparison.Ordinal) is var at and >= 0 ? (item[..at], (string?)item[(at + 1)..]) : (item, null)).ToList();
    }

    private static string Field(int index) => $"ExtraArguments[{index}]";

    [GeneratedRegex("^[A-Za-z0-9._:-]{1,64}\\z")]
    private static partial Regex WordPattern();

    [GeneratedRegex("^[a-z][a-z0-9_-]{0,30}\\z")]
    private static partial Regex DeviceIdPattern();

    [GeneratedRegex("^(pcie\\.0|pci\\.0|[a-z][a-z0-9_-]{0,30}(\\.[0-9]{1,2})?)\\z")]
    private static partial Regex BusPattern();

    [GeneratedRegex("^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\\z")]
    private static partial Regex UuidPattern();

    [GeneratedRegex("^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2})?\\z")]
    private static partial Regex RtcDatePattern();

    [GeneratedRegex("^[a-p]{1,8}\\z")]
    private static partial Regex BootOrderPattern();

    [GeneratedRegex("^-?[0-9]{1,6}\\z")]
    private static partial Regex NumberPattern();

    [GeneratedRegex("^opt/[A-Za-z0-9._/-]{1,50}\\z")]
    private static partial Regex FwCfgNamePattern();
}
