namespace Virt.Network.Host;

/// <summary>The SDK's nftables table(s); implemented over libnftables' JSON interface, faked in unit tests.</summary>
internal interface IFirewallHost
{
    /// <summary>
    /// A fingerprint of the ruleset now in the kernel (kept in the table's comment), or null when the SDK's table is absent.
    /// Cheap: lets an unchanged re-apply skip the transaction.
    /// </summary>
    Task<string?> ReadFingerprintAsync(CancellationToken cancellationToken);

    /// <summary>The fingerprint <see cref="ReplaceAsync"/> would write for this ruleset.</summary>
    string Fingerprint(FirewallRuleset ruleset);

    /// <summary>Replaces the SDK's table with this ruleset in one transaction (all or nothing); an empty ruleset removes the table.</summary>
    Task ReplaceAsync(FirewallRuleset ruleset, CancellationToken cancellationToken);

    /// <summary>
    /// Puts <paramref name="ruleset"/> in force when the table holds it less <paramref name="port"/> (a new port on a bridge
    /// that has ports already): one transaction with only that port's chains, sets and map elements and the new fingerprint,
    /// so preparing the thousandth port costs what the first did. All or nothing, like <see cref="ReplaceAsync"/>.
    /// </summary>
    Task AddPortAsync(FirewallRuleset ruleset, FirewalledPort port, CancellationToken cancellationToken) => ReplaceAsync(ruleset, cancellationToken);

    /// <summary>Reads every rule's counter back.</summary>
    Task<IReadOnlyList<Virt.Networking.FirewallRuleCounter>> ReadCountersAsync(CancellationToken cancellationToken);

    /// <summary>How many nftables commands <see cref="ReplaceAsync"/> sends for the ruleset (for the plan's detail).</summary>
    int CommandCount(FirewallRuleset ruleset);
}
