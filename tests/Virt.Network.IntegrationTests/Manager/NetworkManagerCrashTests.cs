using System.Globalization;
using Virt.Network.IntegrationTests.Netlink;
using Virt.Networking;

namespace Virt.Network.IntegrationTests.Manager;

/// <summary>
/// A process killed with SIGKILL mid-apply (the journal written, some link operations done, the lock held): the next
/// change from a fresh manager in another process rolls the network forward to its definition, exactly, and removes
/// the journal. The dying process is Virt.Network.CrashChild, stopped by the manager's crash hook and killed there.
/// </summary>
public sealed class NetworkManagerCrashTests : IDisposable
{
    private readonly ManagerLab _lab = ManagerLab.Create("crash");

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public void Dispose() => _lab.Dispose();

    [Theory(Timeout = 180_000)]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public async Task Killed_after_the_journal_and_some_link_operations_the_next_apply_completes_the_network(int crashAfter)
    {
        var ct = TestContext.Current.CancellationToken;
        await KillMidApplyAsync("nat1", "192.0.2.0/24", "192.0.2.1", crashAfter);

        var fresh = _lab.NewManager();
        Assert.False((await fresh.PlanAsync("nat1", ct)).IsEmpty, "the killed apply left nothing to finish");
        await fresh.ApplyAsync("nat1", ct);

        AssertComplete(await fresh.PlanAsync("nat1", ct), await fresh.CheckDriftAsync(ct), ["vn-nat1 bridge virt:network:nat1"]);
        Assert.True((await fresh.GetAsync("nat1", ct)).Applied);
    }

    [Fact(Timeout = 180_000)]
    public async Task Killed_mid_apply_the_next_change_to_another_network_completes_the_dead_ones_first()
    {
        var ct = TestContext.Current.CancellationToken;
        await KillMidApplyAsync("nat1", "192.0.2.0/24", "192.0.2.1", 1);

        // Defining another network is a change under the lock: it finishes nat1 before anything else.
        var fresh = _lab.NewManager();
        Assert.False((await fresh.PlanAsync("nat1", ct)).IsEmpty, "the killed apply left nothing to finish");
        await fresh.DefineAsync(new IsolatedNetworkDefinition("iso"), ct);

        AssertComplete(await fresh.PlanAsync("nat1", ct), await fresh.CheckDriftAsync(ct), ["vn-nat1 bridge virt:network:nat1"]);
        var nat1 = await fresh.GetAsync("nat1", ct);
        Assert.True(nat1.Applied);
        Assert.Equal(0, nat1.PendingChanges);
    }

    [Fact(Timeout = 180_000)]
    public async Task Killed_mid_change_of_subnet_the_next_apply_leaves_only_the_new_one()
    {
        var ct = TestContext.Current.CancellationToken;
        await KillMidApplyAsync("nat1", "192.0.2.0/24", "192.0.2.1", 1, "198.51.100.0/24", "198.51.100.1");

        var fresh = _lab.NewManager();
        await fresh.ApplyAsync("nat1", ct);

        AssertComplete(await fresh.PlanAsync("nat1", ct), await fresh.CheckDriftAsync(ct), ["vn-nat1 bridge virt:network:nat1"]);
        Assert.Equal(["vn-nat1 192.0.2.1/24"], IpJson.Addresses(_lab.Namespace).Where(a => a.StartsWith("vn-", StringComparison.Ordinal)));
        Assert.DoesNotContain("198.51.100", _lab.Namespace.Exec("nft", "list", "table", "inet", "virt"), StringComparison.Ordinal);
    }

    /// <summary>
    /// Runs the child until its hook stops the apply after <paramref name="crashAfter"/> link operations, then SIGKILLs it;
    /// with <paramref name="previous"/> (a CIDR and gateway) the child first applies the network on that subnet.
    /// </summary>
    private async Task KillMidApplyAsync(string network, string cidr, string gateway, int crashAfter, params string[] previous)
    {
        var child = _lab.StartChild(["crash", network, cidr, gateway, crashAfter.ToString(CultureInfo.InvariantCulture), .. previous]);
        var planned = int.Parse(await ManagerLab.ExpectLineAsync(child, "planned ", Token), CultureInfo.InvariantCulture);
        Assert.True(planned > crashAfter, $"the plan has {planned} link operations: the child must stop before the last one");
        Assert.Equal(crashAfter, int.Parse(await ManagerLab.ExpectLineAsync(child, "crashed ", Token), CultureInfo.InvariantCulture));
        Assert.True(File.Exists(_lab.JournalPath), "the child stopped before it wrote the journal");

        child.Kill(); // SIGKILL: no finally block, no rollback, the lock released only by the kernel
        await child.WaitForExitAsync(Token);

        Assert.True(File.Exists(_lab.JournalPath), "the journal went with the killed process");
        Assert.Equal(previous.Length == 0 ? 0 : 1, _lab.DnsmasqPids().Count);
    }

    private void AssertComplete(NetworkPlan plan, IReadOnlyList<NetworkDrift> drift, string[] sdkLinks)
    {
        Assert.False(File.Exists(_lab.JournalPath), "the journal is still there after the recovery");
        Assert.True(plan.IsEmpty, "still planned: " + string.Join("; ", plan.Changes));
        // No drift covers the links, addresses, the nftables table's fingerprint and dnsmasq's running configuration.
        Assert.Empty(drift);
        Assert.Equal(sdkLinks, _lab.LinkNames().Where(l => l.Contains(" virt:", StringComparison.Ordinal)));
        Assert.Equal(["lo - -", .. sdkLinks], _lab.LinkNames());
        Assert.Contains("192.0.2.1/24", _lab.Namespace.Exec("ip", "addr", "show", "vn-nat1"), StringComparison.Ordinal);
        Assert.Contains("masquerade", _lab.Namespace.Exec("nft", "list", "table", "inet", "virt"), StringComparison.Ordinal);
        Assert.Single(_lab.DnsmasqPids());
    }
}
