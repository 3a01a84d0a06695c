namespace Virt.Passthrough;

/// <summary>
/// Binds host PCI devices to VFIO for an owner and gives them back. The narrow contract a VM backend
/// needs (Virt.Kvm calls it around a VM's life); <see cref="IPassthroughManager"/> implements it.
/// </summary>
public interface IHostDeviceBinder
{
    /// <summary>
    /// Plans and applies in one step: binds the devices (and, with <paramref name="allFunctions"/>, every
    /// function of their slots) for <paramref name="owner"/>. Idempotent for an owner that already holds
    /// exactly these devices. Throws <see cref="PassthroughBlockedException"/> when anything blocks it.
    /// </summary>
    /// <param name="owner">The owner (e.g. <c>vm:web-1</c>).</param>
    /// <param name="devices">The devices asked for.</param>
    /// <param name="allFunctions">Take every function of each slot.</param>
    /// <param name="cancellationToken">Cancels before the first write; once writing starts the bind completes or rolls back.</param>
    /// <returns>The binding.</returns>
    Task<PassthroughBinding> AcquireAsync(string owner, IReadOnlyList<PciAddress> devices, bool allFunctions, CancellationToken cancellationToken = default);

    /// <summary>
    /// Gives the owner's devices back: each on its original driver with its original override. Idempotent
    /// (nothing held: nothing done); works from the journal after a crash of the application.
    /// </summary>
    /// <param name="owner">The owner.</param>
    /// <param name="cancellationToken">Cancels before the first write.</param>
    /// <returns>A task that completes when restored.</returns>
    Task ReleaseAsync(string owner, CancellationToken cancellationToken = default);
}

/// <summary>PCI passthrough on a host: read devices and groups, check readiness, plan, apply, release; SR-IOV and mdev.</summary>
public interface IPassthroughManager : IHostDeviceBinder
{
    /// <summary>Every PCI function, by address.</summary>
    /// <returns>The devices.</returns>
    IReadOnlyList<PciDevice> ListDevices();

    /// <summary>One function.</summary>
    /// <param name="address">Its address.</param>
    /// <returns>The device.</returns>
    /// <exception cref="PciDeviceNotFoundException">No such device.</exception>
    PciDevice GetDevice(PciAddress address);

    /// <summary>Every IOMMU group with its members; empty without an IOMMU.</summary>
    /// <returns>The groups.</returns>
    IReadOnlyList<IommuGroup> ListIommuGroups();

    /// <summary>Whether this host can pass devices through, check by check.</summary>
    /// <returns>The report.</returns>
    ReadinessReport CheckReadiness();

    /// <summary>Plans binding devices to VFIO, read-only.</summary>
    /// <param name="devices">The devices asked for.</param>
    /// <param name="options">Owner, driver and what may be overridden.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The plan, with blockers if any.</returns>
    /// <exception cref="PciDeviceNotFoundException">A device does not exist.</exception>
    /// <exception cref="IommuUnavailableException">The host has no IOMMU groups.</exception>
    /// <exception cref="VfioUnavailableException">The VFIO driver is not registered.</exception>
    Task<PassthroughPlan> PlanAsync(IReadOnlyList<PciAddress> devices, PassthroughPlanOptions options, CancellationToken cancellationToken = default);

    /// <summary>
    /// Applies a plan: journal first, then per device override → unbind → probe → verify (sibling
    /// functions first, every write under a deadline), then the groups' viability and <c>/dev/vfio/N</c>.
    /// Any failure rolls every device back before the error is thrown.
    /// </summary>
    /// <param name="plan">A plan without blockers, from <see cref="PlanAsync"/>.</param>
    /// <param name="cancellationToken">Cancels before the first write.</param>
    /// <returns>The binding.</returns>
    Task<PassthroughBinding> ApplyAsync(PassthroughPlan plan, CancellationToken cancellationToken = default);

    /// <summary>The bindings in the journal (also those of a crashed application).</summary>
    /// <returns>The bindings.</returns>
    IReadOnlyList<PassthroughBinding> ListBindings();

    /// <summary>The virtual functions of an SR-IOV physical function.</summary>
    /// <param name="physicalFunction">The PF.</param>
    /// <returns>The VFs, by index.</returns>
    IReadOnlyList<PciDevice> ListVirtualFunctions(PciAddress physicalFunction);

    /// <summary>
    /// Sets how many VFs a PF has (through 0 when changing a non-zero count, as the kernel requires).
    /// With <paramref name="autoprobe"/> false the VFs get no host driver, ready for VFIO.
    /// </summary>
    /// <param name="physicalFunction">The PF.</param>
    /// <param name="count">The VF count, 0 to remove them.</param>
    /// <param name="autoprobe">Whether host drivers may bind the new VFs.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The VFs now.</returns>
    Task<IReadOnlyList<PciDevice>> SetVirtualFunctionCountAsync(PciAddress physicalFunction, int count, bool autoprobe, CancellationToken cancellationToken = default);

    /// <summary>The mediated device types a parent offers, with how many more instances each can have.</summary>
    /// <param name="parent">The parent device (a GPU with GVT-g, a vGPU-capable card).</param>
    /// <returns>The types.</returns>
    IReadOnlyList<MdevType> ListMdevTypes(PciAddress parent);

    /// <summary>Every mediated device on the host.</summary>
    /// <returns>The devices.</returns>
    IReadOnlyList<MediatedDevice> ListMediatedDevices();

    /// <summary>
    /// Creates a mediated device whose UUID derives from <paramref name="name"/> (the same name always gives
    /// the same UUID, so creation is idempotent and a VM's device keeps its identity).
    /// </summary>
    /// <param name="parent">The parent device.</param>
    /// <param name="type">The type id (from <see cref="ListMdevTypes"/>).</param>
    /// <param name="name">A stable name, e.g. <c>vm:web-1/gpu0</c>.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The device.</returns>
    Task<MediatedDevice> CreateMediatedDeviceAsync(PciAddress parent, string type, string name, CancellationToken cancellationToken = default);

    /// <summary>Removes a mediated device. Idempotent.</summary>
    /// <param name="uuid">Its UUID.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task that completes when removed.</returns>
    Task RemoveMediatedDeviceAsync(Guid uuid, CancellationToken cancellationToken = default);

    /// <summary>NVIDIA vGPU (driver on kernel ≥ 6.8): the types a VF can take now, and the one it has.</summary>
    /// <param name="virtualFunction">The VF.</param>
    /// <returns>The types and the current one.</returns>
    NvidiaVgpuState GetNvidiaVgpuState(PciAddress virtualFunction);

    /// <summary>NVIDIA vGPU: gives a VF a vGPU type (<c>current_vgpu_type</c>), or clears it with 0.</summary>
    /// <param name="virtualFunction">The VF.</param>
    /// <param name="typeId">The type id, 0 to clear.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task that completes when set.</returns>
    Task SetNvidiaVgpuTypeAsync(PciAddress virtualFunction, int typeId, CancellationToken cancellationToken = default);
}
