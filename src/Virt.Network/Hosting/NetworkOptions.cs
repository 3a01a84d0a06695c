namespace Virt.Network.Hosting;

/// <summary>Options of the network backend.</summary>
public sealed class NetworkOptions
{
    /// <summary>Where definitions, ports, the apply journal and dnsmasq's files are kept. Default <c>/var/lib/virt/network</c>.</summary>
    public string StateDirectory { get; set; } = "/var/lib/virt/network";

    /// <summary>
    /// The network namespace to manage, as a path (<c>/run/netns/NAME</c> or <c>/proc/PID/ns/net</c>); <see langword="null"/>
    /// for the namespace of the process. Netlink and nftables sockets are opened inside it and dnsmasq runs inside it, so
    /// one process can manage several isolated "hosts" (tests, nested labs).
    /// </summary>
    public string? NetworkNamespace { get; set; }

    /// <summary>The name of the SDK's nftables table (family inet, plus a bridge-family table of the same name). Default <c>virt</c>.</summary>
    public string NftablesTable { get; set; } = "virt";

    /// <summary>The dnsmasq binary. Default <c>/usr/sbin/dnsmasq</c> (Debian's dnsmasq-base).</summary>
    public string DnsmasqPath { get; set; } = "/usr/sbin/dnsmasq";

    /// <summary>How long an operation waits for another one on the same network (from any process). Default 30 s.</summary>
    public TimeSpan LockTimeout { get; set; } = TimeSpan.FromSeconds(30);
}
