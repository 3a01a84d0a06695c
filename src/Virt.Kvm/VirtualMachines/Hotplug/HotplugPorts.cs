using Virt.Kvm.Qmp;

namespace Virt.Kvm.VirtualMachines.Hotplug;

/// <summary>
/// Finds a free PCIe root port of those the SDK reserved (<c>virt-hpN</c>). Asked of QEMU each time
/// (<c>query-pci</c>: a port's secondary bus lists its device), so it is right after a re-attach too.
/// </summary>
internal static class HotplugPorts
{
    public static async Task<string?> FindFreeAsync(QmpClient qmp, CancellationToken cancellationToken)
    {
        var buses = await qmp.QueryPciAsync(cancellationToken).ConfigureAwait(false);
        return buses.SelectMany(bus => bus.Devices)
            .Where(device => device.QdevId.StartsWith(QemuCommandLine.HotplugPortPrefix, StringComparison.Ordinal)
                && device.PciBridge is { } bridge && (bridge.Devices is null || bridge.Devices.Count == 0))
            .Select(device => device.QdevId)
            .Order(StringComparer.Ordinal)
            .FirstOrDefault();
    }
}
