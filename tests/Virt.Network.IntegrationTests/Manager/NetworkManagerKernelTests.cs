using System.IO.Abstractions;
using Virt.Network.Hosting;
using Virt.Network.IntegrationTests.Infrastructure;
using Virt.Network.Manager;
using Virt.Networking;
using Virt.Processes;

namespace Virt.Network.IntegrationTests.Manager;

/// <summary>
/// The manager over the real host layers (rtnetlink, nftables, dnsmasq) inside a namespace of the test's own: a NAT
/// network applied, re-planned empty, a port connected and released, drift made by hand and repaired, and deleted.
/// </summary>
public sealed class NetworkManagerKernelTests : IDisposable
{
    private readonly TestNamespace _namespace = TestNamespace.Create("mgr");
    private readonly string _state = Path.Combine(Path.GetTempPath(), "virt-network-it-" + Guid.NewGuid().ToString("N"));

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public void Dispose()
    {
        _namespace.Dispose();
        if (Directory.Exists(_state))
        {
            Directory.Delete(_state, recursive: true);
        }
    }

    [Fact]
    public async Task Nat_network_lives_its_whole_life_on_the_real_kernel()
    {
        var manager = new NetworkManager(new NetworkOptions { StateDirectory = _state, NetworkNamespace = _namespace.Path }, new FileSystem(), new ProcessRunner());
        await manager.DefineAsync(new NatNetworkDefinition("nat1", new NetworkSubnet("192.0.2.0/24", "192.0.2.1") { DhcpStart = "192.0.2.100", DhcpEnd = "192.0.2.150" }), Token);

        var applied = await manager.ApplyAsync("nat1", Token);

        Assert.Contains(applied.Changes, c => c.Layer == NetworkChangeLayer.Nftables);
        Assert.True((await manager.PlanAsync("nat1", Token)).IsEmpty, string.Join('\n', (await manager.PlanAsync("nat1", Token)).Changes));
        Assert.Contains("virt:network:nat1", _namespace.Exec("ip", "-d", "link", "show", "vn-nat1"), StringComparison.Ordinal);
        Assert.Contains("192.0.2.1/24", _namespace.Exec("ip", "addr", "show", "vn-nat1"), StringComparison.Ordinal);
        Assert.Contains("masquerade", _namespace.Exec("nft", "list", "table", "inet", "virt"), StringComparison.Ordinal);
        Assert.Empty(await manager.CheckDriftAsync(Token));

        _namespace.Exec("ip", "link", "add", "tap-web0", "type", "veth", "peer", "name", "tap-web0p");
        await manager.PrepareAsync(new NetworkPortRequest("nat1", "vm:web", "net0", "tap-web0", NetworkPortKind.Veth, "52:54:00:12:34:56") { Ipv4Address = "192.0.2.10", Firewall = new NicFirewall() }, Token);
        await manager.ConnectAsync("vm:web", "net0", Token);
        var port = _namespace.Exec("ip", "-d", "link", "show", "tap-web0");
        Assert.Contains("master vn-nat1", port, StringComparison.Ordinal);
        Assert.Contains("virt:port:vm:web/net0", port, StringComparison.Ordinal);
        Assert.True((await manager.PlanAsync("nat1", Token)).IsEmpty);

        _namespace.Exec("ip", "link", "set", "tap-web0", "nomaster");
        Assert.Contains(await manager.CheckDriftAsync(Token), d => d.Object == "link tap-web0");
        await manager.ApplyAsync("nat1", Token);
        Assert.Empty(await manager.CheckDriftAsync(Token));

        await manager.ReleaseAsync("vm:web", cancellationToken: Token);
        Assert.NotEqual(0, _namespace.TryExec("ip", "link", "show", "tap-web0").ExitCode);

        await manager.DeleteAsync("nat1", Token);
        Assert.NotEqual(0, _namespace.TryExec("ip", "link", "show", "vn-nat1").ExitCode);
        Assert.Empty(await manager.ListAsync(Token));
    }

    [Fact]
    public async Task A_kernel_refusal_half_way_leaves_the_namespace_as_it_was()
    {
        var manager = new NetworkManager(new NetworkOptions { StateDirectory = _state, NetworkNamespace = _namespace.Path }, new FileSystem(), new ProcessRunner());
        var before = _namespace.Exec("ip", "-o", "link", "show");

        // The underlay does not exist: the bridge is made, then the VXLAN device is refused (ENODEV), and the bridge goes again.
        await manager.DefineAsync(new VxlanNetworkDefinition("ov", 42, "192.0.2.10") { UnderlayInterface = "nosuchdev", Peers = ["192.0.2.11"] }, Token);
        var error = await Assert.ThrowsAsync<NetworkException>(() => manager.ApplyAsync("ov", Token));

        Assert.Contains("vx-ov", error.Message, StringComparison.Ordinal);
        Assert.Contains("rolled back", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, _namespace.Exec("ip", "-o", "link", "show"));
    }
}
