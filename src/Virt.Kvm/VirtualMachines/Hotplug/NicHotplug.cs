using System.Text.Json;
using Virt.Kvm.Qmp;
using Virt.Kvm.Qmp.Api;
using Virt.VirtualMachines;

namespace Virt.Kvm.VirtualMachines.Hotplug;

/// <summary>NIC hotplug with the names the command line uses: netdev <c>virt-net-ID</c>, device <c>ID</c>.</summary>
internal static class NicHotplug
{
    /// <summary>Adds the NIC's netdev and device; a virtio-net NIC on a network whose MTU (in <paramref name="mtus"/>, by NIC id) is not 1500 gets it as <c>host_mtu</c>, as at start.</summary>
    public static async Task AttachAsync(QmpClient qmp, string vmName, VmNic nic, string mac, string? tap, IReadOnlyDictionary<string, int> mtus, CancellationToken cancellationToken)
    {
        const string Operation = "attach NIC";
        var port = await HotplugPorts.FindFreeAsync(qmp, cancellationToken).ConfigureAwait(false)
            ?? throw new VmHotplugException(vmName, Operation, nic.Id, "no free hotplug root port; raise VmSpec.HotplugPorts (takes effect at the next start) or detach a device");
        var netdev = "virt-net-" + nic.Id;
        NetdevAddArguments backend = tap is null
            ? new NetdevAddArgumentsUser { Id = netdev, Restrict = true }
            : new NetdevAddArgumentsTap { Id = netdev, Ifname = tap, Script = "no", Downscript = "no" };
        var netdevAdded = false;
        try
        {
            await qmp.NetdevAddAsync(backend, cancellationToken).ConfigureAwait(false);
            netdevAdded = true;
            var properties = new Dictionary<string, JsonElement>
            {
                ["netdev"] = JsonSerializer.SerializeToElement(netdev, QmpApiJson.TypeInfo<string>()),
                ["mac"] = JsonSerializer.SerializeToElement(mac, QmpApiJson.TypeInfo<string>()),
            };
            if (QemuCommandLine.HostMtu(nic, mtus).Length > 0)
            {
                // QMP takes the property as a JSON number.
                using var mtu = JsonDocument.Parse(mtus[nic.Id].ToString(System.Globalization.CultureInfo.InvariantCulture));
                properties["host_mtu"] = mtu.RootElement.Clone();
            }

            await qmp.DeviceAddAsync(
                new DeviceAddArguments
                {
                    Driver = nic.Model == VmNicModel.VirtioNet ? "virtio-net-pci" : "e1000e",
                    Id = nic.Id,
                    Bus = port,
                    ExtensionData = properties,
                },
                cancellationToken).ConfigureAwait(false);
        }
        catch (QmpException ex)
        {
            if (netdevAdded)
            {
                await RemoveNetdevAsync(qmp, netdev).ConfigureAwait(false);
            }

            throw new VmHotplugException(vmName, Operation, nic.Id, $"QEMU refused '{ex.Command}': {ex.Description}", ex);
        }
    }

    public static async Task DetachAsync(QmpClient qmp, string vmName, string nicId, TimeSpan deadline, TimeProvider time, CancellationToken cancellationToken)
    {
        await DeviceUnplug.RunAsync(qmp, vmName, "detach NIC", nicId, deadline, time, cancellationToken).ConfigureAwait(false);
        await RemoveNetdevAsync(qmp, "virt-net-" + nicId).ConfigureAwait(false);
    }

    private static async Task RemoveNetdevAsync(QmpClient qmp, string netdev)
    {
        try
        {
            await qmp.NetdevDelAsync(new NetdevDelArguments { Id = netdev }, CancellationToken.None).ConfigureAwait(false);
        }
        catch (QmpException)
        {
            // Already gone.
        }
    }
}
