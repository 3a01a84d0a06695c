using Virt.Network.IntegrationTests.Netlink;
using Virt.Network.Manager;
using Virt.Networking;

namespace Virt.Network.IntegrationTests.Manager;

/// <summary>
/// A process killed with SIGKILL between the steps of a change (links, then the nftables replace, then dnsmasq), with the
/// journal written and the lock held: the next change from a fresh manager finishes it (an apply) or the teardown (a
/// delete), and the namespace ends with the network whole or gone — links, the nftables table (its fingerprint, through
/// the drift check) and dnsmasq (its process, configuration and files) — never half of it. The dying process is
/// Virt.Network.CrashChild, stopped by the manager's <c>CrashAt</c> hook and killed there.
/// </summary>
public sealed class NetworkManagerCrashPointTests : IDisposable
{
    private const string Network = "nat1";
    private const string Bridge = "vn-nat1";

    private readonly ManagerLab _lab = ManagerLab.Create("crashpt");

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public void Dispose() => _lab.Dispose();

    [Theory(Timeout = 180_000)]
    [InlineData(nameof(ApplyCrashPoint.AfterLinks), false, false)]
    [InlineData(nameof(ApplyCrashPoint.AfterFirewall), true, false)]
    [InlineData(nameof(ApplyCrashPoint.AfterDhcp), true, true)]
    public async Task Killed_between_the_steps_of_an_apply_the_next_change_completes_the_network(string point, bool tableBeforeRecovery, bool dnsmasqBeforeRecovery)
    {
        var ct = TestContext.Current.CancellationToken;
        await KillAtAsync(point, "apply");

        // What the dead process left: the steps before the crash point, not the ones after it.
        Assert.Equal([$"{Bridge} bridge virt:network:{Network}"], SdkLinks());
        Assert.Equal(tableBeforeRecovery, HasMasquerade());
        Assert.Equal(dnsmasqBeforeRecovery ? 1 : 0, _lab.DnsmasqPids().Count);

        // Any change under the lock (here: defining another network) finishes the dead one's first.
        var fresh = _lab.NewManager();
        await fresh.DefineAsync(new IsolatedNetworkDefinition("iso"), ct);

        Assert.False(File.Exists(_lab.JournalPath), "the journal is still there after the recovery");
        var plan = await fresh.PlanAsync(Network, ct);
        Assert.True(plan.IsEmpty, "still planned: " + string.Join("; ", plan.Changes));

        // No drift covers the links, addresses, the nftables table's fingerprint and dnsmasq's running configuration.
        Assert.Empty(await fresh.CheckDriftAsync(ct));
        Assert.Equal([$"{Bridge} bridge virt:network:{Network}"], SdkLinks());
        Assert.Equal(["vn-nat1 192.0.2.1/24"], IpJson.Addresses(_lab.Namespace).Where(a => a.StartsWith("vn-", StringComparison.Ordinal)));
        Assert.True(HasMasquerade(), "the NAT network's masquerade is not in table inet virt");
        Assert.Single(_lab.DnsmasqPids());
        Assert.True(File.Exists(Path.Combine(_lab.StateDirectory, "dnsmasq", Network, "dnsmasq.conf")), "dnsmasq's configuration is missing");
        var info = await fresh.GetAsync(Network, ct);
        Assert.True(info.Applied);
        Assert.Equal(0, info.PendingChanges);
    }

    [Theory(Timeout = 180_000)]
    [InlineData(nameof(ApplyCrashPoint.AfterLinks), true, 1)]
    [InlineData(nameof(ApplyCrashPoint.AfterFirewall), false, 1)]
    [InlineData(nameof(ApplyCrashPoint.AfterDhcp), false, 0)]
    public async Task Killed_between_the_steps_of_a_delete_the_next_change_finishes_the_teardown(string point, bool tableBeforeRecovery, int dnsmasqBeforeRecovery)
    {
        var ct = TestContext.Current.CancellationToken;
        await KillAtAsync(point, "delete");

        Assert.Empty(SdkLinks());
        Assert.Equal(tableBeforeRecovery, HasMasquerade());
        Assert.Equal(dnsmasqBeforeRecovery, _lab.DnsmasqPids().Count);

        var fresh = _lab.NewManager();
        await fresh.DefineAsync(new IsolatedNetworkDefinition("iso"), ct);

        Assert.False(File.Exists(_lab.JournalPath), "the journal is still there after the recovery");
        Assert.Equal(["iso"], (await fresh.ListAsync(ct)).Select(n => n.Definition.Name));
        Assert.Equal(["lo - -"], _lab.LinkNames());
        Assert.DoesNotContain("virt", _lab.Namespace.Exec("nft", "list", "tables"), StringComparison.Ordinal);
        Assert.Empty(_lab.DnsmasqPids());
        Assert.False(Directory.Exists(Path.Combine(_lab.StateDirectory, "dnsmasq", Network)), "dnsmasq's files of the deleted network stay");
        Assert.Empty(await fresh.CheckDriftAsync(ct));
    }

    /// <summary>Runs the child until its hook stops the change at <paramref name="point"/>, then SIGKILLs it.</summary>
    private async Task KillAtAsync(string point, string action)
    {
        var child = _lab.StartChild(["crash-at", Network, "192.0.2.0/24", "192.0.2.1", point, action]);
        Assert.Equal(point, await ManagerLab.ExpectLineAsync(child, "crashed ", Token));
        Assert.True(File.Exists(_lab.JournalPath), "the child stopped before it wrote the journal");

        child.Kill(); // SIGKILL: no finally block, no rollback, the lock released only by the kernel
        await child.WaitForExitAsync(Token);
        Assert.True(File.Exists(_lab.JournalPath), "the journal went with the killed process");
    }

    private IReadOnlyList<string> SdkLinks() => [.. _lab.LinkNames().Where(l => l.Contains(" virt:", StringComparison.Ordinal))];

    private bool HasMasquerade()
    {
        var (exitCode, output) = _lab.Namespace.TryExec("nft", "list", "table", "inet", "virt");
        return exitCode == 0 && output.Contains("masquerade", StringComparison.Ordinal);
    }
}
