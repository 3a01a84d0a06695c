using System.Globalization;
using System.IO.Abstractions;
using System.IO.Abstractions.TestingHelpers;
using Virt.Passthrough.Hosting;

namespace Virt.Passthrough.Testing;

/// <summary>The driver and override of one device, for comparing a host before and after.</summary>
/// <param name="Address">The device.</param>
/// <param name="Driver">Its driver, or null.</param>
/// <param name="Override">Its driver_override, or null.</param>
public sealed record FakeDeviceState(string Address, string? Driver, string? Override);

/// <summary>
/// A fake Linux host for passthrough tests: a sysfs, procfs and /dev tree built from a fluent
/// description, served through <see cref="FileSystem"/>, that reacts to writes the way Linux does —
/// bind, unbind, driver_override, drivers_probe, new_id/remove_id, sriov_numvfs, mdev create/remove,
/// NVIDIA current_vgpu_type — and answers injected errors at any write.
/// </summary>
/// <example>
/// <code>
/// var host = new FakePciHost()
///     .WithDevice("0000:01:00.0", d => d.Ids(0x10de, 0x2684).Class(0x030000).Driver("nvidia").Group(1))
///     .WithDevice("0000:01:00.1", d => d.Ids(0x10de, 0x22ba).Class(0x040300).Driver("snd_hda_intel").Group(1));
/// host.FailWrite(3, Errno.EBUSY);
/// </code>
/// </example>
public sealed class FakePciHost
{
    private readonly MockFileSystem _files = new();
    private readonly List<FakeWrite> _writes = [];
    private readonly List<FakeFault> _faults = [];
    private readonly Dictionary<PciAddress, ManualResetEventSlim> _blockedUnbinds = [];
    private readonly Dictionary<int, PciAddress> _vanishAt = [];
    private int _nextPid = 4000;

    /// <summary>Creates a host.</summary>
    /// <param name="iommu">Whether an (Intel) IOMMU is on: DMAR table, dmar0 unit, groups.</param>
    /// <param name="interruptRemapping">Whether the IOMMU remaps interrupts.</param>
    /// <param name="vfio">Whether the vfio modules are loaded (vfio-pci registered, /dev/vfio/vfio present).</param>
    public FakePciHost(bool iommu = true, bool interruptRemapping = true, bool vfio = true)
    {
        Iommu = iommu;
        Kernel = new FakeKernel(this);
        FileSystem = new KernelFileSystem(this, _files);
        Options = new PassthroughOptions { SysfsRoot = "/sys", ProcRoot = "/proc", DevRoot = "/dev", StateDirectory = "/var/lib/virt/passthrough", PciIdsPath = "/usr/share/misc/pci.ids", WriteTimeout = TimeSpan.FromSeconds(2), ProbeTimeout = TimeSpan.FromSeconds(1) };
        foreach (var directory in new[] { "/sys/bus/pci/devices", "/sys/bus/pci/drivers", "/sys/bus/mdev/devices", "/sys/class/iommu", "/sys/kernel/iommu_groups", "/sys/dev/block", "/proc/net", "/dev", "/var/lib/virt" })
        {
            _files.AddDirectory(directory);
        }

        _files.AddEmptyFile("/sys/bus/pci/drivers_probe");
        _files.AddFile("/dev/kvm", new MockFileData(string.Empty));
        _files.AddFile("/proc/cpuinfo", new MockFileData("processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu vme de pse msr vmx ept\n"));
        _files.AddFile("/proc/cmdline", new MockFileData(iommu ? "BOOT_IMAGE=/vmlinuz root=/dev/nvme0n1p1 intel_iommu=on iommu=pt\n" : "BOOT_IMAGE=/vmlinuz root=/dev/nvme0n1p1\n"));
        _files.AddFile("/proc/self/mountinfo", new MockFileData("1 0 0:1 / / rw - rootfs rootfs rw\n"));
        _files.AddFile("/proc/swaps", new MockFileData("Filename\tType\tSize\tUsed\tPriority\n"));
        _files.AddFile("/proc/net/route", new MockFileData("Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"));
        _files.AddFile("/proc/net/if_inet6", new MockFileData(string.Empty));
        _files.AddFile("/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages", new MockFileData("0\n"));
        _files.AddFile("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", new MockFileData("0\n"));
        if (iommu)
        {
            _files.AddFile("/sys/firmware/acpi/tables/DMAR", new MockFileData(string.Empty));

            // VT-d extended capabilities; bit 3 is interrupt remapping.
            _files.AddFile("/sys/class/iommu/dmar0/intel-iommu/ecap", new MockFileData(interruptRemapping ? "f020df\n" : "f020d7\n"));
        }

        if (vfio)
        {
            foreach (var module in new[] { "vfio", "vfio_pci", "vfio_iommu_type1" })
            {
                _files.AddDirectory("/sys/module/" + module);
            }

            _files.AddFile("/sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts", new MockFileData("N\n"));
            _files.AddFile("/dev/vfio/vfio", new MockFileData(string.Empty));
            WithDriver("vfio-pci", overrideOnly: true);
        }
    }

