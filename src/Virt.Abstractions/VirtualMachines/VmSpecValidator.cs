using System.Text.RegularExpressions;

namespace Virt.VirtualMachines;

/// <summary>Checks a <see cref="VmSpec"/> at the edge, reporting every problem with its field and fix.</summary>
public static partial class VmSpecValidator
{
    /// <summary>Validates the spec.</summary>
    /// <param name="spec">The spec.</param>
    /// <exception cref="InvalidVmSpecException">Something is wrong; the exception lists every problem.</exception>
    public static void Validate(VmSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var problems = new List<VmSpecProblem>();
        ValidateName(spec.Name, problems);
        ValidateCpuAndMemory(spec, problems);
        ValidateFirmware(spec, problems);
        ValidateDevices(spec, problems);
        ValidateExtraArguments(spec, problems);
        ValidateHostDevices(spec, problems);
        CloudInitValidator.Validate(spec.CloudInit, problems);
        if (spec.Tpm && spec.Machine == VmMachineType.Microvm)
        {
            problems.Add(new("Tpm", "microvm has no TPM interface: use q35 or pc"));
        }

        if (spec.CloudInit is not null && spec.Machine == VmMachineType.Microvm)
        {
            problems.Add(new("CloudInit", "microvm has no CD-ROM bus for the NoCloud seed: use q35 or pc"));
        }
        if (problems.Count > 0)
        {
            throw new InvalidVmSpecException(spec.Name ?? "(null)", problems);
        }
    }

    /// <summary>Whether a VM name is acceptable (it becomes file and socket names).</summary>
    /// <param name="name">The name.</param>
    /// <returns>True when valid.</returns>
    public static bool IsValidName(string? name) => name is not null && VmNamePattern().IsMatch(name);

    private static void ValidateName(string? name, List<VmSpecProblem> problems)
    {
        if (!IsValidName(name))
        {
            problems.Add(new("Name", $"'{name}' is not a valid VM name: use 1–63 characters of a-z A-Z 0-9 . _ -, starting with a letter or digit (it becomes file and socket names)"));
        }
    }

    private static void ValidateCpuAndMemory(VmSpec spec, List<VmSpecProblem> problems)
    {
        var cpu = spec.Cpu;
        foreach (var (field, value) in new[] { ("Cpu.Sockets", cpu.Sockets), ("Cpu.Cores", cpu.Cores), ("Cpu.Threads", cpu.Threads) })
        {
            if (value is < 1 or > 256)
            {
                problems.Add(new(field, $"{value} is out of range: use 1 to 256"));
            }
        }

        if (cpu.Count > 288)
        {
            problems.Add(new("Cpu", $"{cpu.Count} vCPUs is more than QEMU's q35 limit of 288: lower sockets, cores or threads"));
        }

        if (cpu.Model is not null && !CpuModelPattern().IsMatch(cpu.Model))
        {
            problems.Add(new("Cpu.Model", $"'{cpu.Model}' is not a CPU model name: use a name from 'qemu-system-x86_64 -cpu help' such as host, max or qemu64"));
        }

        var memory = spec.Memory;
        if (memory.SizeMiB is < 16 or > 4 * 1024 * 1024)
        {
            problems.Add(new("Memory.SizeMiB", $"{memory.SizeMiB} MiB is out of range: use 16 MiB to 4 TiB"));
        }

        if (memory.MaxSizeMiB is { } max && max <= memory.SizeMiB)
        {
            problems.Add(new("Memory.MaxSizeMiB", $"{max} MiB must be larger than Memory.SizeMiB ({memory.SizeMiB}), or null for no memory hotplug"));
        }

        if (memory.MaxSizeMiB is not null && memory.HotplugSlots is < 1 or > 255)
        {
            problems.Add(new("Memory.HotplugSlots", $"{memory.HotplugSlots} is out of range: use 1 to 255"));
        }

        if (cpu.MaxCount is { } maxCpus && (maxCpus < cpu.Count || maxCpus > 288 || maxCpus % (cpu.Cores * cpu.Threads) != 0))
        {
            problems.Add(new("Cpu.MaxCount", $"{maxCpus} must be at least the boot count ({cpu.Count}), at most 288, and a multiple of cores × threads ({cpu.Cores * cpu.Threads}): hotplug adds whole sockets"));
        }

        if (spec.HotplugPorts is < 0 or > 32)
        {
            problems.Add(new("HotplugPorts", $"{spec.HotplugPorts} is out of range: use 0 to 32 free PCIe root ports"));
        }
    }

