using Virt.Network.Manager;
using Virt.Network.Tests.Manager.Fakes;
using Virt.Networking;

namespace Virt.Network.Tests.Manager;

/// <summary>
/// A change stopped between its steps (NetworkManager.CrashAt): what the dead process leaves is exactly the steps before
/// the point, and the next manager's first change finishes the rest. The real-process version (SIGKILL, the real kernel,
/// nftables and dnsmasq) is NetworkManagerCrashPointTests in Virt.Network.IntegrationTests.
/// </summary>
public sealed class CrashPointTests : IDisposable
{
    private readonly NetworkTestBed _bed = new();

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public void Dispose() => _bed.Dispose();

    [Theory]
    [InlineData(nameof(ApplyCrashPoint.AfterLinks), false, false)]
    [InlineData(nameof(ApplyCrashPoint.AfterFirewall), true, false)]
    [InlineData(nameof(ApplyCrashPoint.AfterDhcp), true, true)]
    public async Task An_apply_stopped_between_its_steps_leaves_the_steps_before_and_the_next_manager_does_the_rest(string point, bool masquerade, bool dnsmasq)
    {
        var crashing = _bed.NewManager();
        await crashing.DefineAsync(NetworkTestBed.Nat(), Token);
        crashing.CrashAt = Enum.Parse<ApplyCrashPoint>(point);

        await Assert.ThrowsAsync<NetworkManager.SimulatedCrashException>(() => crashing.ApplyAsync("nat1", Token));

        Assert.True(File.Exists(JournalPath));
        Assert.Contains("addr vn-nat1 192.0.2.1/24", _bed.Links.Describe(), StringComparison.Ordinal);
        Assert.Equal(masquerade, _bed.Firewall.Current?.Nat.Count == 1);
        Assert.Equal(dnsmasq, _bed.Dhcp.Running.ContainsKey("nat1"));

        var next = _bed.NewManager();
        await next.DefineAsync(new IsolatedNetworkDefinition("lab"), Token);

        Assert.False(File.Exists(JournalPath));
        Assert.Single(_bed.Firewall.Current!.Nat);
        Assert.True(_bed.Dhcp.Running.ContainsKey("nat1"));
        Assert.True((await next.GetAsync("nat1", Token)).Applied);
        Assert.True((await next.PlanAsync("nat1", Token)).IsEmpty);
    }

    [Theory]
    [InlineData(nameof(ApplyCrashPoint.AfterLinks), true, true)]
    [InlineData(nameof(ApplyCrashPoint.AfterFirewall), false, true)]
    [InlineData(nameof(ApplyCrashPoint.AfterDhcp), false, false)]
    public async Task A_delete_stopped_between_its_steps_is_finished_by_the_next_manager(string point, bool masquerade, bool dnsmasq)
    {
        var crashing = await _bed.AppliedAsync(NetworkTestBed.Nat());
        crashing.CrashAt = Enum.Parse<ApplyCrashPoint>(point);

        await Assert.ThrowsAsync<NetworkManager.SimulatedCrashException>(() => crashing.DeleteAsync("nat1", Token));

        Assert.True(File.Exists(JournalPath));
        Assert.DoesNotContain("vn-nat1", _bed.Links.Describe(), StringComparison.Ordinal);
        Assert.Equal(masquerade, _bed.Firewall.Current?.Nat.Count == 1);
        Assert.Equal(dnsmasq, _bed.Dhcp.Running.ContainsKey("nat1"));

        var next = _bed.NewManager();
        await next.DefineAsync(new IsolatedNetworkDefinition("lab"), Token);

        Assert.False(File.Exists(JournalPath));
        Assert.True(_bed.Firewall.Current is null || _bed.Firewall.Current.IsEmpty);
        Assert.Empty(_bed.Dhcp.Running);
        Assert.Equal(["lab"], (await next.ListAsync(Token)).Select(n => n.Definition.Name));
    }

    private string JournalPath => Path.Combine(_bed.StateDirectory, "journal", "apply.json");
}
