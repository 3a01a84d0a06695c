using System.Text.Json;
using Virt.Kvm.Qmp;
using Virt.Kvm.Qmp.Api;
using Virt.VirtualMachines;

namespace Virt.Kvm.VirtualMachines.Hotplug;

/// <summary>vCPU hotplug from the slots QEMU offers (<c>query-hotpluggable-cpus</c>): one <c>device_add</c> per empty slot.</summary>
internal static class CpuHotplug
{
    /// <summary>Adds vCPUs until <paramref name="wanted"/> are present; returns the count present afterwards.</summary>
    public static async Task<int> AddAsync(QmpClient qmp, string vmName, int wanted, CancellationToken cancellationToken)
    {
        var slots = await qmp.QueryHotpluggableCpusAsync(cancellationToken).ConfigureAwait(false);
        var present = slots.Where(s => s.QomPath is not null).Sum(s => (int)s.VcpusCount);
        foreach (var slot in slots.Where(s => s.QomPath is null).OrderBy(s => s.Props.SocketId).ThenBy(s => s.Props.CoreId).ThenBy(s => s.Props.ThreadId))
        {
            if (present >= wanted)
            {
                break;
            }

            var id = $"virt-cpu-s{slot.Props.SocketId}-c{slot.Props.CoreId}-t{slot.Props.ThreadId}";
            var properties = JsonSerializer.SerializeToElement(slot.Props, QmpApiJson.TypeInfo<QueryCpusFastResultProps>());
            var extension = properties.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.Clone());
            try
            {
                await qmp.DeviceAddAsync(new DeviceAddArguments { Driver = slot.Type, Id = id, ExtensionData = extension }, cancellationToken).ConfigureAwait(false);
            }
            catch (QmpException ex)
            {
                throw new VmHotplugException(vmName, "add vCPU", id, $"QEMU refused device_add: {ex.Description} ({present} vCPUs present)", ex);
            }

            present += (int)slot.VcpusCount;
        }

        return present;
    }
}
