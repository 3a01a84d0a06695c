using System.Diagnostics;
using System.Globalization;
using System.Net;
using Virt.Network.Firewall;
using Virt.Network.Host;
using Virt.Network.Hosting;
using Virt.Network.Interop;
using Virt.Network.IntegrationTests.Infrastructure;
using Virt.Networking;

namespace Virt.Network.IntegrationTests.Firewall;

/// <summary>
/// 100 networks of 10 ports, each port with 3 rules: the ruleset loads in one transaction, round-trips its fingerprint
/// and counters; the test also reports (never asserts) how long libnftables takes against the nft CLI for the same load.
/// </summary>
public sealed class NftablesLargeRulesetTests
{
    [Fact]
    public async Task A_thousand_port_ruleset_loads_in_one_transaction_and_reads_back()
    {
        HostRequirement.Require(File.Exists("/usr/sbin/nft"), "nft (apt-get install nftables)");
        using var host = TestNamespace.Create("fwl");
        var token = TestContext.Current.CancellationToken;
        var firewall = new NftablesFirewallHost(new NetworkOptions { NetworkNamespace = host.Path });
        var ruleset = LargeRuleset();

        var compile = Stopwatch.StartNew();
        var compiled = new NftablesRulesetCompiler("virt").Compile(ruleset);
        compile.Stop();
        var warmCompile = Stopwatch.StartNew();
        Assert.Equal(compiled.Fingerprint, new NftablesRulesetCompiler("virt").Compile(ruleset).Fingerprint);
        warmCompile.Stop();
        Assert.Equal(compiled.Fingerprint, firewall.Fingerprint(ruleset));
        var fingerprintCompute = Stopwatch.StartNew();
        Assert.Equal(compiled.Fingerprint, firewall.Fingerprint(ruleset));
        fingerprintCompute.Stop();
        await firewall.ReplaceAsync(ruleset, token); // warm-up: the first load also creates the tables
        var replace = Stopwatch.StartNew();
        await firewall.ReplaceAsync(ruleset, token);
        replace.Stop();

        // The load alone, as the CLI does it below: one context, one transaction replacing the existing tables.
        var library = Stopwatch.StartNew();
        var (loaded, _, error) = await NamespaceThread.RunAsync(host.Path, () =>
        {
            using var context = NftablesContext.Open();
            return context.Run(compiled.Json);
        });
        library.Stop();
        Assert.True(loaded, error);

        Assert.Equal(compiled.Fingerprint, await firewall.ReadFingerprintAsync(token));
        var counters = await firewall.ReadCountersAsync(token);
        Assert.Equal((1000 * (3 + 2 + 4)) + 100, counters.Count); // 3 rules, 2 defaults, 4 anti-spoofing checks per port; 100 masquerades

        var jsonFile = Path.GetTempFileName();
        var textFile = Path.GetTempFileName();
        try
        {
            await File.WriteAllBytesAsync(jsonFile, compiled.Json, token);
            var cliJson = Time(() => host.Exec("nft", "-j", "-f", jsonFile));

            // The same tables as nft text, as `nft list` prints them, loaded by the CLI after deleting them.
            var listing = host.Exec("nft", "list", "table", "inet", "virt") + host.Exec("nft", "list", "table", "bridge", "virt");
            await File.WriteAllTextAsync(textFile, listing, token);
            host.Exec("nft", "delete", "table", "inet", "virt");
            host.Exec("nft", "delete", "table", "bridge", "virt");
            var cliText = Time(() => host.Exec("nft", "-f", textFile));

            // The same text in-process (libnftables falls back to its text parser when the buffer is not JSON).
            var textInProcess = Stopwatch.StartNew();
            var (textLoaded, _, textError) = await NamespaceThread.RunAsync(host.Path, () =>
            {
                using var context = NftablesContext.Open();
                return context.Run("delete table inet virt\ndelete table bridge virt\n" + listing);
            });
            textInProcess.Stop();
            Assert.True(textLoaded, textError);
            var check = Stopwatch.StartNew();
            var fingerprint = await firewall.ReadFingerprintAsync(token);
            check.Stop();
            Assert.Equal(compiled.Fingerprint, fingerprint);

            var figures = string.Create(
                CultureInfo.InvariantCulture,
                $"1000 ports x 3 rules, {compiled.CommandCount} commands, {compiled.Json.Length / 1024} KiB JSON: compile {compile.ElapsedMilliseconds} ms (again {warmCompile.ElapsedMilliseconds} ms); ReplaceAsync (compile + load) {replace.ElapsedMilliseconds} ms; libnftables load {library.ElapsedMilliseconds} ms; nft -j -f {cliJson} ms; nft -f text {cliText} ms; libnftables text {textInProcess.ElapsedMilliseconds} ms; fingerprint read {check.Elapsed.TotalMilliseconds:F1} ms, computed {fingerprintCompute.Elapsed.TotalMilliseconds:F1} ms");
            // VIRT_MEASURE_FILE collects the figures for docs/benchmarks.md (test output is hidden for passing tests).
            if (Environment.GetEnvironmentVariable("VIRT_MEASURE_FILE") is { Length: > 0 } measureFile)
            {
                await File.AppendAllTextAsync(measureFile, figures + Environment.NewLine, token);
                await File.WriteAllBytesAsync(measureFile + ".json", compiled.Json, token);
            }

            TestContext.Current.TestOutputHelper?.WriteLine(figures);
        }
        finally
        {
            File.Delete(jsonFile);
            File.Delete(textFile);
            await firewall.ReplaceAsync(FirewallRuleset.Empty, token);
        }
    }

    private static long Time(Action action)
    {
        var watch = Stopwatch.StartNew();
        action();
        return watch.ElapsedMilliseconds;
    }

    private static FirewallRuleset LargeRuleset()
    {
        var nat = new List<NatRule>();
        var ports = new List<FirewalledPort>();
        for (var network = 0; network < 100; network++)
        {
            var name = $"net{network}";
            var bridge = $"vbr{network}";
            var subnet = IPNetwork.Parse($"10.{network}.0.0/24");
            nat.Add(new NatRule(name, bridge, subnet, null));
            for (var port = 0; port < 10; port++)
            {
                var owner = $"vm:n{network}p{port}";
                var rules = new[]
                {
                    new FirewallRule(FirewallDirection.In, FirewallAction.Accept) { Protocol = FirewallProtocol.Tcp, DestinationPorts = ["22", "8000-8100"] },
                    new FirewallRule(FirewallDirection.In, FirewallAction.Drop) { Protocol = FirewallProtocol.Icmp, IcmpTypes = ["echo-request"] },
                    new FirewallRule(FirewallDirection.Out, FirewallAction.Accept) { Destinations = ["198.51.100.0/24"] },
                };
                ports.Add(new FirewalledPort(
                    name, owner, "net0", $"tap{network}i{port}", bridge, $"02:00:00:00:{network:x2}:{port:x2}",
                    [IPAddress.Parse($"10.{network}.0.{port + 10}")], true,
                    rules.Select((rule, index) => new ScopedRule($"port:{owner}/net0", index, rule)).ToList(),
                    FirewallAction.Drop, FirewallAction.Accept));
            }
        }

        return new FirewallRuleset(nat, [], ports);
    }
}
