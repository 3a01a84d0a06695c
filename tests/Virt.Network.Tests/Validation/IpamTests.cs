using System.Net;
using Virt.Network.Dhcp;

namespace Virt.Network.Tests.Validation;

public sealed class IpamTests
{
    [Theory]
    [InlineData("192.0.2.0/24", "192.0.2.128/25", true)]
    [InlineData("192.0.2.128/25", "192.0.2.0/24", true)]
    [InlineData("192.0.2.0/25", "192.0.2.128/25", false)]
    [InlineData("192.0.2.0/24", "2001:db8::/32", false)]
    [InlineData("2001:db8::/32", "2001:db8:1::/64", true)]
    public void OverlapIsSymmetric(string first, string second, bool overlaps) =>
        Assert.Equal(overlaps, Ipam.Overlaps(IPNetwork.Parse(first), IPNetwork.Parse(second)));

    [Fact]
    public void NetworkBroadcastAndNetmask()
    {
        var subnet = IPNetwork.Parse("198.51.100.64/26");
        Assert.Equal(IPAddress.Parse("198.51.100.64"), Ipam.NetworkAddress(subnet));
        Assert.Equal(IPAddress.Parse("198.51.100.127"), Ipam.BroadcastAddress(subnet));
        Assert.Equal(IPAddress.Parse("255.255.255.192"), Ipam.Netmask(subnet));
        Assert.Null(Ipam.BroadcastAddress(IPNetwork.Parse("2001:db8::/64")));
        Assert.True(Ipam.IsHostAddress(subnet, IPAddress.Parse("198.51.100.65")));
        Assert.False(Ipam.IsHostAddress(subnet, IPAddress.Parse("198.51.100.127")));
    }

    [Theory]
    [InlineData("192.0.2.5/24", null, "192.0.2.0/24")]
    [InlineData("192.0.2.0/24", "192.0.2.0/24", null)]
    [InlineData("2001:db8::1/64", null, "2001:db8::/64")]
    [InlineData("192.0.2.0/33", null, null)]
    [InlineData("nonsense", null, null)]
    public void ParseCidrSuggestsTheNetworkForHostBits(string text, string? subnet, string? suggested)
    {
        var parsed = Ipam.ParseCidr(text);
        Assert.Equal(subnet, parsed.Subnet?.ToString());
        Assert.Equal(suggested, parsed.Suggested?.ToString());
    }

    [Fact]
    public void AddressesOrderNumerically() =>
        Assert.True(Ipam.Compare(IPAddress.Parse("192.0.2.9"), IPAddress.Parse("192.0.2.10")) < 0);
}
