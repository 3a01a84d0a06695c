using System.Net;
using Virt.Network.Host;
using Virt.Network.Netlink;

namespace Virt.Network.Tests.Netlink;

/// <summary>The bytes of rtnetlink requests, checked against hand-assembled ones (layouts from the kernel's UAPI headers).</summary>
public sealed class LinkOperationEncoderTests
{
    private static readonly FakeLinkIndexes Links = new(new() { ["ul0"] = 4, ["vx0"] = 5, ["br0"] = 2, ["vp0"] = 6 }, "br0");

    [Fact]
    public void SetLinkUpNamesTheLinkAndChangesOnlyTheUpFlag()
    {
        Assert.Equal(
            "28000000" + "1000" + "0500" + "01000000" + "00000000" // nlmsghdr: 40 bytes, RTM_NEWLINK, REQUEST|ACK, seq 1, pid 0
            + "00000000" + "00000000" + "01000000" + "01000000" // ifinfomsg: AF_UNSPEC, index 0, flags IFF_UP, change IFF_UP
            + "0800" + "0300" + "62723000", // IFLA_IFNAME "br0\0"
            Encode(new SetLinkUp("br0")));
    }

    [Fact]
    public void CreateVxlanNestsItsDataWithTheBigEndianPortAndSetsTheAliasInASecondRequest()
    {
        Assert.Equal(
            "64000000" + "1000" + "0506" + "01000000" + "00000000" // 100 bytes, RTM_NEWLINK, REQUEST|ACK|EXCL|CREATE
            + "00000000000000000000000000000000"
            + "0800" + "0300" + "76783000" // IFLA_IFNAME "vx0"
            + "3c00" + "1200" // IFLA_LINKINFO, 60 bytes
            + "0a00" + "0100" + "7678" + "6c61" + "6e00" + "0000" // IFLA_INFO_KIND "vxlan\0" (10) padded to 12
            + "2c00" + "0200" // IFLA_INFO_DATA, 44 bytes
            + "0800" + "0100" + "2a000000" // IFLA_VXLAN_ID 42
            + "0800" + "0400" + "c6336401" // IFLA_VXLAN_LOCAL 198.51.100.1
            + "0600" + "0f00" + "12b5" + "0000" // IFLA_VXLAN_PORT 4789, network order, padded
            + "0500" + "0700" + "00" + "000000" // IFLA_VXLAN_LEARNING 0
            + "0800" + "0300" + "04000000" // IFLA_VXLAN_LINK ul0 = 4
            + "30000000" + "1000" + "0500" + "02000000" + "00000000" // then RTM_NEWLINK REQUEST|ACK, seq 2
            + "00000000000000000000000000000000"
            + "0800" + "0300" + "76783000"
            + "0600" + "1400" + "6100" + "0000", // IFLA_IFALIAS "a\0"
            Encode(new CreateVxlan("vx0", "a", 42, IPAddress.Parse("198.51.100.1"), 4789, "ul0", null)));
    }

    [Fact]
    public void HeadEndReplicationEntriesAreAppendedAsPermanentSelfEntries()
    {
        Assert.Equal(
            "30000000" + "1c00" + "050c" + "01000000" + "00000000" // 48 bytes, RTM_NEWNEIGH, REQUEST|ACK|CREATE|APPEND
            + "07" + "00" + "0000" + "05000000" + "8000" + "02" + "00" // ndmsg: AF_BRIDGE, vx0, NUD_PERMANENT, NTF_SELF
            + "0a00" + "0200" + "000000000000" + "0000" // NDA_LLADDR, padded
            + "0800" + "0100" + "c6336402", // NDA_DST 198.51.100.2
            Encode(new AddFdbEntry("vx0", "00:00:00:00:00:00", IPAddress.Parse("198.51.100.2"))));
    }

