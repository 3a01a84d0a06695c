using System.Net;
using System.Net.Sockets;
using Virt.Network.Host;

namespace Virt.Network.Netlink;

/// <summary>What encoding needs to know about links: their ifindexes and which are bridges.</summary>
internal interface ILinkIndexes
{
    /// <summary>The ifindex of a link known to exist (resolved before encoding).</summary>
    int IndexOf(string name);

    /// <summary>Whether the link is a bridge (a VLAN on the bridge itself is flagged "self").</summary>
    bool IsBridge(string name);
}

/// <summary>
/// Encodes each <see cref="LinkOperation"/> as the rtnetlink request(s) <c>ip</c> and <c>bridge</c> would send for it.
/// Links are named by IFLA_IFNAME wherever the kernel accepts a name, so a link created earlier in the same batch needs
/// no ifindex; only masters, address/route/FDB/VLAN targets and a VXLAN underlay are ifindexes (<see cref="IndexedLinks"/>).
/// </summary>
internal static class LinkOperationEncoder
{
    private const ushort CreateNew = MessageFlags.Ack | MessageFlags.Create | MessageFlags.Exclusive;
    private const byte ScopeNowhere = 255; // RT_SCOPE_NOWHERE: a delete that matches any scope

    /// <summary>The links the operation's requests carry as ifindexes.</summary>
    public static IEnumerable<string> IndexedLinks(LinkOperation operation) => operation switch
    {
        SetMaster { Master: { } master } => [master],
        CreateVxlan { UnderlayInterface: { } underlay } => [underlay],
        AddAddress add => [add.Link],
        DeleteAddress delete => [delete.Link],
        AddRoute add => [add.Link],
        DeleteRoute delete => [delete.Link],
        AddFdbEntry add => [add.VxlanDevice],
        DeleteFdbEntry delete => [delete.VxlanDevice],
        AddPortVlan add => [add.Port],
        DeletePortVlan delete => [delete.Port],
        _ => [],
    };

