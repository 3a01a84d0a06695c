using System.IO.Abstractions;

namespace Virt.Network.Dhcp;

/// <summary>Where one network's dnsmasq keeps its files: <c>STATE/dnsmasq/NETWORK/</c>.</summary>
internal sealed record DnsmasqFiles(string Directory)
{
    /// <summary>The files of <paramref name="network"/> under the backend's state directory.</summary>
    public static DnsmasqFiles For(IFileSystem fileSystem, string stateDirectory, string network) =>
        new(fileSystem.Path.Combine(stateDirectory, "dnsmasq", network));

    /// <summary>The whole configuration; dnsmasq is started with only <c>--conf-file</c> naming it.</summary>
    public string Configuration => Directory + "/dnsmasq.conf";

    /// <summary>dhcp-hostsfile: <c>mac,address[,hostname]</c> per reservation; re-read on SIGHUP.</summary>
    public string Hosts => Directory + "/hosts";

    /// <summary>addn-hosts: <c>address hostname</c> per named reservation, so names resolve before a lease exists; re-read on SIGHUP.</summary>
    public string DnsHosts => Directory + "/addn-hosts";

    /// <summary>dhcp-leasefile, written by dnsmasq; kept across restarts so clients keep their addresses.</summary>
    public string Leases => Directory + "/leases";

    /// <summary>pid-file, written by the daemonized dnsmasq.</summary>
    public string Pid => Directory + "/pid";

    /// <summary>log-facility: dnsmasq's own log, whose tail goes into start errors.</summary>
    public string Log => Directory + "/dnsmasq.log";
}
