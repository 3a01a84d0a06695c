using System.Runtime.InteropServices;
using Virt.Network.Host;

namespace Virt.Network.Netlink;

/// <summary>Turns the kernel's answer to a failed operation into words: its errno's text, its extended-ack message, and the fix where one is plain.</summary>
internal static class NetlinkErrors
{
    private const int NoEntry = 2;
    private const int Exists = 17;
    private const int NoDevice = 19;
    private const int AddressInUse = 98;
    private const int NotSupported = 95;
    private const int NotPermitted = 1;
    private const int AddressNotAvailable = 99;

    /// <summary>"File exists", plus "(kernel: ...)" when the kernel explained itself.</summary>
    public static string Describe(NetlinkAck ack) =>
        Marshal.GetPInvokeErrorMessage(ack.Errno) + (string.IsNullOrEmpty(ack.KernelMessage) ? string.Empty : $" (kernel: {ack.KernelMessage})");

    /// <summary>The text for <see cref="NetlinkOperationException"/>: what the kernel said and, where there is an obvious one, the fix.</summary>
    public static string Explain(LinkOperation operation, NetlinkAck ack)
    {
        var fix = FixFor(operation, ack.Errno);
        return Describe(ack) + (fix is null ? string.Empty : "; " + fix);
    }

    private static string? FixFor(LinkOperation operation, int errno) => (operation, errno) switch
    {
        (CreateBridge { VlanFiltering: true }, NotSupported) or (AddPortVlan or DeletePortVlan, NotSupported) =>
            "this kernel has no bridge VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING): define the network without VLANs here, or run it on a host whose kernel has it",
        (CreateVeth veth, Exists) =>
            $"a link named {veth.Name} or {veth.PeerName} exists already: delete it or pick other names",
        (CreateBridge or CreateVxlan, Exists) =>
            $"{operation.Object} exists already: delete it, pick another name, or adopt it explicitly",
        (CreateVxlan vxlan, AddressInUse) =>
            $"another VXLAN device already uses VNI {vxlan.Vni} with UDP port {vxlan.Port}: give this network another VNI",
        (AddAddress, Exists) => "the address is on the link already",
        (AddRoute, Exists) => "the main table has a route to that destination already: delete it or choose another destination",
        (AddFdbEntry, Exists) => "the FDB entry is there already",
        (_, NoDevice) => "the link does not exist (any more): re-read the host and plan again",
        (DeleteAddress or DeleteRoute or DeleteFdbEntry, NoEntry or AddressNotAvailable) => "it is not there (any more): re-read the host and plan again",
        (_, NotPermitted) => "rtnetlink changes need CAP_NET_ADMIN: run as root",
        _ => null,
    };
}