    /// <summary>
    /// Appends the operation's requests (one, or two for a create that also sets an alias: the kernel ignores
    /// IFLA_IFALIAS on create) and returns how many. <paramref name="peerNamespace"/> is an open descriptor of a veth
    /// peer's namespace, or of the namespace a link moves to.
    /// </summary>
    public static int Encode(NetlinkMessageWriter writer, LinkOperation operation, ILinkIndexes links, int? peerNamespace = null)
    {
        switch (operation)
        {
            case CreateBridge bridge:
                BeginLinkRequest(writer, MessageType.NewLink, CreateNew, bridge.Name, bridge.Mtu);
                var bridgeInfo = writer.BeginNested(LinkAttribute.LinkInfo);
                writer.AddString(LinkInfoAttribute.Kind, "bridge");
                if (bridge.VlanFiltering)
                {
                    // Sent only when wanted: a kernel without VLAN filtering refuses the attribute even as 0.
                    var data = writer.BeginNested(LinkInfoAttribute.Data);
                    writer.AddByte(BridgeAttribute.VlanFiltering, 1);
                    writer.AddUInt16(BridgeAttribute.VlanDefaultPvid, (ushort)bridge.DefaultPvid);
                    writer.EndNested(data);
                }

                writer.EndNested(bridgeInfo);
                writer.EndMessage();
                return 1 + SetAlias(writer, bridge.Name, bridge.Alias);

            case CreateVxlan vxlan:
                BeginLinkRequest(writer, MessageType.NewLink, CreateNew, vxlan.Name, vxlan.Mtu);
                var vxlanInfo = writer.BeginNested(LinkAttribute.LinkInfo);
                writer.AddString(LinkInfoAttribute.Kind, "vxlan");
                var vxlanData = writer.BeginNested(LinkInfoAttribute.Data);
                writer.AddUInt32(VxlanAttribute.Id, (uint)vxlan.Vni);
                writer.AddIPAddress(vxlan.Local.AddressFamily == AddressFamily.InterNetworkV6 ? VxlanAttribute.Local6 : VxlanAttribute.Local, vxlan.Local);
                writer.AddUInt16BigEndian(VxlanAttribute.Port, (ushort)vxlan.Port);
                writer.AddByte(VxlanAttribute.Learning, 0);
                if (vxlan.UnderlayInterface is { } underlay)
                {
                    writer.AddInt32(VxlanAttribute.Link, links.IndexOf(underlay));
                }

                writer.EndNested(vxlanData);
                writer.EndNested(vxlanInfo);
                writer.EndMessage();
                return 1 + SetAlias(writer, vxlan.Name, vxlan.Alias);

            case CreateVeth veth:
                BeginLinkRequest(writer, MessageType.NewLink, CreateNew, veth.Name, veth.Mtu);
                var vethInfo = writer.BeginNested(LinkAttribute.LinkInfo);
                writer.AddString(LinkInfoAttribute.Kind, "veth");
                var vethData = writer.BeginNested(LinkInfoAttribute.Data);
                var peer = writer.BeginNested(VethAttribute.Peer);
                writer.WriteLinkHeader(AddressFamilies.Unspecified, 0);
                writer.AddString(LinkAttribute.Name, veth.PeerName);
                if (veth.Mtu is { } peerMtu)
                {
                    writer.AddInt32(LinkAttribute.Mtu, peerMtu);
                }

                if (peerNamespace is { } namespaceDescriptor)
                {
                    writer.AddInt32(LinkAttribute.NetNsFd, namespaceDescriptor);
                }

                writer.EndNested(peer);
                writer.EndNested(vethData);
                writer.EndNested(vethInfo);
                writer.EndMessage();
                return 1 + SetAlias(writer, veth.Name, veth.Alias);

            case DeleteLink delete:
                BeginLinkRequest(writer, MessageType.DeleteLink, MessageFlags.Ack, delete.Name);
                writer.EndMessage();
                return 1;

            case MoveLinkToNamespace move:
                BeginLinkRequest(writer, MessageType.NewLink, MessageFlags.Ack, move.Name);
                writer.AddInt32(LinkAttribute.NetNsFd, peerNamespace ?? throw new ArgumentException($"moving link {move.Name} needs the open descriptor of {move.NamespacePath}", nameof(peerNamespace)));
                writer.EndMessage();
                return 1;

            case SetLinkUp up:
                writer.BeginRequest(MessageType.NewLink, MessageFlags.Ack);
                writer.WriteLinkHeader(AddressFamilies.Unspecified, 0, up.Up ? InterfaceFlags.Up : 0, InterfaceFlags.Up);
                writer.AddString(LinkAttribute.Name, up.Name);
                writer.EndMessage();
                return 1;

            case SetMaster master:
                BeginLinkRequest(writer, MessageType.NewLink, MessageFlags.Ack, master.Name);
                writer.AddInt32(LinkAttribute.Master, master.Master is null ? 0 : links.IndexOf(master.Master));
                writer.EndMessage();
                return 1;

            case SetMtu mtu:
                BeginLinkRequest(writer, MessageType.NewLink, MessageFlags.Ack, mtu.Name, mtu.Mtu);
                writer.EndMessage();
                return 1;

            case SetAlias alias:
                return SetAlias(writer, alias.Name, alias.Alias);

            case AddAddress add:
                return EncodeAddress(writer, MessageType.NewAddress, CreateNew, links.IndexOf(add.Link), add.Address, add.Network.PrefixLength);

            case DeleteAddress delete:
                return EncodeAddress(writer, MessageType.DeleteAddress, MessageFlags.Ack, links.IndexOf(delete.Link), delete.Address, delete.Network.PrefixLength);

            case AddRoute add:
                return EncodeRoute(writer, MessageType.NewRoute, CreateNew, add.Destination, add.Gateway, links.IndexOf(add.Link), add.Gateway is null ? RouteAttribute.ScopeLink : RouteAttribute.ScopeUniverse, RouteAttribute.ProtocolStatic);

            case DeleteRoute delete:
                return EncodeRoute(writer, MessageType.DeleteRoute, MessageFlags.Ack, delete.Destination, delete.Gateway, links.IndexOf(delete.Link), ScopeNowhere, 0);

            case AddFdbEntry add:
                // Head-end replication keeps one all-zeros entry per peer: those are appended, any other MAC is unique.
                var flags = IsAllZeros(add.MacAddress) ? (ushort)(MessageFlags.Ack | MessageFlags.Create | MessageFlags.Append) : CreateNew;
                return EncodeFdb(writer, MessageType.NewNeighbour, flags, links.IndexOf(add.VxlanDevice), add.MacAddress, add.Destination);

            case DeleteFdbEntry delete:
                return EncodeFdb(writer, MessageType.DeleteNeighbour, MessageFlags.Ack, links.IndexOf(delete.VxlanDevice), delete.MacAddress, delete.Destination);

            case AddPortVlan add:
                var vlanFlags = (ushort)((add.Pvid ? BridgeSpecAttribute.VlanPvid : 0) | (add.Untagged ? BridgeSpecAttribute.VlanUntagged : 0));
                return EncodePortVlan(writer, MessageType.SetLink, add.Port, add.Vlan, vlanFlags, links);

            case DeletePortVlan delete:
                return EncodePortVlan(writer, MessageType.DeleteLink, delete.Port, delete.Vlan, 0, links);

            default:
                throw new ArgumentException($"no rtnetlink encoding for {operation.GetType().Name}", nameof(operation));
        }
    }

