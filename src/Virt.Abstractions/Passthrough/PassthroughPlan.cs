namespace Virt.Passthrough;

/// <summary>Why a device is part of a plan.</summary>
public enum PlannedDeviceRole
{
    /// <summary>It was asked for.</summary>
    Target,

    /// <summary>Another function of a requested slot (a GPU's audio function).</summary>
    SiblingFunction,

    /// <summary>A member of a requested device's IOMMU group, included by <see cref="PassthroughPlanOptions.IncludeGroupMembers"/>.</summary>
    GroupMember,
}

/// <summary>What to plan.</summary>
public sealed class PassthroughPlanOptions
{
    /// <summary>Who will own the binding (e.g. <c>vm:web-1</c>): letters, digits, '.', '_', ':' and '-'. Release goes by this name.</summary>
    public required string Owner { get; init; }

    /// <summary>The driver to bind to: <c>vfio-pci</c> or a variant (<c>mlx5_vfio_pci</c>...). Default vfio-pci.</summary>
    public string Driver { get; init; } = "vfio-pci";

    /// <summary>Take every function of each requested slot (a GPU and its audio). Default true.</summary>
    public bool AllFunctions { get; init; } = true;

    /// <summary>Bind the other endpoint devices of the groups too, instead of reporting them as blockers. Default false.</summary>
    public bool IncludeGroupMembers { get; init; }

    /// <summary>Allow devices the host itself uses (boot console, mounted disks' controller, a NIC with addresses, open GPU handles). Default false.</summary>
    public bool AllowHostCritical { get; init; }
}

/// <summary>A device a plan changes (or leaves, when it is already on the driver).</summary>
/// <param name="Address">The device.</param>
/// <param name="Role">Why it is in the plan.</param>
/// <param name="Reason">The reason in words.</param>
/// <param name="CurrentDriver">Its driver now, or null.</param>
/// <param name="CurrentOverride">Its driver_override now, or null.</param>
/// <param name="IommuGroup">Its IOMMU group.</param>
/// <param name="TargetDriver">The driver it will be on.</param>
public sealed record PlannedDevice(PciAddress Address, PlannedDeviceRole Role, string Reason, string? CurrentDriver, string? CurrentOverride, int IommuGroup, string TargetDriver)
{
    /// <summary>Whether it is already where the plan puts it (nothing is written for it).</summary>
    public bool AlreadyBound => CurrentDriver == TargetDriver;
}

/// <summary>One sysfs write of a plan, in order.</summary>
/// <param name="Device">The device it changes.</param>
/// <param name="Path">The sysfs file.</param>
/// <param name="Value">What is written (a trailing newline included where the kernel wants one).</param>
/// <param name="Purpose">Why.</param>
public sealed record PlannedWrite(PciAddress Device, string Path, string Value, string Purpose);

/// <summary>Something that keeps a plan from being applied.</summary>
/// <param name="Device">The device concerned.</param>
/// <param name="Code">A stable code: <c>group.member</c>, <c>host.boot-vga</c>, <c>host.block-device</c>, <c>host.network</c>, <c>host.open-handles</c>, <c>device.bridge</c>, <c>device.owned</c>.</param>
/// <param name="Reason">What was found.</param>
/// <param name="Fix">How to clear it (including the option that overrides it, where one does).</param>
public sealed record PassthroughBlocker(PciAddress Device, string Code, string Reason, string Fix);

/// <summary>
/// What binding devices to VFIO would do, read-only: every device and why, every sysfs write in order,
/// the IOMMU groups, and what blocks it. Apply it with <see cref="IPassthroughManager.ApplyAsync"/>.
/// </summary>
/// <param name="Owner">Who will own the binding.</param>
/// <param name="Driver">The VFIO driver.</param>
/// <param name="Devices">The devices, in the order they are bound (sibling functions and group members first).</param>
/// <param name="Groups">The IOMMU groups involved.</param>
/// <param name="Writes">The sysfs writes, in order.</param>
/// <param name="Blockers">What keeps it from being applied; empty when it can be.</param>
public sealed record PassthroughPlan(string Owner, string Driver, IReadOnlyList<PlannedDevice> Devices, IReadOnlyList<int> Groups, IReadOnlyList<PlannedWrite> Writes, IReadOnlyList<PassthroughBlocker> Blockers)
{
    /// <summary>Whether nothing blocks it.</summary>
    public bool CanApply => Blockers.Count == 0;
}

/// <summary>A device bound by an owner, with what it was before.</summary>
/// <param name="Address">The device.</param>
/// <param name="OriginalDriver">Its driver before, or null.</param>
/// <param name="OriginalOverride">Its driver_override before, or null.</param>
/// <param name="Driver">The driver it is bound to.</param>
/// <param name="IommuGroup">Its IOMMU group.</param>
public sealed record BoundDevice(PciAddress Address, string? OriginalDriver, string? OriginalOverride, string Driver, int IommuGroup);

/// <summary>Devices held on VFIO by an owner; release restores each exactly.</summary>
/// <param name="Owner">The owner.</param>
/// <param name="Devices">The devices.</param>
/// <param name="GroupDevices">The VFIO group files to give QEMU (<c>/dev/vfio/N</c>).</param>
public sealed record PassthroughBinding(string Owner, IReadOnlyList<BoundDevice> Devices, IReadOnlyList<string> GroupDevices);
