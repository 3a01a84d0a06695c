using Virt.Network.Firewall;
using Virt.Network.Host;
using Virt.Network.Hosting;
using Virt.Networking;

namespace Virt.Network.Probe;

/// <summary>
/// The firewall layer for a kernel without nf_tables (the test guest loads no netfilter modules): the ruleset is kept in
/// memory and fingerprinted as the real nftables layer does, so the manager plans exactly as it would on a host.
/// </summary>
internal sealed class MemoryFirewallHost(NetworkOptions options) : IFirewallHost
{
    private readonly NftablesFirewallHost real = new(options);
    private FirewallRuleset? current;

    public Task<string?> ReadFingerprintAsync(CancellationToken cancellationToken) => Task.FromResult(current is null ? null : real.Fingerprint(current));

    public string Fingerprint(FirewallRuleset ruleset) => real.Fingerprint(ruleset);

    public Task ReplaceAsync(FirewallRuleset ruleset, CancellationToken cancellationToken)
    {
        current = ruleset;
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<FirewallRuleCounter>> ReadCountersAsync(CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<FirewallRuleCounter>>([]);

    public int CommandCount(FirewallRuleset ruleset) => real.CommandCount(ruleset);
}
