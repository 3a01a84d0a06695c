using Virt.Network.Dhcp;
using Virt.Networking;

namespace Virt.Network.Tests.Dhcp;

public sealed class DnsmasqLeasesTests
{
    [Fact]
    public void LeasesAreParsedAndGarbageIsSkipped()
    {
        var leases = DnsmasqLeases.Parse(
            "1765000000 52:54:00:AA:00:01 192.0.2.10 web 01:52:54:00:aa:00:01\n" +
            "0 52:54:00:aa:00:02 192.0.2.150 * *\n" +
            "duid 00:01:00:01:2c:aa:bb:cc:52:54:00:aa:00:03\n" +
            "1765000000 1234 2001:db8:1::99 v6host 00:01:00:01\n" +
            "garbage\n" +
            "\0\0\0\n" +
            "-1 52:54:00:aa:00:04 192.0.2.12 x *\n" +
            "99999999999999999999 52:54:00:aa:00:05 192.0.2.13 x *\n" +
            "1765000000 52:54:00:aa:00:06 192.0.2.300 x *\n" +
            "1765000000 not-a-mac 192.0.2.14 x *\n" +
            "1765000000 52:54:00:aa:00:07\n" +
            "  1765000000   52:54:00:aa:00:08  192.0.2.15  spaced  *  \r\n");
        Assert.Equal(
            [
                new DhcpLease("52:54:00:aa:00:01", "192.0.2.10", "web", DateTimeOffset.FromUnixTimeSeconds(1765000000)),
                new DhcpLease("52:54:00:aa:00:02", "192.0.2.150", null, null),
                new DhcpLease("52:54:00:aa:00:08", "192.0.2.15", "spaced", DateTimeOffset.FromUnixTimeSeconds(1765000000)),
            ],
            leases);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("\n\n")]
    public void NothingGivesNoLeases(string? text) => Assert.Empty(DnsmasqLeases.Parse(text));
}
