using System.Globalization;
using System.Text.Json;
using Virt.Networking;

namespace Virt.Network.Firewall;

/// <summary>
/// Reads rule counters out of <c>nft -j list table</c> output by the comments <see cref="NftablesRulesetCompiler"/> gives
/// its rules: <c>SCOPE#INDEX[ note]</c> for a firewall rule, <c>default-in</c>, <c>default-out</c>,
/// <c>anti-spoofing:WHAT</c>, and <c>nat:NETWORK</c>; a port chain's first rule (<c>scope port:OWNER/NIC</c>) names its port.
/// </summary>
internal static class NftablesCounterReader
{
    /// <summary>The counters of every listed rule the SDK reports, summed where one rule became two (IPv4 and IPv6).</summary>
    /// <param name="listings">JSON listings of the SDK's tables.</param>
    public static IReadOnlyList<FirewallRuleCounter> Read(IEnumerable<string> listings)
    {
        var rules = new List<(string Chain, string Comment, long Packets, long Bytes)>();
        foreach (var listing in listings)
        {
            using var document = JsonDocument.Parse(listing);
            foreach (var item in document.RootElement.GetProperty("nftables").EnumerateArray())
            {
                if (item.TryGetProperty("rule", out var rule) && rule.TryGetProperty("comment", out var comment) && CounterOf(rule) is { } counter)
                {
                    var family = rule.GetProperty("family").GetString();
                    rules.Add(($"{family} {rule.GetProperty("chain").GetString()}", comment.GetString() ?? "", counter.Packets, counter.Bytes));
                }
            }
        }

        var ports = rules
            .Where(rule => rule.Comment.StartsWith(NftablesRulesetCompiler.PortLabelPrefix, StringComparison.Ordinal))
            .ToDictionary(rule => rule.Chain, rule => rule.Comment[NftablesRulesetCompiler.PortLabelPrefix.Length..], StringComparer.Ordinal);

        var totals = new Dictionary<(string Scope, string Handle), (long Packets, long Bytes)>();
        var order = new List<(string Scope, string Handle)>();
        foreach (var rule in rules)
        {
            if (Name(rule.Comment, ports.GetValueOrDefault(rule.Chain)) is not { } key)
            {
                continue;
            }

            if (!totals.TryGetValue(key, out var total))
            {
                order.Add(key);
            }

            totals[key] = (total.Packets + rule.Packets, total.Bytes + rule.Bytes);
        }

        return order.Select(key => new FirewallRuleCounter(key.Scope, key.Handle, totals[key].Packets, totals[key].Bytes)).ToList();
    }

    // What a comment reports as, or null for the SDK's plumbing (ARP/DHCP/ND allowances, conntrack, labels).
    private static (string Scope, string Handle)? Name(string comment, string? port)
    {
        if (comment.StartsWith("nat:", StringComparison.Ordinal))
        {
            return ("network:" + comment["nat:".Length..], "masquerade");
        }

        if (port is null)
        {
            return null;
        }

        if (comment is "default-in" or "default-out" || comment.StartsWith("anti-spoofing:", StringComparison.Ordinal))
        {
            return (port, comment);
        }

        var key = comment.Split(' ', 2)[0];
        var hash = key.LastIndexOf('#');
        if (hash <= 0 || !int.TryParse(key.AsSpan(hash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var index))
        {
            return null;
        }

        var scope = key[..hash];
        return (scope == port ? scope : $"{scope} via {port}", index.ToString(CultureInfo.InvariantCulture));
    }

    private static (long Packets, long Bytes)? CounterOf(JsonElement rule)
    {
        foreach (var expression in rule.GetProperty("expr").EnumerateArray())
        {
            if (expression.TryGetProperty("counter", out var counter) && counter.ValueKind == JsonValueKind.Object)
            {
                return (counter.GetProperty("packets").GetInt64(), counter.GetProperty("bytes").GetInt64());
            }
        }

        return null;
    }
}
