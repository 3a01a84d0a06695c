using System.Globalization;
using System.Text;
using Virt.Network.Host;
using Virt.Networking;

namespace Virt.Network.Tests.Manager.Fakes;

/// <summary>The SDK's nftables table in memory: the ruleset last replaced, its fingerprint, and a replace that can be made to fail.</summary>
internal sealed class FakeFirewallHost : IFirewallHost
{
    public FirewallRuleset? Current { get; private set; }

    public int Replacements { get; private set; }

    public bool FailNextReplace { get; set; }

    public List<FirewallRuleCounter> Counters { get; } = [];

    public Task<string?> ReadFingerprintAsync(CancellationToken cancellationToken) => Task.FromResult(Current is null ? null : Fingerprint(Current));

    public string Fingerprint(FirewallRuleset ruleset)
    {
        var text = new StringBuilder();
        foreach (var nat in ruleset.Nat)
        {
            text.Append(CultureInfo.InvariantCulture, $"nat {nat.Network} {nat.Bridge} {nat.Subnet} {nat.Uplink}\n");
        }

        foreach (var network in ruleset.Networks)
        {
            text.Append(CultureInfo.InvariantCulture, $"network {network.Network} {network.Bridge} {network.Firewall.DefaultIn} {network.Firewall.DefaultOut} {string.Join(',', network.Firewall.Rules.Select(Rule))}\n");
        }

        foreach (var port in ruleset.Ports)
        {
            text.Append(CultureInfo.InvariantCulture, $"port {port.Owner}/{port.NicId} {port.HostInterface} {port.Bridge} {port.MacAddress} {string.Join(',', port.AllowedSources)} {port.AntiSpoofing} {port.DefaultIn} {port.DefaultOut} {string.Join(',', port.Rules.Select(r => r.Scope + "#" + r.Index + "=" + Rule(r.Rule)))}\n");
        }

        return text.ToString();
    }

    public Task ReplaceAsync(FirewallRuleset ruleset, CancellationToken cancellationToken)
    {
        if (FailNextReplace)
        {
            FailNextReplace = false;
            throw new NetworkException(VirtErrorKind.Failed, "nft: Error: Could not process rule: No such file or directory");
        }

        Current = ruleset;
        Replacements++;
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<FirewallRuleCounter>> ReadCountersAsync(CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<FirewallRuleCounter>>(Counters);

    public int CommandCount(FirewallRuleset ruleset) => 1 + ruleset.Nat.Count + ruleset.Networks.Count + ruleset.Ports.Sum(p => 1 + p.Rules.Count);

    public void ClearBehindTheSdksBack() => Current = null;

    private static string Rule(FirewallRule rule) =>
        $"{rule.Direction}/{rule.Action}/{rule.Protocol}/{string.Join(';', rule.DestinationPorts)}/{string.Join(';', rule.Sources)}/{string.Join(';', rule.Destinations)}/{string.Join(';', rule.IcmpTypes)}";
}