    private static void ValidateFirmware(VmSpec spec, List<VmSpecProblem> problems)
    {
        if (spec.Firmware.SecureBoot && spec.Firmware.Kind != VmFirmwareKind.Ovmf)
        {
            problems.Add(new("Firmware.SecureBoot", $"Secure Boot is a UEFI feature but Kind is {spec.Firmware.Kind}: use VmFirmware.OvmfSecureBoot()"));
        }

        var firmware = spec.Firmware;
        CheckPath("Firmware.BiosPath", firmware.BiosPath, problems);
        CheckPath("Firmware.KernelPath", firmware.KernelPath, problems);
        CheckPath("Firmware.InitrdPath", firmware.InitrdPath, problems);
        if (firmware.KernelCommandLine is { } append && HasControlCharacters(append))
        {
            problems.Add(new("Firmware.KernelCommandLine", "contains a control character (newline, NUL...): remove it"));
        }

        switch (firmware.Kind)
        {
            case VmFirmwareKind.DirectKernel when firmware.KernelPath is null:
                problems.Add(new("Firmware.KernelPath", "direct kernel boot needs a kernel: set Firmware.KernelPath"));
                break;
            case VmFirmwareKind.SeaBios when firmware.KernelPath is not null || firmware.InitrdPath is not null:
                problems.Add(new("Firmware.Kind", $"a kernel or initrd is set but Kind is {firmware.Kind}: set Kind = DirectKernel (or Ovmf, which boots an EFI-stub kernel) or remove them"));
                break;
            case VmFirmwareKind.Ovmf when firmware.InitrdPath is not null && firmware.KernelPath is null:
                problems.Add(new("Firmware.KernelPath", "an initrd without a kernel: set Firmware.KernelPath or remove the initrd"));
                break;
            case VmFirmwareKind.Ovmf:
                if (firmware.SecureBoot && spec.Machine != VmMachineType.Q35)
                {
                    problems.Add(new("Firmware.SecureBoot", "Secure Boot needs SMM, which QEMU offers on q35: set Machine = Q35"));
                }

                CheckPath("Firmware.OvmfCodePath", firmware.OvmfCodePath, problems);
                CheckPath("Firmware.OvmfVarsTemplatePath", firmware.OvmfVarsTemplatePath, problems);
                if (spec.Machine == VmMachineType.Microvm)
                {
                    problems.Add(new("Firmware.Kind", "microvm does not run OVMF: use q35, or direct kernel boot"));
                }

                break;
        }

        if (spec.Machine == VmMachineType.Microvm && firmware.Kind != VmFirmwareKind.DirectKernel)
        {
            problems.Add(new("Machine", "microvm boots a kernel directly: set Firmware.Kind = DirectKernel, or use q35"));
        }
    }

