using System.Globalization;
using System.IO.Abstractions;
using Virt.Passthrough.Hosting;

namespace Virt.Passthrough.Readiness;

/// <summary>
/// Checks whether a host can pass PCI devices to VMs, reading only files (sysfs, procfs, /dev) through
/// <see cref="IFileSystem"/>: KVM, CPU flags, the firmware's IOMMU table, IOMMU units and groups,
/// interrupt remapping, VFIO, the kernel command line and hugepages. Each check has a stable code.
/// </summary>
public sealed class HostReadinessChecker
{
    // Intel VT-d extended capability register, bit 3: interrupt remapping supported (VT-d spec 11.4.3).
    private const ulong IntelEcapInterruptRemapping = 1UL << 3;

    private readonly IFileSystem _fileSystem;
    private readonly PassthroughOptions _options;

    /// <summary>Creates a checker.</summary>
    /// <param name="fileSystem">The file system (real, or a fake host).</param>
    /// <param name="options">Where sysfs, procfs and /dev are.</param>
    public HostReadinessChecker(IFileSystem fileSystem, PassthroughOptions options)
    {
        _fileSystem = fileSystem ?? throw new ArgumentNullException(nameof(fileSystem));
        _options = options ?? throw new ArgumentNullException(nameof(options));
    }

