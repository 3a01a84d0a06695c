namespace Virt.Passthrough;

/// <summary>A passthrough operation failed or was refused; the message names the device, what was tried, what the host said and the fix.</summary>
public class PassthroughException : VirtException
{
    /// <summary>Creates the exception.</summary>
    public PassthroughException()
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What was tried, what the host said, the fix.</param>
    public PassthroughException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What was tried, what the host said, the fix.</param>
    /// <param name="innerException">The cause.</param>
    public PassthroughException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception of a given kind.</summary>
    /// <param name="errorKind">What kind of failure it is.</param>
    /// <param name="message">What was tried, what the host said, the fix.</param>
    public PassthroughException(VirtErrorKind errorKind, string message)
        : base(errorKind, message)
    {
    }

    /// <summary>Creates the exception of a given kind.</summary>
    /// <param name="errorKind">What kind of failure it is.</param>
    /// <param name="message">What was tried, what the host said, the fix.</param>
    /// <param name="innerException">The cause.</param>
    public PassthroughException(VirtErrorKind errorKind, string message, Exception? innerException)
        : base(errorKind, message, innerException)
    {
    }
}

/// <summary>No PCI function has that address on this host.</summary>
public sealed class PciDeviceNotFoundException : PassthroughException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="address">The address looked up.</param>
    public PciDeviceNotFoundException(PciAddress address)
        : base(VirtErrorKind.NotFound, $"PCI device {address} does not exist on this host: list the devices (lspci -D) and check the address")
    {
        Address = address;
    }

    /// <summary>The address looked up.</summary>
    public PciAddress Address { get; }
}

/// <summary>
/// The device is in no IOMMU group, so it cannot be given to VFIO: either the host has no IOMMU groups at all
/// (IOMMU off or absent, <see cref="HostGroupCount"/> is 0), or the IOMMU is on and the kernel left this device
/// out (the AMD IOMMU's own PCI function, or a host bridge on some boards).
/// </summary>
public sealed class IommuUnavailableException : PassthroughException
{
    /// <summary>Creates the exception for a host with no IOMMU groups at all.</summary>
    /// <param name="device">The device that was to be passed through.</param>
    public IommuUnavailableException(PciAddress device)
        : this(device, hostGroupCount: 0)
    {
    }

    /// <summary>Creates the exception, saying whether the whole host or only this device lacks IOMMU groups.</summary>
    /// <param name="device">The device that was to be passed through.</param>
    /// <param name="hostGroupCount">How many IOMMU groups the host has (0: the IOMMU is off or absent).</param>
    public IommuUnavailableException(PciAddress device, int hostGroupCount)
        : base(VirtErrorKind.Refused, hostGroupCount == 0
            ? $"cannot pass {device} through: the host has no IOMMU groups (/sys/kernel/iommu_groups is empty), so the IOMMU is off or absent: enable VT-d/AMD-Vi in the firmware and add intel_iommu=on to the kernel command line (see the readiness report)"
            : $"cannot pass {device} through: it is in no IOMMU group (/sys/bus/pci/devices/{device}/iommu_group does not exist), although the IOMMU is on and the host has {hostGroupCount} {(hostGroupCount == 1 ? "group" : "groups")}: the kernel leaves out the IOMMU's own PCI function and, on some boards, host bridges; such a device cannot be given to a VM: pass another device")
    {
        Device = device;
        HostGroupCount = hostGroupCount;
    }

    /// <summary>The device that was to be passed through.</summary>
    public PciAddress Device { get; }

    /// <summary>How many IOMMU groups the host has: 0 when the IOMMU is off or absent, more when only this device has none.</summary>
    public int HostGroupCount { get; }
}

