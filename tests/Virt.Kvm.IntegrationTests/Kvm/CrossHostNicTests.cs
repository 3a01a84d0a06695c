using Virt.Kvm.IntegrationTests.Infrastructure;
using Virt.Tests.Lab;

namespace Virt.Kvm.IntegrationTests.Kvm;

/// <summary>
/// A VM's NIC between two hosts: each host has its own bridge of the same name (as each Proxmox node has its own
/// <c>vmbr0</c>), with a different address on each. Migrated from A to B, the guest's NIC is on B's bridge before it
/// runs again there: it reaches B's address and B reaches it, and A's bridge has no port left.
/// </summary>
[Collection(TestGuestCollection.Name)]
public sealed class CrossHostNicTests
{
    private const string Bridge = "vmbr-lab";
    private const string GuestAddress = "203.0.113.10";

    [Fact(Timeout = 600_000)]
    public async Task A_bridged_NIC_is_recreated_on_the_destinations_bridge_of_the_same_name()
    {
        var ct = TestContext.Current.CancellationToken;
        HostRequirement.RequireTool("ping", "iputils-ping");
        await using var hosts = await TwoHosts.CreateAsync(ct);
        var (a, b) = (hosts.A, hosts.B);
        foreach (var (host, address) in new[] { (a, "203.0.113.1"), (b, "203.0.113.2") })
        {
            await hosts.Lab.RunInAsync(host.Name, "ip", "link", "add", Bridge, "type", "bridge");
            await hosts.Lab.RunInAsync(host.Name, "ip", "addr", "add", $"{address}/24", "dev", Bridge);
            await hosts.Lab.RunInAsync(host.Name, "ip", "link", "set", Bridge, "up");
        }

        await a.RunAsync("start", "wired", $"bridge={Bridge}");
        await a.ExecAsync("wired", "/bin/sh", "-c", $"/bin/ip link set eth0 up && /bin/ip addr add {GuestAddress}/24 dev eth0");
        Assert.Contains("1 packets received", await PingFromGuestAsync(a, "203.0.113.1"), StringComparison.Ordinal);
        Assert.Single(await BridgePortsAsync(hosts, a));

        var ticket = await b.RunAsync("prepare", "wired", TwoHosts.AddressB, b.TlsDirectory, "host-a", "600", $"bridge={Bridge}");
        Assert.Single(await BridgePortsAsync(hosts, b)); // the waiting QEMU's tap is on B's bridge before the switch-over
        Assert.Equal("completed", await a.RunAsync("migrate", "wired", ticket, a.TlsDirectory, "0"));
        await b.WaitForStateAsync("wired", "Running", TimeSpan.FromSeconds(30));

        Assert.Empty(await BridgePortsAsync(hosts, a));
        Assert.Single(await BridgePortsAsync(hosts, b));
        Assert.Contains("1 packets received", await PingFromGuestAsync(b, "203.0.113.2"), StringComparison.Ordinal);
        Assert.Contains("1 received", await hosts.Lab.RunInAsync(b.Name, "ping", "-c", "1", "-W", "5", GuestAddress), StringComparison.Ordinal);
        Assert.Contains("52:54:00:0a:0b:0c", await b.ExecAsync("wired", "/bin/cat", "/sys/class/net/eth0/address"), StringComparison.Ordinal);
        await b.RunAsync("delete", "wired");
    }

    private static Task<string> PingFromGuestAsync(LabHost host, string address) =>
        host.ExecAsync("wired", "/bin/sh", "-c", $"/bin/ping -c 1 -W 5 {address} || true");

    /// <summary>The interfaces enslaved to the bridge in the host's namespace.</summary>
    private static async Task<string[]> BridgePortsAsync(TwoHosts hosts, LabHost host) =>
        (await hosts.Lab.RunInAsync(host.Name, "ip", "-o", "link", "show", "master", Bridge)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
}
