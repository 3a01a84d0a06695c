using System.Globalization;

namespace Virt.Passthrough.Testing;

/// <summary>
/// What Linux does on writes to PCI sysfs attributes (drivers/base/bus.c, drivers/pci/pci-driver.c,
/// pci-sysfs.c, iov.c, vfio/mdev), on the fake host's model; each failure is the errno Linux answers.
/// </summary>
internal sealed class FakeKernel(FakePciHost host)
{
    private static readonly HashSet<string> Attributes = new(StringComparer.Ordinal)
    {
        "driver_override", "bind", "unbind", "new_id", "remove_id", "drivers_probe", "sriov_numvfs",
        "sriov_drivers_autoprobe", "reset", "remove", "create", "current_vgpu_type",
    };

    public bool IsAttribute(string path) => path.StartsWith("/sys/", StringComparison.Ordinal) && Attributes.Contains(path[(path.LastIndexOf('/') + 1)..]);

    public bool TryWrite(string path, string value)
    {
        if (!IsAttribute(path))
        {
            return false;
        }

        Write(path, value);
        return true;
    }

    public void Write(string path, string value)
    {
        var parts = path["/sys/".Length..].Split('/');

        // An unbind of a held device blocks in the kernel until the holder lets go: wait outside the lock.
        if (parts is ["bus", "pci", "drivers", _, "unbind"] && PciAddress.TryParse(Argument(value), out var blocked) && host.BlockedUnbind(blocked) is { } gate)
        {
            gate.Wait();
        }

        lock (host.Gate)
        {
            var ordinal = host.BeginWrite(path, value, out var fault, out var vanish);
            if (vanish is { } gone && host.Devices.TryGetValue(gone, out var vanished))
            {
                host.Remove(vanished);
            }

            try
            {
                if (fault is not null)
                {
                    throw new KernelError(fault.Error);
                }

                Dispatch(parts, value);
            }
            catch (KernelError error)
            {
                host.RecordError(ordinal, error.Errno);
                throw KernelErrors.ToException(error.Errno, path);
            }
        }
    }

    private void Dispatch(string[] parts, string value)
    {
        switch (parts)
        {
            case ["bus", "pci", "drivers_probe"]:
                Probe(Device(Argument(value)));
                break;
            case ["bus", "pci", "drivers", var driver, "bind"]:
                Bind(Driver(driver), Device(Argument(value)));
                break;
            case ["bus", "pci", "drivers", var driver, "unbind"]:
                Unbind(Driver(driver), Device(Argument(value)));
                break;
            case ["bus", "pci", "drivers", var driver, "new_id"]:
                NewId(Driver(driver), value);
                break;
            case ["bus", "pci", "drivers", var driver, "remove_id"]:
                RemoveId(Driver(driver), value);
                break;
            case ["bus", "pci", "devices", var address, "driver_override"]:
                SetOverride(Device(address), value);
                break;
            case ["bus", "pci", "devices", var address, "sriov_numvfs"]:
                SetVfCount(Device(address), value);
                break;
            case ["bus", "pci", "devices", var address, "sriov_drivers_autoprobe"]:
                var pf = Device(address);
                pf.Autoprobe = Argument(value) == "1";
                host.Render(pf);
                break;
            case ["bus", "pci", "devices", var address, "reset"]:
                Reset(Device(address), value);
                break;
            case ["bus", "pci", "devices", var address, "mdev_supported_types", var type, "create"]:
                CreateMdev(Device(address), type, value);
                break;
            case ["bus", "mdev", "devices", var uuid, "remove"]:
                RemoveMdev(uuid);
                break;
            case ["bus", "pci", "devices", var address, "nvidia", "current_vgpu_type"]:
                SetVgpuType(Device(address), value);
                break;
            default:
                throw new KernelError(Errno.EPERM);
        }
    }

    /// <summary>sysfs hands the store function the bytes written; most PCI stores ignore one trailing newline.</summary>
    private static string Argument(string value) => value.EndsWith('\n') ? value[..^1] : value;