    [Fact]
    public void AnOnLinkRouteHasLinkScopeAndAGatewayRouteUniverseScope()
    {
        var onLink = Encode(new AddRoute(IPNetwork.Parse("203.0.113.0/24"), null, "br0"));
        var viaGateway = Encode(new AddRoute(IPNetwork.Parse("2001:db8:2::/64"), IPAddress.Parse("2001:db8::fe"), "br0"));

        // rtmsg: family, dst_len, src_len, tos, table main, protocol static, scope, type unicast, flags
        Assert.Equal("02" + "18" + "00" + "00" + "fe" + "04" + "fd" + "01" + "00000000", onLink[32..56]);
        Assert.EndsWith("0800" + "0100" + "cb007100" + "0800" + "0400" + "02000000", onLink, StringComparison.Ordinal); // RTA_DST, RTA_OIF
        Assert.Equal("0a" + "40" + "00" + "00" + "fe" + "04" + "00" + "01" + "00000000", viaGateway[32..56]);
        Assert.Contains("1400" + "0500" + "20010db80000000000000000000000fe", viaGateway, StringComparison.Ordinal); // RTA_GATEWAY, 16 bytes
    }

    [Fact]
    public void AVethPeerIsANestedLinkMessageWithItsNameAndNamespaceDescriptor()
    {
        var writer = new NetlinkMessageWriter();
        Assert.Equal(2, LinkOperationEncoder.Encode(writer, new CreateVeth("vp0", "vp0p", "virt:port:a/eth0", 1400, "/run/netns/x"), Links, peerNamespace: 7));

        var messages = new NetlinkMessageEnumerator(writer.Written);
        Assert.True(messages.MoveNext());
        var peer = Find(Find(Find(messages.Current.Payload[16..], LinkAttribute.LinkInfo).Payload, LinkInfoAttribute.Data).Payload, VethAttribute.Peer);
        Assert.Equal(new byte[16], peer.Payload[..16].ToArray()); // the peer's own struct ifinfomsg, then its attributes
        Assert.Equal(
            ("vp0p", 1400, 7),
            (Find(peer.Payload[16..], LinkAttribute.Name).AsString(), Find(peer.Payload[16..], LinkAttribute.Mtu).AsInt32(), Find(peer.Payload[16..], LinkAttribute.NetNsFd).AsInt32()));
        Assert.True(messages.MoveNext()); // the alias
        Assert.Equal("virt:port:a/eth0", Find(messages.Current.Payload[16..], LinkAttribute.Alias).AsString());
    }

    [Fact]
    public void APortVlanOnTheBridgeItselfIsFlaggedSelf()
    {
        var port = Encode(new AddPortVlan("vp0", 10, Pvid: true, Untagged: true));
        var bridge = Encode(new AddPortVlan("br0", 10, Pvid: false, Untagged: false));

        Assert.EndsWith("0c00" + "1a00" + "0800" + "0200" + "0600" + "0a00", port, StringComparison.Ordinal); // IFLA_AF_SPEC { IFLA_BRIDGE_VLAN_INFO pvid|untagged, vid 10 }
        Assert.Equal("07", port[32..34]); // AF_BRIDGE
        Assert.EndsWith("1400" + "1a00" + "0600" + "0000" + "0200" + "0000" + "0800" + "0200" + "0000" + "0a00", bridge, StringComparison.Ordinal);
    }

    [Fact]
    public void AVlanFilteringBridgeCarriesItsSettingsAndAPlainOneNone()
    {
        Assert.Contains("1400" + "0200" + "0500" + "0700" + "01000000" + "0600" + "2700" + "0a000000", Encode(new CreateBridge("br1", "a", null, true, 10)), StringComparison.Ordinal);
        Assert.DoesNotContain("0200" + "0500" + "0700", Encode(new CreateBridge("br1", "a", null, false)), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("52:54:00:12:34")]
    [InlineData("52:54:00:12:34:zz")]
    public void AMalformedMacIsRefusedWithTheExpectedForm(string mac)
    {
        var error = Assert.Throws<ArgumentException>(() => Encode(new AddFdbEntry("vx0", mac, IPAddress.Parse("198.51.100.2"))));

        Assert.Contains("e.g. 52:54:00:12:34:56", error.Message, StringComparison.Ordinal);
    }

    private static NetlinkAttribute Find(ReadOnlySpan<byte> attributes, ushort type)
    {
        foreach (var attribute in new NetlinkAttributeEnumerator(attributes))
        {
            if (attribute.Type == type)
            {
                return attribute;
            }
        }

        throw new InvalidOperationException($"no attribute {type}");
    }

    private static string Encode(LinkOperation operation)
    {
        var writer = new NetlinkMessageWriter();
        LinkOperationEncoder.Encode(writer, operation, Links);
        return Convert.ToHexStringLower(writer.Written);
    }
}
