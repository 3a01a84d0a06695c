using Virt.Network.Locking;
using Virt.Network.Tests.Manager.Fakes;
using Virt.Networking;

namespace Virt.Network.Tests.Manager;

public sealed class PersistenceTests : IDisposable
{
    private readonly NetworkTestBed _bed = new();

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public void Dispose() => _bed.Dispose();

    [Fact]
    public async Task Definitions_groups_and_ports_survive_a_new_manager()
    {
        NetworkDefinition[] definitions =
        [
            new IsolatedNetworkDefinition("iso") { Mtu = 9000, Firewall = new NetworkFirewall { DefaultIn = FirewallAction.Drop, Rules = [new FirewallRule(FirewallDirection.In, FirewallAction.Accept) { Protocol = FirewallProtocol.Icmp, IcmpTypes = ["echo-request"] }] } },
            NetworkTestBed.Nat() with { Ipv6 = new NetworkSubnet("2001:db8::/64", "2001:db8::1"), DnsDomain = "lab.example", Ipv4 = NetworkTestBed.Nat().Ipv4 with { LeaseTime = TimeSpan.FromMinutes(10), Reservations = [new DhcpReservation("52:54:00:00:00:01", "192.0.2.5", "db")] } },
            new RoutedNetworkDefinition("r1", new NetworkSubnet("198.51.100.0/24", "198.51.100.1")) { Routes = [new NetworkRoute("203.0.113.0/24", "198.51.100.2")] },
            new VlanNetworkDefinition("v1") { TrunkVlans = [10, 20], DefaultVlan = 10 },
            new VxlanNetworkDefinition("ov", 42, "192.0.2.10") { Peers = ["192.0.2.11"], Port = 4790, BridgeName = "br-ov" },
        ];
        var manager = await _bed.AppliedAsync(definitions);
        await manager.DefineSecurityGroupAsync(new SecurityGroup("web", [new FirewallRule(FirewallDirection.In, FirewallAction.Accept) { DestinationPorts = ["80", "443"] }]), Token);
        await manager.PrepareAsync(NetworkTestBed.Port("nat1") with { VlanTag = null, Firewall = new NicFirewall { SecurityGroups = ["web"] } }, Token);

        var again = _bed.NewManager();
        var listed = await again.ListAsync(Token);

        Assert.Equal(definitions.Select(Json).Order(StringComparer.Ordinal), listed.Select(i => Json(i.Definition)).Order(StringComparer.Ordinal));
        Assert.All(listed, info => Assert.True(info.Applied));
        Assert.All(listed, info => Assert.Equal(0, info.PendingChanges));
        Assert.Equal(["80", "443"], Assert.Single(Assert.Single(await again.ListSecurityGroupsAsync(Token)).Rules).DestinationPorts);
        var port = Assert.Single(await again.ListPortsAsync("nat1", Token));
        Assert.Equal(["web"], port.Request.Firewall!.SecurityGroups);
        Assert.Equal(1, listed.Single(i => i.Definition.Name == "nat1").PortCount);
        Assert.True(File.Exists(Path.Combine(_bed.StateDirectory, "networks", "nat1.json")));
        Assert.True(File.Exists(Path.Combine(_bed.StateDirectory, "security-groups", "web.json")));
        Assert.True(File.Exists(Path.Combine(_bed.StateDirectory, "ports", "vm:web", "net0.json")));
        Assert.Contains("\"Kind\": \"nat\"", await File.ReadAllTextAsync(Path.Combine(_bed.StateDirectory, "networks", "nat1.json"), Token), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Two_managers_on_one_state_directory_do_not_lose_each_others_changes()
    {
        var first = _bed.NewManager();
        var second = _bed.NewManager();

        await Task.WhenAll(
            Task.Run(async () =>
            {
                for (var i = 0; i < 15; i++)
                {
                    await first.DefineAsync(new IsolatedNetworkDefinition($"a{i}"), Token);
                    await first.ApplyAsync($"a{i}", Token);
                }
            }, Token),
            Task.Run(async () =>
            {
                for (var i = 0; i < 15; i++)
                {
                    await second.DefineAsync(new IsolatedNetworkDefinition($"b{i}"), Token);
                    await second.ApplyAsync($"b{i}", Token);
                }
            }, Token));

        var listed = await _bed.NewManager().ListAsync(Token);
        Assert.Equal(30, listed.Count);
        Assert.All(listed, info => Assert.True(info.Applied && info.PendingChanges == 0));
        Assert.Equal(30, _bed.Links.Describe().Split('\n').Length);
    }

    [Fact]
    public async Task A_lock_held_past_the_timeout_names_its_holder()
    {
        using var held = await StateDirectoryLock.AcquireAsync(new System.IO.Abstractions.FileSystem(), _bed.StateDirectory, "a long apply", TimeSpan.FromSeconds(5), Token);

        var error = await Assert.ThrowsAsync<TimeoutException>(() => _bed.NewManager(TimeSpan.FromMilliseconds(50)).DefineAsync(new IsolatedNetworkDefinition("lab"), Token));

        Assert.Contains($"pid {Environment.ProcessId}: a long apply", error.Message, StringComparison.Ordinal);
        Assert.Contains("LockTimeout", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_waiter_does_not_name_a_killed_holder_whose_note_outlived_it()
    {
        using var held = await StateDirectoryLock.AcquireAsync(new System.IO.Abstractions.FileSystem(), _bed.StateDirectory, "a long apply", TimeSpan.FromSeconds(5), Token);
        // The note a killed holder leaves: its pid is a process that has exited and been reaped.
        int deadPid;
        using (var exited = System.Diagnostics.Process.Start("true"))
        {
            await exited.WaitForExitAsync(Token);
            deadPid = exited.Id;
        }

        await File.WriteAllTextAsync(Path.Combine(_bed.StateDirectory, "network.holder"), $"pid {deadPid}: an apply since 2026-01-01T00:00:00Z", Token);

        var error = await Assert.ThrowsAsync<TimeoutException>(() => _bed.NewManager(TimeSpan.FromMilliseconds(50)).DefineAsync(new IsolatedNetworkDefinition("lab"), Token));

        Assert.Contains($"pid {deadPid} is not alive", error.Message, StringComparison.Ordinal);
        Assert.Contains("flock was released by the kernel when it died", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("it is held by pid", error.Message, StringComparison.Ordinal);
    }

    private static string Json(NetworkDefinition definition) => System.Text.Encoding.UTF8.GetString(Definitions.NetworkJson.Serialize(definition));
}
