using System.Buffers.Binary;
using System.Net;
using Virt.Network.Host;

namespace Virt.Network.Netlink;

/// <summary>
/// Collects the messages of the five dumps (links, addresses, routes, bridge FDB, bridge port VLANs) and turns them into
/// a <see cref="HostLinkState"/>, with every ifindex replaced by its link's name.
/// </summary>
internal sealed class HostLinkStateBuilder
{
    private readonly List<DumpedLink> links = [];
    private readonly List<(int Index, IPAddress Address, int PrefixLength)> addresses = [];
    private readonly List<(IPNetwork Destination, IPAddress? Gateway, int Index)> routes = [];
    private readonly List<(int Index, string Mac, IPAddress Destination)> fdb = [];
    private readonly List<(int Index, int Vlan, bool Pvid, bool Untagged)> portVlans = [];

    /// <summary>An RTM_NEWLINK of the link dump: struct ifinfomsg, then IFLA_* attributes.</summary>
    public void AddLink(NetlinkMessage message)
    {
        var payload = message.Payload;
        var link = new DumpedLink
        {
            Index = BinaryPrimitives.ReadInt32LittleEndian(payload[4..]),
            Up = (BinaryPrimitives.ReadUInt32LittleEndian(payload[8..]) & InterfaceFlags.Up) != 0,
        };
        foreach (var attribute in new NetlinkAttributeEnumerator(payload[16..]))
        {
            switch (attribute.Type)
            {
                case LinkAttribute.Name: link.Name = attribute.AsString(); break;
                case LinkAttribute.Address: link.Mac = attribute.AsMacAddress(); break;
                case LinkAttribute.Mtu: link.Mtu = attribute.AsInt32(); break;
                case LinkAttribute.Master: link.MasterIndex = attribute.AsInt32(); break;
                case LinkAttribute.Alias: link.Alias = attribute.AsString(); break;
                case LinkAttribute.Link: link.LinkIndex = attribute.AsInt32(); break;
                case LinkAttribute.LinkInfo: ReadLinkInfo(attribute, link); break;
            }
        }

        links.Add(link);
    }

    /// <summary>An RTM_NEWADDR: struct ifaddrmsg, then IFA_LOCAL (IPv4's own address) and/or IFA_ADDRESS.</summary>
    public void AddAddress(NetlinkMessage message)
    {
        var payload = message.Payload;
        IPAddress? local = null, address = null;
        foreach (var attribute in new NetlinkAttributeEnumerator(payload[8..]))
        {
            if (attribute.Type == AddressAttribute.Local)
            {
                local = attribute.AsIPAddress();
            }
            else if (attribute.Type == AddressAttribute.Address)
            {
                address = attribute.AsIPAddress();
            }
        }

        if ((local ?? address) is { } found)
        {
            addresses.Add((BinaryPrimitives.ReadInt32LittleEndian(payload[4..]), found, payload[1]));
        }
    }

    /// <summary>An RTM_NEWROUTE: struct rtmsg, then RTA_* attributes. Only the main table's unicast routes are kept.</summary>
    public void AddRoute(NetlinkMessage message)
    {
        var payload = message.Payload;
        int table = payload[4], index = 0;
        IPAddress? destination = null, gateway = null;
        foreach (var attribute in new NetlinkAttributeEnumerator(payload[12..]))
        {
            switch (attribute.Type)
            {
                case RouteAttribute.Table: table = attribute.AsInt32(); break;
                case RouteAttribute.Destination: destination = attribute.AsIPAddress(); break;
                case RouteAttribute.Gateway: gateway = attribute.AsIPAddress(); break;
                case RouteAttribute.OutputInterface: index = attribute.AsInt32(); break;
            }
        }

        if (table != RouteAttribute.MainTable || payload[7] != RouteAttribute.TypeUnicast)
        {
            return;
        }

        destination ??= payload[0] == AddressFamilies.Inet6 ? IPAddress.IPv6Any : IPAddress.Any;
        routes.Add((new IPNetwork(destination, payload[1]), gateway, index));
    }

    /// <summary>An AF_BRIDGE RTM_NEWNEIGH: struct ndmsg, then NDA_*; only entries with a remote destination (VXLAN) are kept.</summary>
    public void AddFdbEntry(NetlinkMessage message)
    {
        var payload = message.Payload;
        string? mac = null;
        IPAddress? destination = null;
        foreach (var attribute in new NetlinkAttributeEnumerator(payload[12..]))
        {
            if (attribute.Type == NeighbourAttribute.LinkLayerAddress)
            {
                mac = attribute.AsMacAddress();
            }
            else if (attribute.Type == NeighbourAttribute.Destination)
            {
                destination = attribute.AsIPAddress();
            }
        }

        if (mac is not null && destination is not null)
        {
            fdb.Add((BinaryPrimitives.ReadInt32LittleEndian(payload[4..]), mac, destination));
        }
    }

