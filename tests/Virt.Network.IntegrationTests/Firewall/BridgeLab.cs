using System.Diagnostics;
using Virt.Network.Firewall;
using Virt.Network.Hosting;
using Virt.Network.IntegrationTests.Infrastructure;

namespace Virt.Network.IntegrationTests.Firewall;

/// <summary>
/// A "host" namespace with a bridge <c>br0</c> and two "guests" (namespaces a and b) on it through veth pairs whose host
/// ends (<c>va</c>, <c>vb</c>) are the firewalled ports, built with <c>ip</c>; the firewall host acts on the host namespace.
/// </summary>
internal sealed class BridgeLab : IDisposable
{
    public const string MacA = "02:00:00:00:00:0a";
    public const string MacB = "02:00:00:00:00:0b";
    public const string AddressA = "192.0.2.10";
    public const string AddressB = "192.0.2.11";

    private readonly List<Process> listeners = [];
    private readonly List<TestNamespace> extra = [];

    private BridgeLab(TestNamespace host, TestNamespace a, TestNamespace b)
    {
        Host = host;
        A = a;
        B = b;
        Firewall = new NftablesFirewallHost(new NetworkOptions { NetworkNamespace = host.Path });
    }

    public TestNamespace Host { get; }

    public TestNamespace A { get; }

    public TestNamespace B { get; }

    public NftablesFirewallHost Firewall { get; }

    public static BridgeLab Create()
    {
        HostRequirement.Require(File.Exists("/usr/lib/x86_64-linux-gnu/libnftables.so.1") || File.Exists("/usr/lib/aarch64-linux-gnu/libnftables.so.1"), "libnftables (apt-get install nftables)");
        HostRequirement.Require(File.Exists("/bin/busybox") || File.Exists("/usr/bin/busybox"), "busybox (apt-get install busybox-static)");
        HostRequirement.Require(File.Exists("/proc/sys/net/bridge/bridge-nf-call-iptables"), "br_netfilter (modprobe br_netfilter)");
        var host = TestNamespace.Create("fwh");
        var a = TestNamespace.Create("fwa");
        var b = TestNamespace.Create("fwb");
        var lab = new BridgeLab(host, a, b);
        try
        {
            host.Exec("sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=1", "net.bridge.bridge-nf-call-ip6tables=1");
            host.Exec("ip", "link", "add", "br0", "type", "bridge");
            host.Exec("ip", "link", "set", "br0", "up");
            lab.Plug(a, "va", MacA, AddressA);
            lab.Plug(b, "vb", MacB, AddressB);
            return lab;
        }
        catch
        {
            lab.Dispose();
            throw;
        }
    }

    /// <summary>Whether <paramref name="from"/> gets an answer to one ping of <paramref name="address"/> (from <paramref name="source"/>).</summary>
    public static bool Pings(TestNamespace from, string address, string? source = null) =>
        from.TryExec(["busybox", "ping", "-c", "1", "-W", "2", .. source is null ? Array.Empty<string>() : ["-I", source], address]).ExitCode == 0;

    /// <summary>Whether a TCP connection from <paramref name="from"/> reaches the listener and reads its greeting.</summary>
    public static bool Connects(TestNamespace from, string address, int port)
    {
        var (exitCode, output) = from.TryExec("busybox", "nc", "-w", "2", address, port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return exitCode == 0 && output.Contains("hello", StringComparison.Ordinal);
    }

    /// <summary>Starts a TCP listener in <paramref name="guest"/> that greets every connection, and waits until it answers.</summary>
    public void Listen(TestNamespace guest, int port)
    {
        var start = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { "netns", "exec", guest.Name, "busybox", "nc", "-ll", "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-e", "echo", "hello" })
        {
            start.ArgumentList.Add(argument);
        }

        listeners.Add(Process.Start(start)!);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!Connects(guest, "127.0.0.1", port))
        {
            Assert.True(DateTime.UtcNow < deadline, $"the listener on port {port} in {guest.Name} did not answer in 30 s");
            Thread.Sleep(50);
        }
    }

    /// <summary>
    /// Gives the bridge the gateway 192.0.2.1 (a's default route) and joins an "outside" namespace to the host by a veth
    /// <c>up0</c> (198.51.100.1 on the host, .2 outside) with IP forwarding on; outside has no route back to 192.0.2.0/24.
    /// </summary>
    public TestNamespace ConnectOutside()
    {
        var outside = TestNamespace.Create("fwo");
        extra.Add(outside);
        Host.Exec("sysctl", "-qw", "net.ipv4.ip_forward=1");
        Host.Exec("ip", "addr", "add", "192.0.2.1/24", "dev", "br0");
        A.Exec("ip", "route", "add", "default", "via", "192.0.2.1");
        Host.Exec("ip", "link", "add", "up0", "type", "veth", "peer", "name", "eth0", "netns", outside.Name);
        Host.Exec("ip", "addr", "add", "198.51.100.1/24", "dev", "up0");
        Host.Exec("ip", "link", "set", "up0", "up");
        outside.Exec("ip", "addr", "add", "198.51.100.2/24", "dev", "eth0");
        outside.Exec("ip", "link", "set", "eth0", "up");
        return outside;
    }

    public void Dispose()
    {
        foreach (var namespaceMade in extra)
        {
            namespaceMade.Dispose();
        }

        foreach (var listener in listeners)
        {
            if (!listener.HasExited)
            {
                listener.Kill(entireProcessTree: true);
                listener.WaitForExit();
            }

            listener.Dispose();
        }

        A.Dispose();
        B.Dispose();
        Host.Dispose();
    }

    private void Plug(TestNamespace guest, string hostInterface, string mac, string address)
    {
        Host.Exec("ip", "link", "add", hostInterface, "type", "veth", "peer", "name", "eth0", "netns", guest.Name);
        Host.Exec("ip", "link", "set", hostInterface, "master", "br0", "up");
        guest.Exec("ip", "link", "set", "eth0", "address", mac);
        guest.Exec("ip", "addr", "add", address + "/24", "dev", "eth0");
        guest.Exec("ip", "link", "set", "eth0", "up");
    }
}
