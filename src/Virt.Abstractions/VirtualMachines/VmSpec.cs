namespace Virt.VirtualMachines;

/// <summary>
/// A virtual machine, described in full. Immutable: use <c>with</c> to derive a changed copy.
/// Call <see cref="VmSpecValidator.Validate"/> (the managers do) before using it.
/// </summary>
/// <param name="Name">The VM's name: 1–63 characters of <c>a-z A-Z 0-9 . _ -</c>, starting with a letter or digit. It names the state directory and sockets.</param>
public sealed record VmSpec(string Name)
{
    /// <summary>The machine type. Default <see cref="VmMachineType.Q35"/>.</summary>
    public VmMachineType Machine { get; init; } = VmMachineType.Q35;

    /// <summary>How guest code runs. Default <see cref="VmAccelerator.Auto"/>: KVM where it really works, TCG otherwise.</summary>
    public VmAccelerator Accelerator { get; init; } = VmAccelerator.Auto;

    /// <summary>The vCPUs.</summary>
    public VmCpu Cpu { get; init; } = new();

    /// <summary>The memory.</summary>
    public VmMemory Memory { get; init; } = new();

    /// <summary>The firmware or direct kernel boot.</summary>
    public VmFirmware Firmware { get; init; } = new();

    /// <summary>Disks, in order.</summary>
    public IReadOnlyList<VmDisk> Disks { get; init; } = [];

    /// <summary>CD-ROM drives with an ISO image.</summary>
    public IReadOnlyList<VmCdrom> Cdroms { get; init; } = [];

    /// <summary>Network interfaces.</summary>
    public IReadOnlyList<VmNic> Nics { get; init; } = [];

    /// <summary>Host PCI devices passed through with VFIO (bound before start, given back after stop).</summary>
    public IReadOnlyList<VmHostDevice> HostDevices { get; init; } = [];

    /// <summary>The serial console: logged to a file and reachable on a socket. Default on.</summary>
    public bool SerialConsole { get; init; } = true;

    /// <summary>A VNC display, or <see langword="null"/> for none.</summary>
    public VmVnc? Vnc { get; init; }

    /// <summary>A virtio RNG fed from the host's <c>/dev/urandom</c>. Default on.</summary>
    public bool Rng { get; init; } = true;

    /// <summary>A virtio balloon device. Default off.</summary>
    public bool Balloon { get; init; }

    /// <summary>The virtio-serial channel for qemu-ga. Default on.</summary>
    public bool GuestAgent { get; init; } = true;

    /// <summary>A pvpanic device, so a guest kernel panic is reported as a crash. Default on.</summary>
    public bool PanicDevice { get; init; } = true;

    /// <summary>
    /// Free PCIe root ports reserved for hotplugging disks and NICs on q35 (one device each). Default 4;
    /// 0 for none. Ignored on pc and microvm.
    /// </summary>
    public int HotplugPorts { get; init; } = 4;

    /// <summary>
    /// First-boot configuration for cloud-init; the SDK writes a NoCloud seed ISO (label <c>cidata</c>)
    /// into the VM's state directory at each start and attaches it as a CD-ROM. Null for none.
    /// </summary>
    public CloudInitSpec? CloudInit { get; init; }

    /// <summary>
    /// A TPM 2.0 (tpm-crb) backed by swtpm, which the SDK starts before QEMU and which ends with it;
    /// its state persists in the VM's directory. Default false.
    /// </summary>
    public bool Tpm { get; init; }

    /// <summary>
    /// Extra QEMU arguments, appended as they are: an option, then its value. They are an allowlist,
    /// each value checked, so that nothing added reaches a host file, a host socket, the monitor or the
    /// SDK's own devices: <c>-device</c> with devices that need no host resource (root ports, USB
    /// controllers and input devices, watchdogs, intel-iommu, display adapters, edu; placement
    /// properties only), <c>-global</c> (kvm-pit tick policy, S3/S4 switches), <c>-rtc</c>,
    /// <c>-boot</c> (without splash), <c>-smbios</c> (without file/path), <c>-fw_cfg
    /// name=opt/...,string=...</c>, <c>-uuid</c>, <c>-watchdog-action</c> and <c>-no-reboot</c>.
    /// Anything else is refused with the typed field to use instead.
    /// </summary>
    public IReadOnlyList<string> ExtraArguments { get; init; } = [];
}

/// <summary>QEMU machine types the SDK supports.</summary>
public enum VmMachineType
{
    /// <summary>Modern PCIe chipset (default).</summary>
    Q35,

    /// <summary>The i440FX PC.</summary>
    Pc,

    /// <summary>A minimal machine with virtio-mmio devices only, for fast-booting direct-kernel guests.</summary>
    Microvm,
}

/// <summary>How guest code runs.</summary>
public enum VmAccelerator
{
    /// <summary>KVM where it really works on this host, TCG otherwise.</summary>
    Auto,

    /// <summary>KVM, or fail.</summary>
    Kvm,

    /// <summary>QEMU's emulator.</summary>
    Tcg,
}

/// <summary>vCPU model and topology.</summary>
public sealed record VmCpu
{
    /// <summary>The CPU model (e.g. "host", "max", "qemu64"); <see langword="null"/> picks "host" under KVM and QEMU's default under TCG.</summary>
    public string? Model { get; init; }

    /// <summary>Sockets. Default 1.</summary>
    public int Sockets { get; init; } = 1;

    /// <summary>Cores per socket. Default 1.</summary>
    public int Cores { get; init; } = 1;

    /// <summary>Threads per core. Default 1.</summary>
    public int Threads { get; init; } = 1;

    /// <summary>The vCPU count at boot: sockets × cores × threads.</summary>
    public int Count => Sockets * Cores * Threads;

    /// <summary>
    /// The most vCPUs hotplug may reach (a multiple of cores × threads: whole sockets are added);
    /// <see langword="null"/> for no vCPU hotplug.
    /// </summary>
    public int? MaxCount { get; init; }
}

/// <summary>Memory size, and a maximum for hotplug later.</summary>
public sealed record VmMemory
{
    /// <summary>Boot memory in MiB. Default 256.</summary>
    public int SizeMiB { get; init; } = 256;

    /// <summary>The most memory hotplug may reach, in MiB; <see langword="null"/> for no hotplug.</summary>
    public int? MaxSizeMiB { get; init; }

    /// <summary>DIMM slots for hotplug (used with <see cref="MaxSizeMiB"/>). Default 4.</summary>
    public int HotplugSlots { get; init; } = 4;
}