    private FakeDevice Device(string address) =>
        PciAddress.TryParse(address, out var parsed) && host.Devices.TryGetValue(parsed, out var device) ? device : throw new KernelError(Errno.ENODEV);

    private FakeDriver Driver(string name) => host.Drivers.TryGetValue(name, out var driver) ? driver : throw new KernelError(Errno.ENODEV);

    /// <summary>pci_match_device: an override admits only the named driver; otherwise the id tables (dynamic ids first).</summary>
    private static bool Matches(FakeDriver driver, FakeDevice device)
    {
        if (device.Override is { } name)
        {
            return name == driver.Name;
        }

        var id = (device.Vendor, device.DeviceId);
        return driver.DynamicIds.Contains(id) || (!driver.OverrideOnly && driver.Ids.Contains(id));
    }

    private void Bind(FakeDriver driver, FakeDevice device)
    {
        if (device.Driver is not null)
        {
            throw new KernelError(Errno.EBUSY);
        }

        if (!Matches(driver, device))
        {
            throw new KernelError(Errno.ENODEV);
        }

        device.Driver = driver.Name;
        host.RenderDriver(device);
    }

    private void Unbind(FakeDriver driver, FakeDevice device)
    {
        if (device.Driver != driver.Name)
        {
            throw new KernelError(Errno.ENODEV);
        }

        device.Driver = null;
        host.RenderDriver(device);
    }

    /// <summary>drivers_probe: binds the first matching driver; finding none is not an error.</summary>
    private void Probe(FakeDevice device)
    {
        if (device.Driver is not null)
        {
            return;
        }

        var driver = host.Drivers.Values.FirstOrDefault(candidate => Matches(candidate, device));
        if (driver is not null)
        {
            device.Driver = driver.Name;
            host.RenderDriver(device);
        }
    }

    private void NewId(FakeDriver driver, string value)
    {
        var id = ParseId(value);
        if (!driver.DynamicIds.Add(id))
        {
            throw new KernelError(Errno.EEXIST);
        }

        foreach (var device in host.Devices.Values.Where(device => device.Driver is null && Matches(driver, device)).ToList())
        {
            device.Driver = driver.Name;
            host.RenderDriver(device);
        }
    }

    private static void RemoveId(FakeDriver driver, string value)
    {
        if (!driver.DynamicIds.Remove(ParseId(value)))
        {
            throw new KernelError(Errno.ENODEV);
        }
    }

    private static (int, int) ParseId(string value)
    {
        var fields = Argument(value).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return fields.Length >= 2 && int.TryParse(fields[0], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var vendor) && int.TryParse(fields[1], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var device)
            ? (vendor, device)
            : throw new KernelError(Errno.EINVAL);
    }

    /// <summary>driver_override: sets the name (newline stripped); an empty write or "\n" clears it. Neither binds nor unbinds.</summary>
    private void SetOverride(FakeDevice device, string value)
    {
        var name = Argument(value);
        if (name.Length >= 4096)
        {
            throw new KernelError(Errno.EINVAL);
        }

        device.Override = name.Length == 0 ? null : name;
        host.RenderDriver(device);
    }

    private void SetVfCount(FakeDevice pf, string value)
    {
        if (pf.SriovTotal is not { } total || !int.TryParse(Argument(value), NumberStyles.None, CultureInfo.InvariantCulture, out var count))
        {
            throw new KernelError(Errno.EINVAL);
        }

        if (count == pf.NumVfs)
        {
            return;
        }

        if (pf.Driver is null)
        {
            // "no driver bound to device; cannot configure SR-IOV"
            throw new KernelError(Errno.ENOENT);
        }

        if (count > total)
        {
            throw new KernelError(Errno.ERANGE);
        }

        if (count != 0 && pf.NumVfs != 0)
        {
            throw new KernelError(Errno.EBUSY);
        }

        var directory = FakePciHost.DeviceDirectory(pf.Address);
        if (count == 0)
        {
            for (var index = 0; index < pf.NumVfs; index++)
            {
                if (host.Devices.TryGetValue(VfAddress(pf, index), out var vf))
                {
                    host.Remove(vf);
                }

                host.Unlink($"{directory}/virtfn{index}");
            }

            pf.NumVfs = 0;
            host.RenderDriver(pf);
            return;
        }

        pf.NumVfs = count;
        host.RenderDriver(pf);
        for (var index = 0; index < count; index++)
        {
            var vf = new FakeDevice(VfAddress(pf, index)) { Vendor = pf.Vendor, DeviceId = pf.VfDeviceId, ClassCode = pf.ClassCode, PhysFn = pf.Address, Group = pf.FirstVfGroup + index };
            host.Devices[vf.Address] = vf;
            host.Render(vf);
            host.Link($"{directory}/virtfn{index}", FakePciHost.DeviceDirectory(vf.Address));
            if (pf.Autoprobe)
            {
                Probe(vf);
            }
        }
    }