    /// <summary>The tree, reacting to writes like Linux. Give it to the code under test.</summary>
    public IFileSystem FileSystem { get; }

    /// <summary>The tree without the kernel: for checking files directly.</summary>
    public MockFileSystem Files => _files;

    /// <summary>Options that point a passthrough manager at this host.</summary>
    public PassthroughOptions Options { get; }

    /// <summary>Every write received so far, in order.</summary>
    public IReadOnlyList<FakeWrite> Writes
    {
        get
        {
            lock (Gate)
            {
                return [.. _writes];
            }
        }
    }

    /// <summary>How many writes were received so far: the ordinal the next one gets.</summary>
    public int WriteCount
    {
        get
        {
            lock (Gate)
            {
                return _writes.Count;
            }
        }
    }

    internal bool Iommu { get; }

    internal object Gate { get; } = new();

    internal FakeKernel Kernel { get; }

    internal Dictionary<PciAddress, FakeDevice> Devices { get; } = [];

    internal Dictionary<string, FakeDriver> Drivers { get; } = new(StringComparer.Ordinal);

    /// <summary>Registers a PCI driver.</summary>
    /// <param name="name">Its name.</param>
    /// <param name="overrideOnly">Whether it binds only through driver_override or new_id (vfio-pci and variants such as mlx5_vfio_pci).</param>
    /// <param name="ids">Vendor and device ids it claims by itself.</param>
    /// <returns>This host.</returns>
    public FakePciHost WithDriver(string name, bool overrideOnly = false, params (int Vendor, int Device)[] ids)
    {
        lock (Gate)
        {
            if (!Drivers.TryGetValue(name, out var driver))
            {
                Drivers[name] = driver = new FakeDriver(name, overrideOnly);
                foreach (var file in new[] { "bind", "unbind", "new_id", "remove_id" })
                {
                    _files.AddEmptyFile($"/sys/bus/pci/drivers/{name}/{file}");
                }
            }

            driver.Ids.UnionWith(ids);
            return this;
        }
    }

    /// <summary>Adds a PCI function.</summary>
    /// <param name="address">Its address.</param>
    /// <param name="describe">Its ids, class, driver, group...</param>
    /// <returns>This host.</returns>
    public FakePciHost WithDevice(string address, Action<FakeDeviceBuilder> describe)
    {
        ArgumentNullException.ThrowIfNull(describe);
        var device = new FakeDevice(PciAddress.Parse(address));
        describe(new FakeDeviceBuilder(device));
        lock (Gate)
        {
            if (device.Driver is { } driver)
            {
                WithDriver(driver, overrideOnly: driver.Contains("vfio", StringComparison.Ordinal), (device.Vendor, device.DeviceId));
            }

            Devices[device.Address] = device;
            Render(device);
        }

        return this;
    }

    /// <summary>The host's root file system is on a disk behind this controller (<c>/proc/self/mountinfo</c>, <c>/sys/dev/block</c>).</summary>
    /// <param name="controller">The disk's controller (an NVMe function, a SATA controller).</param>
    /// <returns>This host.</returns>
    public FakePciHost WithRootDiskOn(string controller)
    {
        var address = PciAddress.Parse(controller);
        _files.Directory.CreateSymbolicLink("/sys/dev/block/259:1", $"/sys/devices/pci0000:00/0000:00:1d.0/{address}/nvme/nvme0/nvme0n1/nvme0n1p1");
        _files.AddFile("/proc/self/mountinfo", new MockFileData("1 0 0:1 / / rw - rootfs rootfs rw\n22 1 259:1 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p1 rw\n"));
        return this;
    }

