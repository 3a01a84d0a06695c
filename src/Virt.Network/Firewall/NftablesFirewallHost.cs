using System.Text.Json;
using Virt.Network.Host;
using Virt.Network.Hosting;
using Virt.Network.Interop;
using Virt.Networking;

namespace Virt.Network.Firewall;

/// <summary>
/// The SDK's nftables tables (<c>inet NAME</c> and <c>bridge NAME</c>, see <see cref="NftablesRulesetCompiler"/>) driven
/// in-process through libnftables' JSON interface, in the configured network namespace. Other tables are never touched.
/// </summary>
internal sealed class NftablesFirewallHost : IFirewallHost
{
    private readonly NetworkOptions options;
    private readonly NftablesRulesetCompiler compiler;

    // The planner asks for the fingerprint, the command count and then the replacement of the same ruleset object:
    // compiling 1,000 ports takes a few hundred milliseconds, so the last compilation is kept.
    private Compilation? last;

    // Rulesets are immutable and the planner's are reused per state snapshot: each is fingerprinted once.
    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<FirewallRuleset, string> fingerprints = [];

    /// <summary>Creates the host for <see cref="NetworkOptions.NetworkNamespace"/> and <see cref="NetworkOptions.NftablesTable"/>.</summary>
    public NftablesFirewallHost(NetworkOptions options)
    {
        this.options = options;
        compiler = new NftablesRulesetCompiler(options.NftablesTable);
    }

    /// <inheritdoc />
    public Task<string?> ReadFingerprintAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return NamespaceThread.RunAsync(options.NetworkNamespace, () =>
        {
            // Only the small inet table is listed: listing anything in the bridge table makes nft 1.0.6 fetch all of
            // its chains and sets (50 ms more at 1,000 ports). A bridge table deleted by hand is therefore not seen here.
            using var context = NftablesContext.Open();
            var (succeeded, output, _) = context.Run(ListCommand("chain", "inet", NftablesRulesetCompiler.FingerprintChain));
            return succeeded ? FingerprintIn(output) : null;
        });
    }

    /// <inheritdoc />
    public string Fingerprint(FirewallRuleset ruleset) => fingerprints.GetValue(ruleset, r => RulesetFingerprint.Compute(compiler.Table, r));

    /// <inheritdoc />
    public int CommandCount(FirewallRuleset ruleset) => Compile(ruleset).CommandCount;

    /// <inheritdoc />
    public Task ReplaceAsync(FirewallRuleset ruleset, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var compiled = Compile(ruleset);
        return RunAsync(compiled, ruleset.Ports.Count > 0, $"replace tables 'inet {compiler.Table}' and 'bridge {compiler.Table}' ({compiled.CommandCount} commands, {ruleset.Ports.Count} ports, {ruleset.Nat.Count} NAT rules)");
    }

    /// <inheritdoc />
    public Task AddPortAsync(FirewallRuleset ruleset, FirewalledPort port, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var compiled = compiler.CompilePortAddition(ruleset, port);
        return RunAsync(compiled, requireBridgeNetfilter: true, $"add the chains of port {NftablesRulesetCompiler.PortScope(port)} ({port.HostInterface}) to table 'bridge {compiler.Table}' ({compiled.CommandCount} commands)");
    }

    private Task RunAsync(CompiledRuleset compiled, bool requireBridgeNetfilter, string what) =>
        NamespaceThread.RunAsync(options.NetworkNamespace, () =>
        {
            if (requireBridgeNetfilter)
            {
                RequireBridgeNetfilter();
            }

            using var context = NftablesContext.Open();
            var (succeeded, _, error) = context.Run(compiled.Json);
            if (!succeeded)
            {
                throw new NetworkException(VirtErrorKind.Refused, $"nftables refused to {what}{InNamespace()}; nothing was changed. nft said: {error.Trim()}");
            }
        });

    /// <inheritdoc />
    public Task<IReadOnlyList<FirewallRuleCounter>> ReadCountersAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return NamespaceThread.RunAsync<IReadOnlyList<FirewallRuleCounter>>(options.NetworkNamespace, () =>
        {
            using var context = NftablesContext.Open();
            var listings = new List<string>();
            foreach (var family in new[] { "inet", "bridge" })
            {
                var (succeeded, output, error) = context.Run(ListCommand("table", family, null));
                if (succeeded)
                {
                    listings.Add(output);
                }
                else if (!IsAbsent(error))
                {
                    throw new NetworkException(
                        VirtErrorKind.Refused, $"cannot list nftables table '{family} {compiler.Table}'{InNamespace()} to read its counters: {error.Trim()}");
                }
            }

            return NftablesCounterReader.Read(listings);
        });
    }

    private CompiledRuleset Compile(FirewallRuleset ruleset)
    {
        if (Volatile.Read(ref last) is { } cached && ReferenceEquals(cached.Ruleset, ruleset))
        {
            return cached.Compiled;
        }

        var compiled = compiler.Compile(ruleset);
        Volatile.Write(ref last, new Compilation(ruleset, compiled));
        return compiled;
    }

    // Without br_netfilter handing bridged frames to the inet hooks, the conntrack marks the port chains rely on would
    // never be set and every reply would fall to the default policy: refuse rather than load a firewall that breaks.
    private void RequireBridgeNetfilter()
    {
        foreach (var setting in new[] { "bridge-nf-call-iptables", "bridge-nf-call-ip6tables" })
        {
            var path = "/proc/sys/net/bridge/" + setting;
            var value = File.Exists(path) ? File.ReadAllText(path).Trim() : null;
            if (value != "1")
            {
                throw new NetworkException(
                    VirtErrorKind.Refused,
                    $"the port firewall needs net.bridge.{setting} = 1{InNamespace()} (it is {value ?? "absent: br_netfilter is not loaded"}): stateful rules on bridged traffic go through br_netfilter; run 'modprobe br_netfilter' and 'sysctl -w net.bridge.{setting}=1'");
            }
        }
    }

    private string ListCommand(string kind, string family, string? chain)
    {
        var target = new Dictionary<string, string> { ["family"] = family };
        if (chain is null)
        {
            target["name"] = compiler.Table;
        }
        else
        {
            target["table"] = compiler.Table;
            target["name"] = chain;
        }

        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteStartArray("nftables");
            writer.WriteStartObject();
            writer.WriteStartObject("list");
            writer.WriteStartObject(kind);
            foreach (var (key, value) in target)
            {
                writer.WriteString(key, value);
            }

            writer.WriteEndObject();
            writer.WriteEndObject();
            writer.WriteEndObject();
            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static string? FingerprintIn(string listing)
    {
        using var document = JsonDocument.Parse(listing);
        foreach (var item in document.RootElement.GetProperty("nftables").EnumerateArray())
        {
            if (item.TryGetProperty("rule", out var rule) && rule.TryGetProperty("comment", out var comment)
                && comment.GetString() is { } text && text.StartsWith(NftablesRulesetCompiler.FingerprintPrefix, StringComparison.Ordinal))
            {
                return text[NftablesRulesetCompiler.FingerprintPrefix.Length..];
            }
        }

        return null;
    }

    private static bool IsAbsent(string error) => error.Contains("No such file or directory", StringComparison.Ordinal);

    private string InNamespace() => options.NetworkNamespace is null ? "" : $" in network namespace '{options.NetworkNamespace}'";

    private sealed record Compilation(FirewallRuleset Ruleset, CompiledRuleset Compiled);
}
