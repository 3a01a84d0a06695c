namespace Virt.Network.Netlink;

// The numbers of the kernel's netlink and rtnetlink UAPI (linux/netlink.h, linux/rtnetlink.h, linux/if_link.h,
// linux/if_addr.h, linux/neighbour.h, linux/if_bridge.h), named as the headers name them so they can be looked up.

/// <summary>Message types: netlink's control messages and rtnetlink's requests.</summary>
internal static class MessageType
{
    public const ushort Error = 2; // NLMSG_ERROR
    public const ushort Done = 3; // NLMSG_DONE
    public const ushort NewLink = 16; // RTM_NEWLINK
    public const ushort DeleteLink = 17; // RTM_DELLINK
    public const ushort GetLink = 18; // RTM_GETLINK
    public const ushort SetLink = 19; // RTM_SETLINK
    public const ushort NewAddress = 20; // RTM_NEWADDR
    public const ushort DeleteAddress = 21; // RTM_DELADDR
    public const ushort GetAddress = 22; // RTM_GETADDR
    public const ushort NewRoute = 24; // RTM_NEWROUTE
    public const ushort DeleteRoute = 25; // RTM_DELROUTE
    public const ushort GetRoute = 26; // RTM_GETROUTE
    public const ushort NewNeighbour = 28; // RTM_NEWNEIGH
    public const ushort DeleteNeighbour = 29; // RTM_DELNEIGH
    public const ushort GetNeighbour = 30; // RTM_GETNEIGH
}

/// <summary>nlmsghdr flags.</summary>
internal static class MessageFlags
{
    public const ushort Request = 0x1; // NLM_F_REQUEST
    public const ushort Multipart = 0x2; // NLM_F_MULTI
    public const ushort Ack = 0x4; // NLM_F_ACK
    public const ushort DumpInterrupted = 0x10; // NLM_F_DUMP_INTR: the table changed while it was dumped
    public const ushort Dump = 0x300; // NLM_F_ROOT | NLM_F_MATCH
    public const ushort Exclusive = 0x200; // NLM_F_EXCL
    public const ushort Create = 0x400; // NLM_F_CREATE
    public const ushort Append = 0x800; // NLM_F_APPEND
    public const ushort AckTlvs = 0x200; // NLM_F_ACK_TLVS, on an NLMSG_ERROR: extended-ack attributes follow
    public const ushort Capped = 0x100; // NLM_F_CAPPED, on an NLMSG_ERROR: only the request's header is echoed
}

/// <summary>Address families.</summary>
internal static class AddressFamilies
{
    public const byte Unspecified = 0;
    public const byte Inet = 2;
    public const byte Bridge = 7;
    public const byte Inet6 = 10;
}

/// <summary>IFLA_* attributes of a link message.</summary>
internal static class LinkAttribute
{
    public const ushort Address = 1;
    public const ushort Name = 3;
    public const ushort Mtu = 4;
    public const ushort Link = 5;
    public const ushort Master = 10;
    public const ushort LinkInfo = 18;
    public const ushort Alias = 20;
    public const ushort AfSpec = 26;
    public const ushort NetNsFd = 28;
    public const ushort ExtMask = 29;
}

/// <summary>IFLA_INFO_* inside IFLA_LINKINFO.</summary>
internal static class LinkInfoAttribute
{
    public const ushort Kind = 1;
    public const ushort Data = 2;
}

/// <summary>IFLA_BR_* inside a bridge's IFLA_INFO_DATA.</summary>
internal static class BridgeAttribute
{
    public const ushort VlanFiltering = 7;
    public const ushort VlanDefaultPvid = 39;
}

/// <summary>IFLA_VXLAN_* inside a VXLAN device's IFLA_INFO_DATA.</summary>
internal static class VxlanAttribute
{
    public const ushort Id = 1;
    public const ushort Link = 3;
    public const ushort Local = 4;
    public const ushort Learning = 7;
    public const ushort Port = 15;
    public const ushort Local6 = 17;
}

/// <summary>VETH_INFO_* inside a veth's IFLA_INFO_DATA.</summary>
internal static class VethAttribute
{
    public const ushort Peer = 1;
}

/// <summary>IFLA_BRIDGE_* inside an AF_BRIDGE message's IFLA_AF_SPEC, and the flags of struct bridge_vlan_info.</summary>
internal static class BridgeSpecAttribute
{
    public const ushort Flags = 0;
    public const ushort VlanInfo = 2;
    public const ushort FlagSelf = 2; // BRIDGE_FLAGS_SELF: the VLAN is the bridge device's own
    public const ushort VlanPvid = 2; // BRIDGE_VLAN_INFO_PVID
    public const ushort VlanUntagged = 4; // BRIDGE_VLAN_INFO_UNTAGGED
    public const uint FilterBridgeVlan = 2; // RTEXT_FILTER_BRVLAN, for IFLA_EXT_MASK
    public const uint FilterSkipStats = 8; // RTEXT_FILTER_SKIP_STATS: a link dump without the counters nobody here reads
}

/// <summary>IFA_* attributes of an address message.</summary>
internal static class AddressAttribute
{
    public const ushort Address = 1;
    public const ushort Local = 2;
}

/// <summary>RTA_* attributes and rtmsg values of a route message.</summary>
internal static class RouteAttribute
{
    public const ushort Destination = 1;
    public const ushort OutputInterface = 4;
    public const ushort Gateway = 5;
    public const ushort Table = 15;
    public const byte MainTable = 254; // RT_TABLE_MAIN
    public const byte ProtocolStatic = 4; // RTPROT_STATIC
    public const byte ScopeUniverse = 0; // RT_SCOPE_UNIVERSE
    public const byte ScopeLink = 253; // RT_SCOPE_LINK
    public const byte TypeUnicast = 1; // RTN_UNICAST
}

/// <summary>NDA_* attributes and ndmsg values of a neighbour (FDB) message.</summary>
internal static class NeighbourAttribute
{
    public const ushort Destination = 1;
    public const ushort LinkLayerAddress = 2;
    public const ushort StatePermanent = 0x80; // NUD_PERMANENT
    public const byte FlagSelf = 0x2; // NTF_SELF: the entry is the device's own (VXLAN), not its bridge's
}

/// <summary>Interface flags (ifi_flags).</summary>
internal static class InterfaceFlags
{
    public const uint Up = 0x1; // IFF_UP
}