/// <summary>The VFIO driver (vfio-pci or the requested variant) is not registered with the PCI bus.</summary>
public sealed class VfioUnavailableException : PassthroughException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="device">The device that was to be bound.</param>
    /// <param name="driver">The driver asked for.</param>
    public VfioUnavailableException(PciAddress device, string driver)
        : base(VirtErrorKind.Refused, $"cannot bind {device} to {driver}: the driver is not registered (/sys/bus/pci/drivers/{driver} does not exist): modprobe {driver.Replace('-', '_')} and retry")
    {
        Device = device;
        Driver = driver;
    }

    /// <summary>The device that was to be bound.</summary>
    public PciAddress Device { get; }

    /// <summary>The driver asked for.</summary>
    public string Driver { get; }
}

/// <summary>A plan has blockers (group members not planned, host-critical devices) and was not applied; nothing was written.</summary>
public sealed class PassthroughBlockedException : PassthroughException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="plan">The refused plan.</param>
    public PassthroughBlockedException(PassthroughPlan plan)
        : base(VirtErrorKind.Refused, $"passthrough for '{plan?.Owner}' is blocked, nothing was changed: " + string.Join("; ", plan?.Blockers.Select(blocker => $"{blocker.Device} [{blocker.Code}] {blocker.Reason} — {blocker.Fix}") ?? []))
    {
        Plan = plan ?? throw new ArgumentNullException(nameof(plan));
    }

    /// <summary>The refused plan, with its blockers.</summary>
    public PassthroughPlan Plan { get; }
}

/// <summary>
/// A sysfs write failed (the kernel answered an error) or did not take effect. When thrown by apply, the
/// host was rolled back; <see cref="HostRestored"/> says whether that rollback completed.
/// </summary>
public sealed class PassthroughWriteException : PassthroughException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What was written where, what the kernel said, what was done about it, the fix.</param>
    /// <param name="device">The device being changed.</param>
    /// <param name="path">The sysfs file.</param>
    /// <param name="errorName">The kernel's error (EBUSY, ENODEV...), or null when the write succeeded but had no effect.</param>
    /// <param name="hostRestored">Whether every device is back as it was.</param>
    /// <param name="innerException">The cause.</param>
    public PassthroughWriteException(string message, PciAddress device, string path, string? errorName, bool hostRestored, Exception? innerException)
        : base(VirtErrorKind.Failed, message, innerException)
    {
        Device = device;
        Path = path;
        ErrorName = errorName;
        HostRestored = hostRestored;
    }

    /// <summary>The device being changed.</summary>
    public PciAddress Device { get; }

    /// <summary>The sysfs file.</summary>
    public string Path { get; }

    /// <summary>The kernel's error name, or null when the write succeeded but had no effect.</summary>
    public string? ErrorName { get; }

    /// <summary>Whether every device is back on its original driver with its original override.</summary>
    public bool HostRestored { get; }
}

/// <summary>A sysfs write or a driver change did not finish within its deadline (an unbind blocks while the device is held).</summary>
public sealed class PassthroughTimeoutException : TimeoutException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What was waited for, for how long, the fix.</param>
    /// <param name="device">The device.</param>
    public PassthroughTimeoutException(string message, PciAddress device)
        : base(message)
    {
        Device = device;
    }

    /// <summary>The device.</summary>
    public PciAddress Device { get; }
}

/// <summary>A release was refused because a process still holds the device's VFIO group; nothing was changed.</summary>
public sealed class PassthroughDeviceBusyException : PassthroughException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="owner">The binding's owner.</param>
    /// <param name="groupPath">The held group file.</param>
    /// <param name="holders">The processes holding it ("pid (name)").</param>
    public PassthroughDeviceBusyException(string owner, string groupPath, IReadOnlyList<string> holders)
        : base(VirtErrorKind.Conflict, $"cannot release the devices of '{owner}': {groupPath} is held by {string.Join(", ", holders ?? [])}: stop the VM (or the process) first")
    {
        Owner = owner;
        GroupPath = groupPath;
        Holders = holders ?? [];
    }

    /// <summary>The binding's owner.</summary>
    public string Owner { get; }

    /// <summary>The held group file.</summary>
    public string GroupPath { get; }

    /// <summary>The processes holding it.</summary>
    public IReadOnlyList<string> Holders { get; }
}
