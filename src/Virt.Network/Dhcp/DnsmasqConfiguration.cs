using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Virt.Network.Host;

namespace Virt.Network.Dhcp;

/// <summary>
/// Renders what a network's dnsmasq reads: its configuration file (everything is in it; the command line names only the
/// file), the DHCP hosts file and the DNS hosts file. Pure: the same instance gives the same bytes, so comparing the
/// rendering with the files on disk tells whether dnsmasq must restart (configuration) or only re-read (hosts).
/// </summary>
internal static class DnsmasqConfiguration
{
    /// <summary>The configuration file's content.</summary>
    public static string Render(DhcpInstance instance, DnsmasqFiles files)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var text = new StringBuilder();
        Line(text, $"# dnsmasq for network '{instance.Network}', written by the Virt SDK: changes here are overwritten.");

        // Serve only the bridge, only on the gateway's addresses: never the host's other interfaces or loopback.
        Line(text, "interface=" + instance.Bridge);
        Line(text, "bind-interfaces");
        Line(text, "except-interface=lo");
        Line(text, "listen-address=" + instance.Ipv4Gateway);
        if (instance.Ipv6Gateway is not null)
        {
            Line(text, "listen-address=" + instance.Ipv6Gateway);
        }

        // The files live in the SDK's state directory, which only root may enter (0700): dnsmasq must stay root to
        // re-read its hosts files on SIGHUP (as 'nobody' it cannot open them).
        Line(text, "user=root");
        Line(text, "pid-file=" + files.Pid);
        Line(text, "log-facility=" + files.Log);

        // Never forward a query anywhere, and never answer from the host's own /etc/hosts.
        Line(text, "no-resolv");
        Line(text, "no-hosts");
        if (instance.Dns)
        {
            Line(text, "addn-hosts=" + files.DnsHosts);
            if (instance.DnsDomain is not null)
            {
                Line(text, "domain=" + instance.DnsDomain);
                Line(text, $"local=/{instance.DnsDomain}/");
                Line(text, "expand-hosts");
            }

            Line(text, "domain-needed");
            Line(text, "bogus-priv");
        }
        else
        {
            Line(text, "port=0");
        }

        RenderDhcp(text, instance, files);
        return text.ToString();
    }

    /// <summary>The dhcp-hostsfile: one <c>mac,address[,hostname]</c> line per reservation.</summary>
    public static string RenderHosts(DhcpInstance instance)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var text = new StringBuilder();
        foreach (var host in instance.Hosts)
        {
            Line(text, host.Hostname is null
                ? $"{host.MacAddress.ToLowerInvariant()},{host.Address}"
                : $"{host.MacAddress.ToLowerInvariant()},{host.Address},{host.Hostname}");
        }

        return text.ToString();
    }

    /// <summary>The addn-hosts file: one <c>address hostname</c> line per named reservation (expand-hosts adds the domain).</summary>
    public static string RenderDnsHosts(DhcpInstance instance)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var text = new StringBuilder();
        foreach (var host in instance.Hosts.Where(h => h.Hostname is not null))
        {
            Line(text, $"{host.Address} {host.Hostname}");
        }

        return text.ToString();
    }

    /// <summary>Whether the instance hands out any address (a dynamic range, or reservations to answer).</summary>
    public static bool ServesDhcp(DhcpInstance instance) =>
        instance.Ipv4RangeStart is not null || instance.Hosts.Count > 0 || instance.Ipv6Subnet is not null;

    private static void RenderDhcp(StringBuilder text, DhcpInstance instance, DnsmasqFiles files)
    {
        if (!ServesDhcp(instance))
        {
            return;
        }

        var lease = LeaseTime(instance.LeaseTime);
        var netmask = Ipam.Netmask(instance.Ipv4Subnet);
        if (instance.Ipv4RangeStart is not null && instance.Ipv4RangeEnd is not null)
        {
            Line(text, $"dhcp-range={instance.Ipv4RangeStart},{instance.Ipv4RangeEnd},{netmask},{lease}");
        }
        else if (instance.Hosts.Count > 0)
        {
            // No dynamic range: answer the reserved MACs only.
            Line(text, $"dhcp-range={Ipam.NetworkAddress(instance.Ipv4Subnet)},static,{netmask},{lease}");
        }

        Line(text, "dhcp-option=option:router," + instance.Ipv4Gateway);
        if (!instance.Dns)
        {
            // dnsmasq advertises itself as the DNS server unless told to send no such option.
            Line(text, "dhcp-option=option:dns-server");
        }

        if (instance.Ipv6Subnet is { } ipv6 && ipv6.BaseAddress.AddressFamily == AddressFamily.InterNetworkV6)
        {
            // Router advertisements for SLAAC, stateless DHCPv6 for the DNS server, on the bridge's own prefix.
            Line(text, "enable-ra");
            Line(text, $"dhcp-range=::,constructor:{instance.Bridge},ra-stateless,{ipv6.PrefixLength.ToString(CultureInfo.InvariantCulture)},{lease}");
        }

        Line(text, "dhcp-leasefile=" + files.Leases);
        Line(text, "dhcp-hostsfile=" + files.Hosts);
        Line(text, "dhcp-authoritative");
    }

    private static string LeaseTime(TimeSpan leaseTime) =>
        leaseTime == Timeout.InfiniteTimeSpan || leaseTime >= TimeSpan.FromDays(365 * 100)
            ? "infinite"
            : ((long)leaseTime.TotalSeconds).ToString(CultureInfo.InvariantCulture);

    /// <summary>Appends one line; a value with a line break (which validation refuses) would smuggle in an option, so it is refused here too.</summary>
    private static void Line(StringBuilder text, string line)
    {
        if (line.AsSpan().IndexOfAny('\n', '\r', '\0') >= 0)
        {
            throw new ArgumentException($"a dnsmasq setting may not contain a line break: '{line.ReplaceLineEndings(" ")}'", nameof(line));
        }

        text.Append(line).Append('\n');
    }
}
