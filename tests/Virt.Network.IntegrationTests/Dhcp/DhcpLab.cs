using System.IO.Abstractions;
using System.Net;
using System.Text.RegularExpressions;
using Virt.Network.Dhcp;
using Virt.Network.Host;
using Virt.Network.Hosting;
using Virt.Network.IntegrationTests.Infrastructure;
using Virt.Networking;
using Virt.Processes;

namespace Virt.Network.IntegrationTests.Dhcp;

/// <summary>
/// A "host" namespace with a bridge (br0, 192.0.2.1/24) whose dnsmasq the SDK runs, and a "client" namespace joined to
/// the bridge by a veth whose client end has a fixed MAC; a state directory of its own. Everything goes on dispose:
/// the namespaces (with any process left in them) and the directory.
/// </summary>
internal sealed partial class DhcpLab : IDisposable
{
    public const string ClientMac = "52:54:00:c0:ff:ee";
    public const string ClientInterface = "veth-c";

    private DhcpLab(TestNamespace server, TestNamespace client, string stateDirectory)
    {
        Server = server;
        Client = client;
        StateDirectory = stateDirectory;
        Host = new DnsmasqHost(new NetworkOptions { StateDirectory = stateDirectory, NetworkNamespace = server.Path }, new FileSystem(), new ProcessRunner());
    }

    public TestNamespace Server { get; }

    public TestNamespace Client { get; }

    public string StateDirectory { get; }

    public DnsmasqHost Host { get; }

    /// <summary>The lab's instance: range .100–.200, DNS for domain "lab", with the given reservations.</summary>
    public static DhcpInstance Instance(params DhcpReservation[] reservations) => new(
        "lab",
        "br0",
        IPAddress.Parse("192.0.2.1"),
        IPNetwork.Parse("192.0.2.0/24"),
        IPAddress.Parse("192.0.2.100"),
        IPAddress.Parse("192.0.2.200"),
        TimeSpan.FromHours(1),
        reservations,
        Dns: true,
        DnsDomain: "lab");

    public static DhcpLab Create()
    {
        HostRequirement.RequireTool("dnsmasq", "dnsmasq-base");
        HostRequirement.RequireTool("busybox", "busybox-static");
        HostRequirement.RequireTool("nsenter", "util-linux");
        var server = TestNamespace.Create("dhcp");
        TestNamespace? client = null;
        try
        {
            client = TestNamespace.Create("cli");
            server.Exec("ip", "link", "add", "br0", "type", "bridge");
            server.Exec("ip", "addr", "add", "192.0.2.1/24", "dev", "br0");
            server.Exec("ip", "link", "set", "br0", "up");
            server.Exec("ip", "link", "add", "veth-s", "type", "veth", "peer", "name", ClientInterface, "netns", client.Name);
            server.Exec("ip", "link", "set", "veth-s", "master", "br0", "up");
            client.Exec("ip", "link", "set", ClientInterface, "address", ClientMac, "up");
            return new DhcpLab(server, client, Directory.CreateTempSubdirectory("virt-dhcp-").FullName);
        }
        catch
        {
            client?.Dispose();
            server.Dispose();
            throw;
        }
    }

    /// <summary>Asks for a lease with busybox's udhcpc from the client namespace (sending a hostname); returns the address offered and acknowledged.</summary>
    public IPAddress RequestLease(string hostname)
    {
        var (exitCode, output) = Client.TryExec("busybox", "udhcpc", "-i", ClientInterface, "-n", "-q", "-t", "5", "-T", "2", "-s", "/bin/true", "-x", "hostname:" + hostname);
        Assert.True(exitCode == 0, $"udhcpc got no lease (exit {exitCode}): {output}");
        var lease = LeaseObtained().Match(output);
        Assert.True(lease.Success, $"udhcpc printed no lease: {output}");
        return IPAddress.Parse(lease.Groups[1].Value);
    }

    /// <summary>Waits (bounded) until dnsmasq's leases file lists the MAC, and returns that lease.</summary>
    public async Task<DhcpLease> WaitForLeaseAsync(string mac)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (true)
        {
            var leases = await Host.ReadLeasesAsync("lab", TestContext.Current.CancellationToken);
            if (leases.FirstOrDefault(l => l.MacAddress == mac) is { } lease)
            {
                return lease;
            }

            Assert.False(deadline.IsCancellationRequested, $"dnsmasq's leases file never listed {mac}: [{string.Join(", ", leases)}]");
            await Task.Delay(50, TestContext.Current.CancellationToken);
        }
    }

    /// <summary>
    /// Whether the process runs: its /proc entry exists and it is not a zombie (a daemon that exited stays a zombie until
    /// whatever adopted it, not this test, reaps it).
    /// </summary>
    public static bool IsAlive(int? pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 1)..].Trim()[0] is not ('Z' or 'X');
        }
        catch (IOException)
        {
            return false;
        }
    }

    public void Dispose()
    {
        Client.Dispose();
        Server.Dispose();
        Directory.Delete(StateDirectory, recursive: true);
    }

    [GeneratedRegex("lease of ([0-9.]+) obtained")]
    private static partial Regex LeaseObtained();
}