    /// <summary>A process holds a device node open (<c>/proc/PID/fd</c>).</summary>
    /// <param name="command">The process's name.</param>
    /// <param name="devicePath">The node, e.g. <c>/dev/nvidia0</c>, <c>/dev/dri/card1</c>, <c>/dev/vfio/12</c>.</param>
    /// <returns>The fake process id.</returns>
    public int OpenHandle(string command, string devicePath)
    {
        var pid = Interlocked.Increment(ref _nextPid);
        _files.AddFile($"/proc/{pid}/comm", new MockFileData(command + "\n"));
        _files.Directory.CreateSymbolicLink($"/proc/{pid}/fd/3", devicePath);
        return pid;
    }

    /// <summary>Ends a fake process: its handles close.</summary>
    /// <param name="pid">The process id from <see cref="OpenHandle"/>.</param>
    public void CloseHandles(int pid)
    {
        _files.RemoveFile($"/proc/{pid}/fd/3");
        _files.RemoveFile($"/proc/{pid}/comm");
        _files.Directory.Delete($"/proc/{pid}", recursive: true);
    }

    /// <summary>The write with this ordinal (see <see cref="WriteCount"/>) fails with <paramref name="error"/>, once.</summary>
    /// <param name="ordinal">The write's ordinal.</param>
    /// <param name="error">The error.</param>
    public void FailWrite(int ordinal, Errno error)
    {
        lock (Gate)
        {
            _faults.Add(new FakeFault((number, _) => number == ordinal, error, Once: true));
        }
    }

    /// <summary>Writes to files whose path ends with <paramref name="pathEnding"/> fail with <paramref name="error"/>.</summary>
    /// <param name="pathEnding">The end of the path, e.g. <c>0000:01:00.1/driver_override</c> or <c>drivers/nvidia/bind</c>.</param>
    /// <param name="error">The error.</param>
    /// <param name="once">Whether only the next such write fails.</param>
    public void FailWrites(string pathEnding, Errno error, bool once = false)
    {
        lock (Gate)
        {
            _faults.Add(new FakeFault((_, path) => path.EndsWith(pathEnding, StringComparison.Ordinal), error, once));
        }
    }

    /// <summary>Removes every injected fault.</summary>
    public void ClearFaults()
    {
        lock (Gate)
        {
            _faults.Clear();
        }
    }

    /// <summary>Unbinding this device blocks (as when a process holds it) until <see cref="UnblockUnbinds"/>.</summary>
    /// <param name="address">The device.</param>
    public void BlockUnbind(string address)
    {
        lock (Gate)
        {
            _blockedUnbinds[PciAddress.Parse(address)] = new ManualResetEventSlim(false);
        }
    }

    /// <summary>Lets every blocked unbind finish.</summary>
    public void UnblockUnbinds()
    {
        lock (Gate)
        {
            foreach (var gate in _blockedUnbinds.Values)
            {
                gate.Set();
            }

            _blockedUnbinds.Clear();
        }
    }

    /// <summary>The device disappears (surprise removal, a PF that dropped its VFs) just before the write with this ordinal.</summary>
    /// <param name="ordinal">The write's ordinal.</param>
    /// <param name="address">The device.</param>
    public void VanishAtWrite(int ordinal, string address)
    {
        lock (Gate)
        {
            _vanishAt[ordinal] = PciAddress.Parse(address);
        }
    }

    /// <summary>Every device's driver and override, by address: compare before and after.</summary>
    /// <returns>The states.</returns>
    public IReadOnlyList<FakeDeviceState> Snapshot()
    {
        lock (Gate)
        {
            return Devices.Values.OrderBy(device => device.Address.ToString(), StringComparer.Ordinal).Select(device => new FakeDeviceState(device.Address.ToString(), device.Driver, device.Override)).ToList();
        }
    }

    internal int BeginWrite(string path, string value, out FakeFault? fault, out PciAddress? vanish)
    {
        var ordinal = _writes.Count;
        fault = _faults.FirstOrDefault(candidate => candidate.Match(ordinal, path));
        if (fault is { Once: true })
        {
            _faults.Remove(fault);
        }

        vanish = _vanishAt.Remove(ordinal, out var address) ? address : null;
        _writes.Add(new FakeWrite(ordinal, path, value, fault?.Error));
        return ordinal;
    }

