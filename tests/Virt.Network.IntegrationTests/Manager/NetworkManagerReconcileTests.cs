using System.Diagnostics;
using Virt.Network.Manager;
using Virt.Networking;

namespace Virt.Network.IntegrationTests.Manager;

/// <summary>
/// Drift made by hand with <c>ip</c>, <c>bridge</c> and <c>kill</c> inside the namespace (a deleted bridge, VXLAN device,
/// address or FDB entry, a dead dnsmasq): CheckDriftAsync names each, ApplyAsync repairs it, and then nothing drifts and
/// nothing is planned.
/// </summary>
public sealed class NetworkManagerReconcileTests : IDisposable
{
    private readonly ManagerLab _lab = ManagerLab.Create("drift");

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public void Dispose() => _lab.Dispose();

    [Theory(Timeout = 180_000)]
    [InlineData("nat1", "link vn-nat1", "bridge", "missing", "ip", "link", "del", "vn-nat1")]
    [InlineData("ov", "link vx-ov", "vxlan id 42 local 198.51.100.1", "missing", "ip", "link", "del", "vx-ov")]
    [InlineData("nat1", "address 192.0.2.1/24 on vn-nat1", "present", "missing", "ip", "addr", "del", "192.0.2.1/24", "dev", "vn-nat1")]
    [InlineData("ov", "fdb 00:00:00:00:00:00 dst 198.51.100.3 on vx-ov", "present", "missing", "bridge", "fdb", "del", "00:00:00:00:00:00", "dev", "vx-ov", "dst", "198.51.100.3")]
    public async Task Drift_made_by_hand_is_reported_and_repaired(string network, string drifted, string expectedStart, string actual, params string[] command)
    {
        var ct = TestContext.Current.CancellationToken;
        var manager = await ApplyBothAsync();

        _lab.Namespace.Exec(command);

        var drift = await manager.CheckDriftAsync(ct);
        // The first report for the object is what repairing it starts with (a link's creation before it is brought up).
        var report = drift.FirstOrDefault(d => d.Object == drifted);
        Assert.True(report is not null, $"no drift for {drifted}: " + string.Join("; ", drift));
        Assert.Equal((network, actual), (report.Network, report.Actual));
        Assert.StartsWith(expectedStart, report.Expected, StringComparison.Ordinal);
        Assert.All(drift, d => Assert.Equal(network, d.Network));

        await manager.ApplyAsync(network, ct);

        await AssertConvergedAsync(manager);
    }

    [Fact(Timeout = 180_000)]
    public async Task A_killed_dnsmasq_is_reported_and_restarted()
    {
        var ct = TestContext.Current.CancellationToken;
        var manager = await ApplyBothAsync();
        var pid = Assert.Single(_lab.DnsmasqPids());

        using (var dnsmasq = Process.GetProcessById(pid))
        {
            dnsmasq.Kill();
            await dnsmasq.WaitForExitAsync(ct);
        }

        var drift = await manager.CheckDriftAsync(ct);
        Assert.Equal([new NetworkDrift("nat1", "dnsmasq for nat1", "running", "not running")], drift);

        await manager.ApplyAsync("nat1", ct);

        await AssertConvergedAsync(manager);
        Assert.NotEqual(pid, Assert.Single(_lab.DnsmasqPids()));
    }

    /// <summary>A NAT network (bridge, gateway, nftables masquerade, dnsmasq) and a VXLAN overlay over a veth underlay with two peers.</summary>
    private async Task<NetworkManager> ApplyBothAsync()
    {
        _lab.Namespace.Exec("ip", "link", "add", "ul0", "type", "veth", "peer", "name", "ul0p");
        _lab.Namespace.Exec("ip", "addr", "add", "198.51.100.1/24", "dev", "ul0");
        _lab.Namespace.Exec("ip", "link", "set", "ul0", "up");
        var manager = _lab.NewManager();
        await manager.DefineAsync(new NatNetworkDefinition("nat1", new NetworkSubnet("192.0.2.0/24", "192.0.2.1") { DhcpStart = "192.0.2.100", DhcpEnd = "192.0.2.150" }), Token);
        await manager.DefineAsync(new VxlanNetworkDefinition("ov", 42, "198.51.100.1") { UnderlayInterface = "ul0", Peers = ["198.51.100.2", "198.51.100.3"], Ipv4 = new NetworkSubnet("203.0.113.0/24", "203.0.113.1") }, Token);
        await manager.ApplyAsync("nat1", Token);
        await manager.ApplyAsync("ov", Token);
        await AssertConvergedAsync(manager);
        return manager;
    }

    private async Task AssertConvergedAsync(NetworkManager manager)
    {
        var drift = await manager.CheckDriftAsync(Token);
        Assert.True(drift.Count == 0, "still drifting: " + string.Join("; ", drift));
        foreach (var network in new[] { "nat1", "ov" })
        {
            var plan = await manager.PlanAsync(network, Token);
            Assert.True(plan.IsEmpty, $"{network} still plans: " + string.Join("; ", plan.Changes));
        }

        Assert.Equal(
            ["lo - -", "ul0 veth -", "ul0p veth -", "vn-nat1 bridge virt:network:nat1", "vn-ov bridge virt:network:ov", "vx-ov vxlan virt:network:ov"],
            _lab.LinkNames());
        Assert.Single(_lab.DnsmasqPids());
    }
}