    /// <summary>Parses <c>52:54:00:12:34:56</c> into its 6 bytes.</summary>
    public static byte[] ParseMac(string mac)
    {
        var octets = mac.Split(':', '-');
        return octets.Length == 6 && octets.All(octet => octet.Length == 2 && Uri.IsHexDigit(octet[0]) && Uri.IsHexDigit(octet[1]))
            ? [.. octets.Select(octet => Convert.ToByte(octet, 16))]
            : throw new ArgumentException($"'{mac}' is not a MAC address: write six hex pairs, e.g. 52:54:00:12:34:56", nameof(mac));
    }

    private static bool IsAllZeros(string mac) => ParseMac(mac).All(octet => octet == 0);

    // An AF_UNSPEC link request that names its link (RTM_NEWLINK modifies it when it exists and NLM_F_CREATE is absent).
    private static void BeginLinkRequest(NetlinkMessageWriter writer, ushort type, ushort flags, string name, int? mtu = null)
    {
        writer.BeginRequest(type, flags);
        writer.WriteLinkHeader(AddressFamilies.Unspecified, 0);
        writer.AddString(LinkAttribute.Name, name);
        if (mtu is { } value)
        {
            writer.AddInt32(LinkAttribute.Mtu, value);
        }
    }

    private static int SetAlias(NetlinkMessageWriter writer, string name, string alias)
    {
        BeginLinkRequest(writer, MessageType.NewLink, MessageFlags.Ack, name);
        writer.AddString(LinkAttribute.Alias, alias);
        writer.EndMessage();
        return 1;
    }

    private static int EncodeAddress(NetlinkMessageWriter writer, ushort type, ushort flags, int index, IPAddress address, int prefixLength)
    {
        writer.BeginRequest(type, flags);
        writer.WriteAddressHeader(FamilyOf(address), prefixLength, index);
        writer.AddIPAddress(AddressAttribute.Local, address);
        writer.AddIPAddress(AddressAttribute.Address, address);
        writer.EndMessage();
        return 1;
    }

    private static int EncodeRoute(NetlinkMessageWriter writer, ushort type, ushort flags, IPNetwork destination, IPAddress? gateway, int index, byte scope, byte protocol)
    {
        writer.BeginRequest(type, flags);
        writer.WriteRouteHeader(FamilyOf(destination.BaseAddress), destination.PrefixLength, RouteAttribute.MainTable, protocol, scope, RouteAttribute.TypeUnicast);
        if (destination.PrefixLength > 0)
        {
            writer.AddIPAddress(RouteAttribute.Destination, destination.BaseAddress);
        }

        if (gateway is not null)
        {
            writer.AddIPAddress(RouteAttribute.Gateway, gateway);
        }

        writer.AddInt32(RouteAttribute.OutputInterface, index);
        writer.EndMessage();
        return 1;
    }

    private static int EncodeFdb(NetlinkMessageWriter writer, ushort type, ushort flags, int index, string mac, IPAddress destination)
    {
        writer.BeginRequest(type, flags);
        writer.WriteNeighbourHeader(AddressFamilies.Bridge, index, NeighbourAttribute.StatePermanent, NeighbourAttribute.FlagSelf);
        writer.AddAttribute(NeighbourAttribute.LinkLayerAddress, ParseMac(mac));
        writer.AddIPAddress(NeighbourAttribute.Destination, destination);
        writer.EndMessage();
        return 1;
    }

    private static int EncodePortVlan(NetlinkMessageWriter writer, ushort type, string port, int vlan, ushort flags, ILinkIndexes links)
    {
        writer.BeginRequest(type, MessageFlags.Ack);
        writer.WriteLinkHeader(AddressFamilies.Bridge, links.IndexOf(port));
        var spec = writer.BeginNested(LinkAttribute.AfSpec);
        if (links.IsBridge(port))
        {
            writer.AddUInt16(BridgeSpecAttribute.Flags, BridgeSpecAttribute.FlagSelf);
        }

        // struct bridge_vlan_info { __u16 flags; __u16 vid; }
        Span<byte> info = stackalloc byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(info, flags);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(info[2..], (ushort)vlan);
        writer.AddAttribute(BridgeSpecAttribute.VlanInfo, info);
        writer.EndNested(spec);
        writer.EndMessage();
        return 1;
    }

    private static byte FamilyOf(IPAddress address) => address.AddressFamily == AddressFamily.InterNetworkV6 ? AddressFamilies.Inet6 : AddressFamilies.Inet;
}
