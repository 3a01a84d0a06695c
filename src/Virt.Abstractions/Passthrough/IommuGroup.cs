namespace Virt.Passthrough;

/// <summary>
/// An IOMMU group: the smallest set of devices the IOMMU can isolate, so the unit that is handed to a
/// VM whole. It is viable for VFIO when every member is on a DMA-owning driver — vfio-pci or a variant
/// (<c>*_vfio_pci</c>), <c>pci-stub</c>, <c>pcieport</c> — or has no driver (kernel ≥ 5.19 rules).
/// </summary>
/// <param name="Number">The group's number.</param>
/// <param name="Type">The group's DMA domain type (<c>DMA</c>, <c>DMA-FQ</c>, <c>identity</c>...), or null where not exported.</param>
/// <param name="Members">Its devices, by address.</param>
public sealed record IommuGroup(int Number, string? Type, IReadOnlyList<PciDevice> Members)
{
    /// <summary>Members whose driver keeps the group from being used with VFIO.</summary>
    public IReadOnlyList<PciDevice> BlockingMembers => Members.Where(member => !IsVfioSafe(member.Driver)).ToList();

    /// <summary>Whether the whole group can be opened through <c>/dev/vfio/&lt;group&gt;</c> now.</summary>
    public bool IsViable => BlockingMembers.Count == 0;

    /// <summary>Whether a driver leaves a group viable: none, vfio-pci or a vfio variant, pci-stub, pcieport.</summary>
    /// <param name="driver">The driver's name, or null for none.</param>
    /// <returns>Whether it is safe.</returns>
    public static bool IsVfioSafe(string? driver) =>
        driver is null or "vfio-pci" or "pci-stub" or "pcieport" || driver.EndsWith("_vfio_pci", StringComparison.Ordinal) || driver.EndsWith("-vfio-pci", StringComparison.Ordinal);
}