    /// <summary>An AF_BRIDGE RTM_NEWLINK of the VLAN dump: IFLA_AF_SPEC holds one IFLA_BRIDGE_VLAN_INFO per VLAN.</summary>
    public void AddPortVlans(NetlinkMessage message)
    {
        var payload = message.Payload;
        var index = BinaryPrimitives.ReadInt32LittleEndian(payload[4..]);
        foreach (var attribute in new NetlinkAttributeEnumerator(payload[16..]))
        {
            if (attribute.Type != LinkAttribute.AfSpec)
            {
                continue;
            }

            foreach (var nested in attribute.Nested)
            {
                if (nested.Type == BridgeSpecAttribute.VlanInfo && nested.Payload.Length >= 4)
                {
                    var flags = nested.AsUInt16();
                    var vlan = BinaryPrimitives.ReadUInt16LittleEndian(nested.Payload[2..]);
                    portVlans.Add((index, vlan, (flags & BridgeSpecAttribute.VlanPvid) != 0, (flags & BridgeSpecAttribute.VlanUntagged) != 0));
                }
            }
        }
    }

    /// <summary>The state, names resolved (an ifindex of no dumped link, e.g. a peer in another namespace, gives no name).</summary>
    public HostLinkState Build()
    {
        var names = links.ToDictionary(link => link.Index, link => link.Name);
        string? NameOf(int index) => names.GetValueOrDefault(index);
        return new HostLinkState(
            [.. links.Select(link => new LinkState(link.Name, link.Index, link.Kind, link.Mac, link.Mtu, link.Up, link.MasterIndex > 0 ? NameOf(link.MasterIndex) : null, link.Alias)
            {
                VlanFiltering = link.VlanFiltering,
                Vxlan = link.Vxlan,
                PeerIndex = link.Kind == "veth" && link.LinkIndex > 0 ? link.LinkIndex : null,
            })],
            [.. addresses.Where(address => names.ContainsKey(address.Index)).Select(address => new AddressState(names[address.Index], address.Address, address.PrefixLength))],
            [.. routes.Select(route => new RouteState(route.Destination, route.Gateway, NameOf(route.Index)))],
            [.. fdb.Where(entry => names.ContainsKey(entry.Index)).Select(entry => new FdbState(names[entry.Index], entry.Mac, entry.Destination))],
            [.. portVlans.Where(vlan => names.ContainsKey(vlan.Index)).Select(vlan => new PortVlanState(names[vlan.Index], vlan.Vlan, vlan.Pvid, vlan.Untagged))]);
    }

    private static void ReadLinkInfo(NetlinkAttribute linkInfo, DumpedLink link)
    {
        foreach (var info in linkInfo.Nested)
        {
            if (info.Type == LinkInfoAttribute.Kind)
            {
                link.Kind = info.AsString();
            }
        }

        foreach (var info in linkInfo.Nested)
        {
            if (info.Type != LinkInfoAttribute.Data)
            {
                continue;
            }

            if (link.Kind == "bridge")
            {
                foreach (var data in info.Nested)
                {
                    if (data.Type == BridgeAttribute.VlanFiltering)
                    {
                        link.VlanFiltering = data.AsByte() != 0;
                    }
                }
            }
            else if (link.Kind == "vxlan")
            {
                ReadVxlan(info, link);
            }
        }
    }

    private static void ReadVxlan(NetlinkAttribute data, DumpedLink link)
    {
        int vni = 0, port = 0, underlay = 0;
        var learning = true;
        IPAddress? local = null;
        foreach (var attribute in data.Nested)
        {
            switch (attribute.Type)
            {
                case VxlanAttribute.Id: vni = attribute.AsInt32(); break;
                case VxlanAttribute.Local or VxlanAttribute.Local6: local = attribute.AsIPAddress(); break;
                case VxlanAttribute.Port: port = attribute.AsUInt16BigEndian(); break;
                case VxlanAttribute.Learning: learning = attribute.AsByte() != 0; break;
                case VxlanAttribute.Link: underlay = attribute.AsInt32(); break;
            }
        }

        link.Vxlan = new VxlanState(vni, local, port, learning, underlay > 0 ? underlay : null);
    }

    private sealed class DumpedLink
    {
        public int Index { get; init; }

        public bool Up { get; init; }

        public string Name { get; set; } = string.Empty;

        public string? Mac { get; set; }

        public int Mtu { get; set; }

        public int MasterIndex { get; set; }

        public string? Alias { get; set; }

        public int LinkIndex { get; set; }

        public string? Kind { get; set; }

        public bool VlanFiltering { get; set; }

        public VxlanState? Vxlan { get; set; }
    }
}