    private static void ValidateDevices(VmSpec spec, List<VmSpecProblem> problems)
    {
        var ids = new HashSet<string>(StringComparer.Ordinal);
        var bootIndexes = new HashSet<int>();
        void CheckId(string field, string? id)
        {
            if (id is null || !DeviceIdPattern().IsMatch(id))
            {
                problems.Add(new(field, $"'{id}' is not a valid device id: use 1–31 characters of a-z 0-9 _ -, starting with a letter"));
            }
            else if (id.StartsWith("virt-", StringComparison.Ordinal))
            {
                problems.Add(new(field, $"'{id}' starts with 'virt-', which is reserved for the SDK's own devices: choose another id"));
            }
            else if (!ids.Add(id))
            {
                problems.Add(new(field, $"the id '{id}' is used twice: give every disk, CD-ROM and NIC its own id"));
            }
        }

        void CheckBootIndex(string field, int? bootIndex)
        {
            if (bootIndex is { } index && (index < 0 || !bootIndexes.Add(index)))
            {
                problems.Add(new(field, $"boot index {index} is negative or used twice: give each bootable device its own index from 0"));
            }
        }

        for (var i = 0; i < spec.Disks.Count; i++)
        {
            var disk = spec.Disks[i];
            CheckId($"Disks[{i}].Id", disk.Id);
            if (!IsVolumeId(disk.Path))
            {
                CheckPath($"Disks[{i}].Path", disk.Path, problems, required: true);
            }
            CheckBootIndex($"Disks[{i}].BootIndex", disk.BootIndex);
            if (disk.Bus == VmDiskBus.Sata && disk.ReadOnly)
            {
                problems.Add(new($"Disks[{i}].ReadOnly", "QEMU's SATA disks (ide-hd) cannot be read-only: use VirtioBlk or VirtioScsi, or attach the image as a CD-ROM"));
            }

            if (spec.Machine == VmMachineType.Microvm && disk.Bus != VmDiskBus.VirtioBlk)
            {
                problems.Add(new($"Disks[{i}].Bus", $"microvm has virtio-mmio only: use VirtioBlk, not {disk.Bus}"));
            }
        }

        for (var i = 0; i < spec.Cdroms.Count; i++)
        {
            CheckId($"Cdroms[{i}].Id", spec.Cdroms[i].Id);
            CheckPath($"Cdroms[{i}].IsoPath", spec.Cdroms[i].IsoPath, problems, required: true);
            CheckBootIndex($"Cdroms[{i}].BootIndex", spec.Cdroms[i].BootIndex);
            if (spec.Machine == VmMachineType.Microvm)
            {
                problems.Add(new($"Cdroms[{i}]", "microvm has no CD-ROM bus: attach the image as a read-only raw disk"));
            }
        }

        var macs = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < spec.Nics.Count; i++)
        {
            var nic = spec.Nics[i];
            CheckId($"Nics[{i}].Id", nic.Id);
            if (nic.MacAddress is { } mac)
            {
                if (!MacPattern().IsMatch(mac))
                {
                    problems.Add(new($"Nics[{i}].MacAddress", $"'{mac}' is not a MAC address: write six hex pairs separated by colons, e.g. 52:54:00:12:34:56"));
                }
                else if ((Convert.ToByte(mac[..2], 16) & 1) == 1 || mac == "00:00:00:00:00:00")
                {
                    problems.Add(new($"Nics[{i}].MacAddress", $"'{mac}' is a multicast or zero address: use a unicast one (first octet even), e.g. 52:54:00:...") );
                }
                else if (!macs.Add(mac))
                {
                    problems.Add(new($"Nics[{i}].MacAddress", $"'{mac}' is used twice: give each NIC its own MAC"));
                }
            }

            if (nic.Backend == VmNicBackend.Bridge && nic.Network is null && (nic.Bridge is null || !InterfaceNamePattern().IsMatch(nic.Bridge)))
            {
                problems.Add(new($"Nics[{i}].Bridge", $"'{nic.Bridge}' is not a bridge name: a bridge NIC needs the name of an existing bridge (1–15 characters, no '/' or spaces)"));
            }

            if (nic.Backend == VmNicBackend.User && nic.Bridge is not null)
            {
                problems.Add(new($"Nics[{i}].Bridge", "a bridge is set on a user-mode NIC: set Backend = Bridge or remove Bridge"));
            }

            ValidateManagedNetwork(nic, $"Nics[{i}]", problems);
            if (spec.Machine == VmMachineType.Microvm && nic.Model != VmNicModel.VirtioNet)
            {
                problems.Add(new($"Nics[{i}].Model", "microvm has virtio-mmio only: use VirtioNet"));
            }
        }

