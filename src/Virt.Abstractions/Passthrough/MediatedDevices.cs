namespace Virt.Passthrough;

/// <summary>A mediated device type a parent offers (<c>mdev_supported_types/&lt;id&gt;</c>).</summary>
/// <param name="Parent">The parent device.</param>
/// <param name="Id">The type id (e.g. <c>i915-GVTg_V5_4</c>).</param>
/// <param name="Name">The type's name, when given.</param>
/// <param name="DeviceApi">The API the device offers (<c>vfio-pci</c>...).</param>
/// <param name="AvailableInstances">How many more can be created now.</param>
/// <param name="Description">The driver's description, when given.</param>
public sealed record MdevType(PciAddress Parent, string Id, string? Name, string? DeviceApi, int AvailableInstances, string? Description);

/// <summary>A mediated device (<c>/sys/bus/mdev/devices/&lt;uuid&gt;</c>).</summary>
/// <param name="Uuid">Its UUID.</param>
/// <param name="Parent">Its parent device.</param>
/// <param name="Type">Its type id.</param>
public sealed record MediatedDevice(Guid Uuid, PciAddress Parent, string Type);

/// <summary>An NVIDIA vGPU type a VF can take (<c>nvidia/creatable_vgpu_types</c>).</summary>
/// <param name="Id">The type id written to <c>current_vgpu_type</c>.</param>
/// <param name="Name">The name (e.g. <c>NVIDIA L4-4Q</c>).</param>
public sealed record NvidiaVgpuType(int Id, string Name);

/// <summary>An NVIDIA VF's vGPU state.</summary>
/// <param name="VirtualFunction">The VF.</param>
/// <param name="CreatableTypes">The types it can take now.</param>
/// <param name="CurrentTypeId">The type it has, 0 for none.</param>
public sealed record NvidiaVgpuState(PciAddress VirtualFunction, IReadOnlyList<NvidiaVgpuType> CreatableTypes, int CurrentTypeId);
