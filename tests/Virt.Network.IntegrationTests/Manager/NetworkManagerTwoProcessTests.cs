using Virt.Networking;

namespace Virt.Network.IntegrationTests.Manager;

/// <summary>
/// Two managers in two processes change the same state directory at once (Virt.Network.CrashChild applies network A
/// while the test applies network B): the lock serialises them, both networks end applied and unchanged on a re-plan,
/// and no state file is torn.
/// </summary>
public sealed class NetworkManagerTwoProcessTests : IDisposable
{
    private readonly ManagerLab _lab = ManagerLab.Create("two");

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public void Dispose() => _lab.Dispose();

    [Fact(Timeout = 180_000)]
    public async Task Two_processes_applying_two_networks_at_once_both_end_applied()
    {
        var ct = TestContext.Current.CancellationToken;
        var child = _lab.StartChild("apply", "neta", "192.0.2.0/24", "192.0.2.1");
        await ManagerLab.ExpectLineAsync(child, "ready", ct);
        var manager = _lab.NewManager();

        // The child starts its define and apply as this process starts its own.
        await child.StandardInput.WriteLineAsync("go");
        await child.StandardInput.FlushAsync(ct);
        await manager.DefineAsync(new NatNetworkDefinition("netb", new NetworkSubnet("198.51.100.0/24", "198.51.100.1") { DhcpStart = "198.51.100.100", DhcpEnd = "198.51.100.150" }), ct);
        await manager.ApplyAsync("netb", ct);
        await ManagerLab.ExpectLineAsync(child, "applied", ct);
        await child.WaitForExitAsync(ct);
        Assert.Equal(0, child.ExitCode);

        // A third manager reads every state file back: a torn one would fail to parse here.
        var reader = _lab.NewManager();
        var networks = await reader.ListAsync(ct);
        Assert.Equal(["neta", "netb"], networks.Select(n => n.Definition.Name));
        Assert.All(networks, n => Assert.True(n.Applied && n.PendingChanges == 0, $"{n.Definition.Name}: applied {n.Applied}, {n.PendingChanges} pending"));
        foreach (var name in new[] { "neta", "netb" })
        {
            var plan = await reader.PlanAsync(name, ct);
            Assert.True(plan.IsEmpty, $"{name} still plans: " + string.Join("; ", plan.Changes));
        }

        Assert.Empty(await reader.CheckDriftAsync(ct));
        Assert.False(File.Exists(_lab.JournalPath), "a journal was left behind");
        Assert.Equal(["lo - -", "vn-neta bridge virt:network:neta", "vn-netb bridge virt:network:netb"], _lab.LinkNames());
        Assert.Equal(2, _lab.DnsmasqPids().Count);
        Assert.Empty(Directory.GetFiles(_lab.StateDirectory, "*.tmp-*", SearchOption.AllDirectories));
    }
}
