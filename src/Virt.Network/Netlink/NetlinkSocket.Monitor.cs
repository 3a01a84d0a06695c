using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Virt.Network.Netlink;

// A socket that listens to the kernel's change notifications instead of asking it: a read of the host can then tell,
// without dumping anything, that nothing changed since the last one.
internal sealed partial class NetlinkSocket
{
    // RTMGRP_LINK | RTMGRP_NEIGH | RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_IFADDR | RTMGRP_IPV6_ROUTE: links
    // (bridge ports included, with AF_BRIDGE VLAN changes), FDB entries, addresses and routes.
    private const int ChangeGroups = 0x1 | 0x4 | 0x10 | 0x40 | 0x100 | 0x400;
    private const int NetlinkAddMembership = 1;
    private const int BridgeVlanGroup = 33; // RTNLGRP_BRVLAN: per-VLAN notifications of newer kernels
    private const int MsgDontWait = 0x40;
    private const int EAgain = 11;

    /// <summary>Opens a socket in the calling thread's namespace subscribed to changes of links, addresses, routes, the FDB and bridge VLANs.</summary>
    public static NetlinkSocket OpenChangeMonitor()
    {
        var descriptor = Socket(AfNetlink, SockRaw | SockCloexec, NetlinkRoute);
        if (descriptor < 0)
        {
            throw SyscallFailed("socket(AF_NETLINK, NETLINK_ROUTE) for change notifications");
        }

        var socket = new NetlinkSocket(descriptor);
        try
        {
            Span<byte> address = stackalloc byte[12];
            address.Clear();
            BinaryPrimitives.WriteUInt16LittleEndian(address, AfNetlink);
            BinaryPrimitives.WriteInt32LittleEndian(address[8..], ChangeGroups);
            if (Bind(descriptor, address, address.Length) != 0)
            {
                throw SyscallFailed("bind(AF_NETLINK) to the change groups");
            }

            // Older kernels have no such group: the AF_BRIDGE link notifications above still carry VLAN changes.
            _ = TrySetOption(descriptor, SolNetlink, NetlinkAddMembership, BridgeVlanGroup);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Reads every notification queued so far without waiting; returns whether there was any. An overflowed queue
    /// (ENOBUFS: notifications were lost) counts as a change.
    /// </summary>
    public bool DrainChanges()
    {
        ObjectDisposedException.ThrowIf(descriptor < 0, this);
        var changed = false;
        while (true)
        {
            var received = ReceiveBytes(descriptor, datagram, datagram.Length, MsgDontWait);
            if (received >= 0)
            {
                changed = true;
                continue;
            }

            var errno = Marshal.GetLastPInvokeError();
            if (errno == EAgain)
            {
                return changed;
            }

            changed = true; // ENOBUFS, or anything else: the cache cannot be trusted
            if (errno != 105)
            {
                return changed;
            }
        }
    }
}
