using System.Net;
using Virt.Network.Dhcp;
using Virt.Network.Host;
using Virt.Networking;

namespace Virt.Network.Tests.Dhcp;

public sealed class DnsmasqConfigurationTests
{
    private static readonly DnsmasqFiles Files = new("/state/dnsmasq/lab");

    internal static DhcpInstance Lab { get; } = new(
        "lab",
        "vn-lab",
        IPAddress.Parse("192.0.2.1"),
        IPNetwork.Parse("192.0.2.0/24"),
        IPAddress.Parse("192.0.2.100"),
        IPAddress.Parse("192.0.2.200"),
        TimeSpan.FromHours(1),
        [new DhcpReservation("52:54:00:AA:00:01", "192.0.2.10", "web"), new DhcpReservation("52:54:00:aa:00:02", "192.0.2.11")],
        Dns: true,
        DnsDomain: "lab");

    [Fact]
    public void ANatNetworkWithDnsRendersEverythingInTheFile() => Assert.Equal(
        """
        # dnsmasq for network 'lab', written by the Virt SDK: changes here are overwritten.
        interface=vn-lab
        bind-interfaces
        except-interface=lo
        listen-address=192.0.2.1
        user=root
        pid-file=/state/dnsmasq/lab/pid
        log-facility=/state/dnsmasq/lab/dnsmasq.log
        no-resolv
        no-hosts
        addn-hosts=/state/dnsmasq/lab/addn-hosts
        domain=lab
        local=/lab/
        expand-hosts
        domain-needed
        bogus-priv
        dhcp-range=192.0.2.100,192.0.2.200,255.255.255.0,3600
        dhcp-option=option:router,192.0.2.1
        dhcp-leasefile=/state/dnsmasq/lab/leases
        dhcp-hostsfile=/state/dnsmasq/lab/hosts
        dhcp-authoritative

        """,
        DnsmasqConfiguration.Render(Lab, Files));

    [Fact]
    public void WithoutDnsThePortIsZeroAndNoDnsServerIsAdvertised() => Assert.Equal(
        """
        # dnsmasq for network 'lab', written by the Virt SDK: changes here are overwritten.
        interface=vn-lab
        bind-interfaces
        except-interface=lo
        listen-address=192.0.2.1
        user=root
        pid-file=/state/dnsmasq/lab/pid
        log-facility=/state/dnsmasq/lab/dnsmasq.log
        no-resolv
        no-hosts
        port=0
        dhcp-range=192.0.2.0,static,255.255.255.0,infinite
        dhcp-option=option:router,192.0.2.1
        dhcp-option=option:dns-server
        dhcp-leasefile=/state/dnsmasq/lab/leases
        dhcp-hostsfile=/state/dnsmasq/lab/hosts
        dhcp-authoritative

        """,
        DnsmasqConfiguration.Render(Lab with { Dns = false, DnsDomain = null, Ipv4RangeStart = null, Ipv4RangeEnd = null, LeaseTime = Timeout.InfiniteTimeSpan }, Files));

    [Fact]
    public void Ipv6AddsRouterAdvertisementsOnTheBridgesPrefix()
    {
        var text = DnsmasqConfiguration.Render(Lab with { Ipv6Subnet = IPNetwork.Parse("2001:db8:1::/64"), Ipv6Gateway = IPAddress.Parse("2001:db8:1::1") }, Files);
        Assert.Contains("listen-address=2001:db8:1::1\n", text, StringComparison.Ordinal);
        Assert.Contains("enable-ra\ndhcp-range=::,constructor:vn-lab,ra-stateless,64,3600\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void HostsFilesListTheReservations()
    {
        Assert.Equal("52:54:00:aa:00:01,192.0.2.10,web\n52:54:00:aa:00:02,192.0.2.11\n", DnsmasqConfiguration.RenderHosts(Lab));
        Assert.Equal("192.0.2.10 web\n", DnsmasqConfiguration.RenderDnsHosts(Lab));
    }

    [Fact]
    public void AValueWithALineBreakCannotAddAnOption() =>
        Assert.Throws<ArgumentException>(() => DnsmasqConfiguration.Render(Lab with { Bridge = "vn-lab\ndhcp-script=/x" }, Files));
}