    internal void RecordError(int ordinal, Errno error) => _writes[ordinal] = _writes[ordinal] with { Error = error };

    internal ManualResetEventSlim? BlockedUnbind(PciAddress address)
    {
        lock (Gate)
        {
            return _blockedUnbinds.GetValueOrDefault(address);
        }
    }

    internal static string DeviceDirectory(PciAddress address) => $"/sys/bus/pci/devices/{address}";

    /// <summary>Writes a device's files and links from the model.</summary>
    internal void Render(FakeDevice device)
    {
        var directory = DeviceDirectory(device.Address);
        string Hex(int value, int digits) => "0x" + value.ToString("x" + digits.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture) + "\n";
        _files.AddFile($"{directory}/vendor", new MockFileData(Hex(device.Vendor, 4)));
        _files.AddFile($"{directory}/device", new MockFileData(Hex(device.DeviceId, 4)));
        _files.AddFile($"{directory}/subsystem_vendor", new MockFileData(Hex(device.SubsystemVendor, 4)));
        _files.AddFile($"{directory}/subsystem_device", new MockFileData(Hex(device.SubsystemDevice, 4)));
        _files.AddFile($"{directory}/class", new MockFileData(Hex(device.ClassCode, 6)));
        _files.AddFile($"{directory}/revision", new MockFileData(Hex(device.Revision, 2)));
        _files.AddFile($"{directory}/numa_node", new MockFileData((device.Numa ?? -1).ToString(CultureInfo.InvariantCulture) + "\n"));
        if (device.ClassCode >> 8 == 0x0300)
        {
            _files.AddFile($"{directory}/boot_vga", new MockFileData(device.BootVga ? "1\n" : "0\n"));
        }

        if (device.ResetMethods.Length > 0)
        {
            _files.AddFile($"{directory}/reset_method", new MockFileData(string.Join(' ', device.ResetMethods) + "\n"));
            _files.AddEmptyFile($"{directory}/reset");
        }

        if (device.IsBridge)
        {
            _files.AddDirectory($"{directory}/pci_bus");
        }

        if (device.NetInterface is { } iface)
        {
            _files.AddDirectory($"{directory}/net/{iface}");
            Link($"/sys/class/net/{iface}", $"/sys/devices/pci0000:00/{device.Address}/net/{iface}");
            if (device.NetRouted)
            {
                _files.File.AppendAllText("/proc/net/route", $"{iface}\t0000A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n");
            }
        }

        if (device.DrmCard is { } card)
        {
            _files.AddDirectory($"{directory}/drm/{card}");
        }

        if (device.NvidiaMinor is { } minor)
        {
            _files.AddFile($"/proc/driver/nvidia/gpus/{device.Address}/information", new MockFileData($"Model: \t\t NVIDIA\nIRQ:   \t\t 42\nDevice Minor: \t {minor}\nBus Location: \t {device.Address}\n"));
        }

        if (device.SriovTotal is { } total)
        {
            _files.AddFile($"{directory}/sriov_totalvfs", new MockFileData(total.ToString(CultureInfo.InvariantCulture) + "\n"));
            _files.AddFile($"{directory}/sriov_drivers_autoprobe", new MockFileData(device.Autoprobe ? "1\n" : "0\n"));
        }

        foreach (var type in device.MdevTypes)
        {
            var typeDirectory = $"{directory}/mdev_supported_types/{type.Id}";
            _files.AddFile($"{typeDirectory}/name", new MockFileData(type.Name + "\n"));
            _files.AddFile($"{typeDirectory}/device_api", new MockFileData(type.DeviceApi + "\n"));
            _files.AddFile($"{typeDirectory}/available_instances", new MockFileData(type.Available.ToString(CultureInfo.InvariantCulture) + "\n"));
            _files.AddEmptyFile($"{typeDirectory}/create");
            _files.AddDirectory($"{typeDirectory}/devices");
            if (type.Description is { } description)
            {
                _files.AddFile($"{typeDirectory}/description", new MockFileData(description + "\n"));
            }
        }

        if (device.VgpuTypes is { } vgpuTypes)
        {
            _files.AddFile($"{directory}/nvidia/creatable_vgpu_types", new MockFileData("ID    : vGPU Name\n" + string.Concat(vgpuTypes.Select(type => $"{type.Id,-6}: {type.Name}\n"))));
            _files.AddFile($"{directory}/nvidia/current_vgpu_type", new MockFileData(device.CurrentVgpu.ToString(CultureInfo.InvariantCulture) + "\n"));
        }

        if (device.PhysFn is { } physfn)
        {
            Link($"{directory}/physfn", DeviceDirectory(physfn));
        }

        if (Iommu && device.Group is { } group)
        {
            _files.AddFile($"/sys/kernel/iommu_groups/{group}/type", new MockFileData("DMA\n"));
            Link($"/sys/kernel/iommu_groups/{group}/devices/{device.Address}", directory);
            Link($"{directory}/iommu_group", $"/sys/kernel/iommu_groups/{group}");
        }

        RenderDriver(device);
    }