    /// <summary>Runs every check.</summary>
    /// <returns>The report.</returns>
    public ReadinessReport Check()
    {
        var cpuFlags = CpuFlags();
        var commandLine = (Read(_options.ProcRoot, "cmdline") ?? string.Empty).Split([' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
        var iommuUnits = Entries(_options.SysfsRoot, "class", "iommu");
        return new ReadinessReport(
        [
            KvmDevice(),
            NestedPvm(),
            CpuVirtualization(cpuFlags),
            AcpiTable(),
            IommuEnabled(iommuUnits),
            IommuGroups(),
            InterruptRemapping(iommuUnits),
            VfioModules(),
            VfioDevice(),
            KernelCommandLine(commandLine, cpuFlags.Vendor),
            Hugepages(),
        ]);
    }

    private ReadinessCheck KvmDevice() =>
        Exists(_options.DevRoot, "kvm")
            ? Pass("kvm.device", $"{Combine(_options.DevRoot, "kvm")} exists")
            : Fail("kvm.device", $"{Combine(_options.DevRoot, "kvm")} does not exist", "enable VT-x/AMD-V in the firmware and load kvm_intel or kvm_amd (modprobe kvm_intel)");

    private ReadinessCheck NestedPvm() =>
        DirectoryExists(_options.SysfsRoot, "module", "kvm_pvm")
            ? new("kvm.nested-pvm", ReadinessStatus.Warn, "KVM here is PVM (module kvm_pvm): a paravirtualized nested hypervisor on which stock guest kernels do not boot and no host IOMMU exists", "run guests under TCG here, or pass devices through on a bare-metal host")
            : Pass("kvm.nested-pvm", "KVM is not the PVM nested hypervisor");

    private ReadinessCheck CpuVirtualization((string? Vendor, HashSet<string> Flags) cpu)
    {
        if (cpu.Flags.Contains("vmx") || cpu.Flags.Contains("svm"))
        {
            return Pass("cpu.virtualization", $"the CPU has {(cpu.Flags.Contains("vmx") ? "vmx (Intel VT-x)" : "svm (AMD-V)")}");
        }

        return cpu.Flags.Contains("hypervisor")
            ? new("cpu.virtualization", ReadinessStatus.Warn, "the CPU shows neither vmx nor svm and runs under a hypervisor", "enable nested virtualization on the outer hypervisor")
            : Fail("cpu.virtualization", "the CPU shows neither vmx nor svm", "enable VT-x/AMD-V in the firmware setup");
    }

    private ReadinessCheck AcpiTable()
    {
        foreach (var table in new[] { "DMAR", "IVRS" })
        {
            if (Exists(_options.SysfsRoot, "firmware", "acpi", "tables", table))
            {
                return Pass("iommu.acpi-table", $"the firmware describes an IOMMU ({table} table, {(table == "DMAR" ? "Intel VT-d" : "AMD-Vi")})");
            }
        }

        return Fail("iommu.acpi-table", "the firmware has no DMAR or IVRS ACPI table: it describes no IOMMU", "enable VT-d (Intel) or AMD-Vi/IOMMU in the firmware setup");
    }

    private static ReadinessCheck IommuEnabled(IReadOnlyList<string> units) =>
        units.Count > 0
            ? Pass("iommu.enabled", $"{units.Count} IOMMU unit(s) active: {string.Join(", ", units)}")
            : Fail("iommu.enabled", "/sys/class/iommu is empty: the kernel runs without an IOMMU", "add intel_iommu=on (Intel) to the kernel command line and check the firmware enables the IOMMU");

    private ReadinessCheck IommuGroups()
    {
        var groups = Entries(_options.SysfsRoot, "kernel", "iommu_groups");
        return groups.Count > 0
            ? Pass("iommu.groups", $"{groups.Count} IOMMU group(s)")
            : Fail("iommu.groups", "no IOMMU groups exist", "enable the IOMMU (see iommu.enabled); without groups no device can be given to VFIO");
    }

    private ReadinessCheck InterruptRemapping(IReadOnlyList<string> units)
    {
        var unsafeInterrupts = Read(_options.SysfsRoot, "module", "vfio_iommu_type1", "parameters", "allow_unsafe_interrupts")?.Trim() is "Y" or "1";
        if (units.Count == 0)
        {
            return Fail("iommu.interrupt-remapping", "no IOMMU, so no interrupt remapping", "enable the IOMMU first (see iommu.enabled)");
        }

        var intelUnits = units.Where(unit => Exists(_options.SysfsRoot, "class", "iommu", unit, "intel-iommu", "ecap")).ToList();
        if (intelUnits.Count == 0)
        {
            // AMD-Vi enables interrupt remapping with the IOMMU whenever the IVRS table allows it.
            return new("iommu.interrupt-remapping", ReadinessStatus.Info, $"non-Intel IOMMU ({string.Join(", ", units)}): interrupt remapping follows the IVRS table", null);
        }

        var without = intelUnits.Where(unit => !(ulong.TryParse(Read(_options.SysfsRoot, "class", "iommu", unit, "intel-iommu", "ecap")?.Trim(), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var ecap) && (ecap & IntelEcapInterruptRemapping) != 0)).ToList();
        if (without.Count == 0)
        {
            return Pass("iommu.interrupt-remapping", $"every VT-d unit supports interrupt remapping (ecap bit 3): {string.Join(", ", intelUnits)}");
        }

        return unsafeInterrupts
            ? new("iommu.interrupt-remapping", ReadinessStatus.Warn, $"{string.Join(", ", without)} cannot remap interrupts; vfio_iommu_type1 allow_unsafe_interrupts=Y lets VFIO run anyway", "a guest can inject interrupts into the host: use a platform with interrupt remapping")
            : Fail("iommu.interrupt-remapping", $"{string.Join(", ", without)} cannot remap interrupts, so VFIO refuses to assign devices", "use a platform with interrupt remapping, or accept the risk with vfio_iommu_type1.allow_unsafe_interrupts=1");
    }

    private ReadinessCheck VfioModules()
    {
        var missing = new[] { "vfio", "vfio_pci", "vfio_iommu_type1" }.Where(module => !DirectoryExists(_options.SysfsRoot, "module", module)).ToList();
        var driver = DirectoryExists(_options.SysfsRoot, "bus", "pci", "drivers", "vfio-pci");
        if (missing.Count == 0 && driver)
        {
            return Pass("vfio.modules", "vfio, vfio_pci and vfio_iommu_type1 are loaded and the vfio-pci driver is registered");
        }

        var what = missing.Count > 0 ? $"module(s) {string.Join(", ", missing)} not loaded" : "the vfio-pci driver is not registered";
        return Fail("vfio.modules", what, "modprobe vfio-pci (it loads vfio and vfio_iommu_type1), and list them in /etc/modules-load.d/ for boot");
    }

    private ReadinessCheck VfioDevice() =>
        Exists(_options.DevRoot, "vfio", "vfio")
            ? Pass("vfio.device", $"{Combine(_options.DevRoot, "vfio", "vfio")} exists")
            : Fail("vfio.device", $"{Combine(_options.DevRoot, "vfio", "vfio")} does not exist", "modprobe vfio (the container device appears with it)");

    private static ReadinessCheck KernelCommandLine(string[] arguments, string? cpuVendor)
    {
        string? Value(string key) => arguments.LastOrDefault(argument => argument.StartsWith(key + "=", StringComparison.Ordinal))?[(key.Length + 1)..];
        var intel = Value("intel_iommu");
        var amd = Value("amd_iommu");
        if (intel?.Split(',').Contains("off") == true || amd == "off" || Value("iommu") == "off")
        {
            return Fail("kernel.cmdline", "the kernel command line turns the IOMMU off", "remove intel_iommu=off / amd_iommu=off / iommu=off from the kernel command line");
        }

        var notes = new List<string>();
        if (cpuVendor == "GenuineIntel" && intel?.Split(',').Contains("on") != true)
        {
            notes.Add("intel_iommu=on is not set (Debian's kernels leave VT-d off without it)");
        }

        if (Value("iommu") != "pt")
        {
            notes.Add("iommu=pt is not set (host devices then pay for DMA translation)");
        }

        if (arguments.Any(argument => argument.StartsWith("pcie_acs_override", StringComparison.Ordinal)))
        {
            return new("kernel.cmdline", ReadinessStatus.Warn, "pcie_acs_override is set: IOMMU groups are split without hardware isolation", "remove pcie_acs_override; devices in one real group can reach each other's memory");
        }

        return notes.Count == 0
            ? Pass("kernel.cmdline", "the kernel command line enables the IOMMU the recommended way")
            : new("kernel.cmdline", ReadinessStatus.Warn, string.Join("; ", notes), "add " + string.Join(" ", new[] { cpuVendor == "GenuineIntel" && intel is null ? "intel_iommu=on" : null, Value("iommu") != "pt" ? "iommu=pt" : null }.OfType<string>()) + " to GRUB_CMDLINE_LINUX and run update-grub");
    }

    private ReadinessCheck Hugepages()
    {
        var sizes = Entries(_options.SysfsRoot, "kernel", "mm", "hugepages");
        var reserved = sizes
            .Select(size => (Size: size.Replace("hugepages-", string.Empty, StringComparison.Ordinal), Total: Number(Read(_options.SysfsRoot, "kernel", "mm", "hugepages", size, "nr_hugepages")), Free: Number(Read(_options.SysfsRoot, "kernel", "mm", "hugepages", size, "free_hugepages"))))
            .Where(entry => entry.Total > 0)
            .ToList();
        if (reserved.Count > 0)
        {
            return Pass("memory.hugepages", string.Join(", ", reserved.Select(entry => $"{entry.Size}: {entry.Total} reserved, {entry.Free} free")));
        }

        return new("memory.hugepages", ReadinessStatus.Info, sizes.Count == 0 ? "the kernel offers no hugepages" : $"no hugepages reserved (sizes offered: {string.Join(", ", sizes.Select(size => size.Replace("hugepages-", string.Empty, StringComparison.Ordinal)))})", "a VM with a passthrough device pins all its memory: reserve hugepages (vm.nr_hugepages) for large VMs");
    }

    private (string? Vendor, HashSet<string> Flags) CpuFlags()
    {
        var text = Read(_options.ProcRoot, "cpuinfo") ?? string.Empty;
        string? vendor = null;
        var flags = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0)
            {
                continue;
            }

            var key = line[..colon].Trim();
            if (key == "vendor_id")
            {
                vendor ??= line[(colon + 1)..].Trim();
            }
            else if (key == "flags" && flags.Count == 0)
            {
                flags.UnionWith(line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries));
            }
        }

        return (vendor, flags);
    }

    private static ReadinessCheck Pass(string code, string summary) => new(code, ReadinessStatus.Pass, summary, null);

    private static ReadinessCheck Fail(string code, string summary, string fix) => new(code, ReadinessStatus.Fail, summary, fix);

    private static int Number(string? text) => int.TryParse(text?.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : 0;

    private string Combine(params string[] parts) => _fileSystem.Path.Combine(parts);

    private bool Exists(params string[] parts) => _fileSystem.File.Exists(Combine(parts)) || _fileSystem.Directory.Exists(Combine(parts));

    private bool DirectoryExists(params string[] parts) => _fileSystem.Directory.Exists(Combine(parts));

    private string? Read(params string[] parts)
    {
        var path = Combine(parts);
        try
        {
            return _fileSystem.File.Exists(path) ? _fileSystem.File.ReadAllText(path) : null;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    private List<string> Entries(params string[] parts)
    {
        var path = Combine(parts);
        return _fileSystem.Directory.Exists(path)
            ? _fileSystem.Directory.GetFileSystemEntries(path).Select(entry => _fileSystem.Path.GetFileName(entry)).Order(StringComparer.Ordinal).ToList()
            : [];
    }
}