    private static PciAddress VfAddress(FakeDevice pf, int index)
    {
        var devfn = (pf.FirstVf.Slot * 8) + pf.FirstVf.Function + index;
        return pf.FirstVf with { Slot = devfn / 8, Function = devfn % 8 };
    }

    private static void Reset(FakeDevice device, string value)
    {
        if (Argument(value) != "1")
        {
            throw new KernelError(Errno.EINVAL);
        }

        if (device.ResetError is { } error)
        {
            throw new KernelError(error);
        }
    }

    private void CreateMdev(FakeDevice parent, string typeId, string value)
    {
        var type = parent.MdevTypes.FirstOrDefault(candidate => candidate.Id == typeId) ?? throw new KernelError(Errno.ENOENT);
        if (!Guid.TryParseExact(Argument(value), "D", out var uuid))
        {
            throw new KernelError(Errno.EINVAL);
        }

        var directory = $"/sys/bus/mdev/devices/{uuid}";
        if (host.Files.Directory.Exists(directory))
        {
            throw new KernelError(Errno.EEXIST);
        }

        if (type.Available == 0)
        {
            throw new KernelError(Errno.EUSERS);
        }

        type.Available--;
        var typeDirectory = $"{FakePciHost.DeviceDirectory(parent.Address)}/mdev_supported_types/{type.Id}";
        host.Files.AddEmptyFile($"{directory}/remove");
        host.Link($"{directory}/mdev_type", typeDirectory);
        host.Link($"{directory}/parent", FakePciHost.DeviceDirectory(parent.Address));
        host.Link($"{typeDirectory}/devices/{uuid}", directory);
        host.Render(parent);
    }

    private void RemoveMdev(string uuid)
    {
        var directory = $"/sys/bus/mdev/devices/{uuid}";
        var typeLink = host.Files.FileInfo.New($"{directory}/mdev_type").LinkTarget ?? throw new KernelError(Errno.ENODEV);
        var parentAddress = PciAddress.Parse(typeLink.Split('/')[5]);
        var parent = host.Devices[parentAddress];
        var type = parent.MdevTypes.First(candidate => typeLink.EndsWith("/" + candidate.Id, StringComparison.Ordinal));
        type.Available++;
        host.Unlink($"{typeLink}/devices/{uuid}");
        host.Files.Directory.Delete(directory, recursive: true);
        host.Render(parent);
    }

    private void SetVgpuType(FakeDevice vf, string value)
    {
        if (vf.VgpuTypes is not { } types || !int.TryParse(Argument(value), NumberStyles.None, CultureInfo.InvariantCulture, out var id))
        {
            throw new KernelError(Errno.EINVAL);
        }

        if (id != 0 && vf.CurrentVgpu != 0)
        {
            throw new KernelError(Errno.EBUSY);
        }

        if (id != 0 && types.All(type => type.Id != id))
        {
            throw new KernelError(Errno.EINVAL);
        }

        vf.CurrentVgpu = id;
        host.Render(vf);
    }

    private sealed class KernelError(Errno errno) : Exception(errno.ToString())
    {
        public Errno Errno { get; } = errno;
    }
}