    /// <summary>Rewrites the parts that a bind, unbind or override change: override file, driver links, /dev/vfio.</summary>
    internal void RenderDriver(FakeDevice device)
    {
        var directory = DeviceDirectory(device.Address);
        _files.AddFile($"{directory}/driver_override", new MockFileData((device.Override ?? "(null)") + "\n"));
        var ids = string.Create(CultureInfo.InvariantCulture, $"PCI_CLASS={device.ClassCode:X}\nPCI_ID={device.Vendor:X4}:{device.DeviceId:X4}\nPCI_SUBSYS_ID={device.SubsystemVendor:X4}:{device.SubsystemDevice:X4}\nPCI_SLOT_NAME={device.Address}\n");
        _files.AddFile($"{directory}/uevent", new MockFileData((device.Driver is { } bound ? $"DRIVER={bound}\n" : string.Empty) + ids));
        Unlink($"{directory}/driver");
        foreach (var driver in Drivers.Keys)
        {
            Unlink($"/sys/bus/pci/drivers/{driver}/{device.Address}");
        }

        if (device.Driver is { } name)
        {
            Link($"{directory}/driver", $"/sys/bus/pci/drivers/{name}");
            Link($"/sys/bus/pci/drivers/{name}/{device.Address}", directory);
        }

        if (device.SriovTotal is not null)
        {
            _files.AddFile($"{directory}/sriov_numvfs", new MockFileData(device.NumVfs.ToString(CultureInfo.InvariantCulture) + "\n"));
        }

        RenderVfioGroups();
    }

    /// <summary>/dev/vfio/N exists while some member of group N is on a VFIO driver.</summary>
    internal void RenderVfioGroups()
    {
        if (!Iommu)
        {
            return;
        }

        foreach (var group in Devices.Values.Where(device => device.Group is not null).GroupBy(device => device.Group!.Value))
        {
            var node = $"/dev/vfio/{group.Key}";
            var onVfio = group.Any(device => device.Driver is { } driver && driver.Contains("vfio", StringComparison.Ordinal));
            if (onVfio && !_files.FileExists(node))
            {
                _files.AddFile(node, new MockFileData(string.Empty));
            }
            else if (!onVfio && _files.FileExists(node))
            {
                _files.RemoveFile(node);
            }
        }
    }

    /// <summary>Removes a device entirely, as a surprise removal does.</summary>
    internal void Remove(FakeDevice device)
    {
        Devices.Remove(device.Address);
        foreach (var driver in Drivers.Keys)
        {
            Unlink($"/sys/bus/pci/drivers/{driver}/{device.Address}");
        }

        if (device.Group is { } group)
        {
            Unlink($"/sys/kernel/iommu_groups/{group}/devices/{device.Address}");
            if (!Devices.Values.Any(other => other.Group == group))
            {
                _files.Directory.Delete($"/sys/kernel/iommu_groups/{group}", recursive: true);
            }
        }

        var directory = DeviceDirectory(device.Address);
        foreach (var path in _files.AllPaths.Where(path => path.StartsWith(directory + "/", StringComparison.Ordinal) || path == directory).OrderByDescending(path => path.Length).ToList())
        {
            _files.RemoveFile(path);
        }

        RenderVfioGroups();
    }

    internal void Link(string path, string target)
    {
        Unlink(path);
        _files.Directory.CreateDirectory(_files.Path.GetDirectoryName(path)!);
        _files.Directory.CreateSymbolicLink(path, target);
    }

    internal void Unlink(string path)
    {
        if (_files.GetFile(path) is not null)
        {
            _files.RemoveFile(path);
        }
    }
}