        if (spec.Vnc is { UnixSocket: false } vnc)
        {
            if (vnc.Display is < 0 or > 99)
            {
                problems.Add(new("Vnc.Display", $"{vnc.Display} is out of range: use 0 to 99 (port 5900 + N on 127.0.0.1)"));
            }

            if (vnc.WebSocketPort is { } port && port is < 1024 or > 65535)
            {
                problems.Add(new("Vnc.WebSocketPort", $"{port} is out of range: use 1024 to 65535"));
            }
        }
        else if (spec.Vnc is { WebSocketPort: not null })
        {
            problems.Add(new("Vnc.WebSocketPort", "a websocket needs TCP: set Vnc.UnixSocket = false"));
        }
    }

    /// <summary>A NIC on a managed network is a tap the SDK makes (Backend = Bridge) on the bridge the network chooses (no Bridge).</summary>
    private static void ValidateManagedNetwork(VmNic nic, string field, List<VmSpecProblem> problems)
    {
        Virt.Networking.ManagedNicRules.Check(nic.Network, nic.VlanTag, nic.Firewall, (name, message) => problems.Add(new($"{field}.{name}", message)));
        if (nic.Network is not null)
        {
            if (nic.Backend != VmNicBackend.Bridge)
            {
                problems.Add(new($"{field}.Backend", $"NIC '{nic.Id}' is on network '{nic.Network}', which needs a tap: set Backend = Bridge (VmNic.OnNetwork does), or remove Network"));
            }

            if (nic.Bridge is not null)
            {
                problems.Add(new($"{field}.Bridge", $"NIC '{nic.Id}' names both bridge '{nic.Bridge}' and network '{nic.Network}': the network puts the tap on its own bridge; remove Bridge"));
            }
        }

        if (nic.Ipv4Address is { } address)
        {
            if (nic.Network is null)
            {
                problems.Add(new($"{field}.Ipv4Address", "a fixed address is given by a managed network's DHCP: set Network, or remove Ipv4Address"));
            }
            else if (!Virt.Networking.ManagedNicRules.IsDottedIpv4(address))
            {
                problems.Add(new($"{field}.Ipv4Address", $"'{address}' is not an IPv4 address: write it dotted, without a prefix (e.g. 192.0.2.10); the network gives the prefix and gateway"));
            }
        }
    }

    private static void ValidateHostDevices(VmSpec spec, List<VmSpecProblem> problems)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < spec.HostDevices.Count; i++)
        {
            var device = spec.HostDevices[i];
            var field = $"HostDevices[{i}]";
            if (device is null || !Virt.Passthrough.PciAddress.TryParse(device.Address, out var address))
            {
                problems.Add(new(field, $"'{device?.Address}' is not a PCI address: write DDDD:BB:SS.F as lspci -D shows it (e.g. 0000:01:00.0)"));
                continue;
            }

            if (!seen.Add(device.AllFunctions ? address.WithFunction(0).ToString() + "/*" : address.ToString()) || seen.Contains(address.WithFunction(0) + "/*") && !device.AllFunctions)
            {
                problems.Add(new(field, $"{address} is listed twice (or also through AllFunctions of its slot): list each device once"));
            }

            if (spec.Machine == VmMachineType.Microvm)
            {
                problems.Add(new(field, "microvm has no PCI bus for VFIO devices: use q35 or pc"));
            }
            else if (device.RootPort && spec.Machine != VmMachineType.Q35)
            {
                problems.Add(new(field + ".RootPort", "PCIe root ports need the q35 machine: use q35, or set RootPort = false"));
            }

            if (device.RomFile is { } rom && (!Path.IsPathFullyQualified(rom) || rom.Any(character => char.IsControl(character) || character == ',')))
            {
                problems.Add(new(field + ".RomFile", $"'{rom}' must be an absolute path without commas or control characters"));
            }
        }
    }

    private static void ValidateExtraArguments(VmSpec spec, List<VmSpecProblem> problems) =>
        ExtraArgumentPolicy.Validate(spec.ExtraArguments ?? [], problems);

    private static void CheckPath(string field, string? path, List<VmSpecProblem> problems, bool required = false)
    {
        if (path is null)
        {
            if (required)
            {
                problems.Add(new(field, "is required: give an absolute path"));
            }

            return;
        }

        if (!System.IO.Path.IsPathFullyQualified(path) || HasControlCharacters(path))
        {
            problems.Add(new(field, $"'{path}' must be an absolute path without control characters"));
        }
    }

    private static bool HasControlCharacters(string value) => value.Any(char.IsControl);

    /// <summary>A disk's Path may name a storage volume as <c>pool:name</c> instead of a file (resolved at start by <see cref="Virt.Storage.IVolumeResolver"/>).</summary>
    /// <param name="path">The disk's Path.</param>
    /// <returns>Whether it is a volume id.</returns>
    public static bool IsVolumeId(string? path) => path is not null && !path.StartsWith('/') && Virt.Storage.VolumeId.TryParse(path, out _);

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,62}\\z")]
    private static partial Regex VmNamePattern();

    [GeneratedRegex("^[a-z][a-z0-9_-]{0,30}\\z")]
    private static partial Regex DeviceIdPattern();

    [GeneratedRegex("^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}\\z")]
    private static partial Regex MacPattern();

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,14}\\z")]
    private static partial Regex InterfaceNamePattern();

    [GeneratedRegex("^[A-Za-z0-9._-]{1,64}\\z")]
    private static partial Regex CpuModelPattern();
}
