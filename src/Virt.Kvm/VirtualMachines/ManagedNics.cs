using Virt.Networking;
using Virt.VirtualMachines;

namespace Virt.Kvm.VirtualMachines;

/// <summary>How a VM's NIC on a managed network (<see cref="VmNic.Network"/>) is named to <see cref="INetworkPorts"/>: owner <c>vm:NAME</c>, the NIC's id, its tap.</summary>
internal static class ManagedNics
{
    /// <summary>The ports' owner, the same as the volumes' and host devices' user.</summary>
    public static string Owner(string vmName) => "vm:" + vmName;

    /// <summary>The port a NIC asks for: its tap (<see cref="MacAddresses.TapName"/>), the MAC the guest sees, and the VM's name as its DNS name (<see cref="NetworkNames.HostnameFrom"/>).</summary>
    public static NetworkPortRequest Request(string vmName, VmNic nic) =>
        new(nic.Network ?? throw new ArgumentException($"NIC '{nic.Id}' is on no network", nameof(nic)), Owner(vmName), nic.Id, MacAddresses.TapName(vmName, nic.Id), NetworkPortKind.Tap, nic.MacAddress ?? MacAddresses.Derive(vmName, nic.Id))
        {
            VlanTag = nic.VlanTag,
            Firewall = nic.Firewall,
            Ipv4Address = nic.Ipv4Address,
            Hostname = NetworkNames.HostnameFrom(vmName),
        };

    /// <summary>Why a NIC on a network cannot be made without a network backend, and the fix.</summary>
    public static string NoBackend(VmNic nic) =>
        $"NIC '{nic.Id}' is on network '{nic.Network}', but no network backend is registered: call AddNetwork() when composing the SDK (services.AddVirt().AddKvm().AddNetwork()), or give KvmVirtualMachineManager an INetworkPorts";
}
