using System.Text.Json;
using Virt.Kvm.Qmp;
using Virt.Kvm.Qmp.Api;
using Virt.VirtualMachines;

namespace Virt.Kvm.VirtualMachines.Hotplug;

/// <summary>Memory hotplug: a <c>memory-backend-ram</c> object plus a <c>pc-dimm</c> device, both named <c>virt-dimmN</c>.</summary>
internal static class MemoryHotplug
{
    public static async Task AddAsync(QmpClient qmp, string vmName, int sizeMiB, CancellationToken cancellationToken)
    {
        var devices = await qmp.QueryMemoryDevicesAsync(cancellationToken).ConfigureAwait(false);
        var index = devices.Count;
        var id = $"virt-dimm{index}";
        var memdev = $"virt-mem{index}";
        var objectAdded = false;
        try
        {
            await qmp.ObjectAddAsync(new ObjectAddArgumentsMemoryBackendRam { Id = memdev, Size = (long)sizeMiB * 1024 * 1024 }, cancellationToken).ConfigureAwait(false);
            objectAdded = true;
            await qmp.DeviceAddAsync(
                new DeviceAddArguments { Driver = "pc-dimm", Id = id, ExtensionData = new() { ["memdev"] = JsonSerializer.SerializeToElement(memdev, QmpApiJson.TypeInfo<string>()) } },
                cancellationToken).ConfigureAwait(false);
        }
        catch (QmpException ex)
        {
            if (objectAdded)
            {
                try
                {
                    await qmp.ObjectDelAsync(new ObjectDelArguments { Id = memdev }, CancellationToken.None).ConfigureAwait(false);
                }
                catch (QmpException)
                {
                    // Nothing to roll back.
                }
            }

            throw new VmHotplugException(vmName, "add memory", id, $"QEMU refused '{ex.Command}': {ex.Description}", ex);
        }
    }
}
