using System.Diagnostics;
using System.Globalization;
using System.IO.Abstractions;
using Virt.Network.Hosting;
using Virt.Network.Manager;
using Virt.Networking;
using Virt.Processes;

namespace Virt.Benchmarks;

/// <summary>
/// Issue 18's network benchmark, side by side in one run, each in a network namespace it makes and removes: N routed
/// networks (a bridge with a gateway address, no DHCP, no NAT) with M ports each, every port a veth pair whose host end
/// is on the bridge, up, with an alias, and an nftables filter (anti-spoofing to its MAC and address, three rules) — built
/// by the SDK (DefineAsync per network, then ApplyAllAsync, PrepareManyAsync and ConnectManyAsync: netlink batches and
/// one nftables transaction; with <c>--one-by-one</c>, ApplyAsync per network and PrepareAsync + ConnectAsync per port)
/// and by <c>benchmarks/floor/network-cli-floor.sh</c> (one <c>ip</c> or <c>nft</c> process per object). Then the re-apply
/// of the unchanged configuration (ApplyAllAsync, 20 times).
/// </summary>
/// <remarks>
/// The veth pairs of the SDK's ports are made by one <c>ip -batch</c> and timed on their own: in use the VM or container
/// backend makes the tap or veth (QEMU, LXC), not the network manager, which only connects it.
/// </remarks>
internal static class NetworkComparison
{
    private const string CliFloor = "benchmarks/floor/network-cli-floor.sh";

    public static async Task<int> RunAsync(string[] args)
    {
        var numbers = args.Skip(1).Where(a => !a.StartsWith("--", StringComparison.Ordinal)).Select(a => int.Parse(a, CultureInfo.InvariantCulture)).ToList();
        var networks = numbers.Count > 0 ? numbers[0] : 10;
        var portsPerNetwork = numbers.Count > 1 ? numbers[1] : 10;
        var withCli = !args.Contains("--sdk-only");
        var oneByOne = args.Contains("--one-by-one");
        if (networks is < 1 or > 250 * 250 || portsPerNetwork is < 1 or > 200)
        {
            Console.Error.WriteLine("usage: network [networks 1-62500] [ports per network 1-200] [--sdk-only] [--one-by-one]");
            return 2;
        }

        var suffix = Guid.NewGuid().ToString("N")[..6];
        var sdkNamespace = new BenchmarkNamespace("vb-sdk-" + suffix);
        var cliNamespace = new BenchmarkNamespace("vb-cli-" + suffix);
        var state = Directory.CreateTempSubdirectory("virt-bench-net-").FullName;
        var step = "creating the namespaces";
        try
        {
            sdkNamespace.Create();
            cliNamespace.Create();
            double? cliMs = null;
            if (withCli)
            {
                step = $"the CLI floor ({CliFloor})";
                var watch = Stopwatch.StartNew();
                var output = HostCommand.Run("bash", CliFloor, cliNamespace.Name, networks.ToString(CultureInfo.InvariantCulture), portsPerNetwork.ToString(CultureInfo.InvariantCulture));
                cliMs = double.Parse(output.Trim().Split('\n')[^1], CultureInfo.InvariantCulture);
                Console.WriteLine($"CLI floor: {cliMs:0} ms ({watch.Elapsed.TotalSeconds:0.0} s with bash)");
            }

            step = "the SDK";
            var manager = new NetworkManager(
                new NetworkOptions { StateDirectory = state, NetworkNamespace = sdkNamespace.Path, NftablesTable = "virtbench" },
                new FileSystem(),
                new ProcessRunner());
            var sdk = await BuildWithSdkAsync(manager, sdkNamespace, networks, portsPerNetwork, oneByOne);
            step = "the re-apply";
            var reapply = await ReapplyAsync(manager, networks);
            var total = networks * portsPerNetwork;
            Console.WriteLine();
            Console.WriteLine($"{networks} networks × {portsPerNetwork} ports ({total} ports), each with anti-spoofing and 3 rules; SDK in namespace {sdkNamespace.Name}, CLI in {cliNamespace.Name}");
            Console.WriteLine("| step | SDK (ms) | CLI floor (ms) |");
            Console.WriteLine("|---|---|---|");
            Console.WriteLine($"| DefineAsync ×{networks} | {sdk.DefineMs:0} | |");
            Console.WriteLine(oneByOne ? $"| ApplyAsync ×{networks} (bridges, gateway addresses) | {sdk.ApplyMs:0} | |" : $"| ApplyAllAsync (bridges, gateway addresses) | {sdk.ApplyMs:0} | |");
            Console.WriteLine(oneByOne ? $"| PrepareAsync ×{total} (firewall in force) | {sdk.PrepareMs:0} | |" : $"| PrepareManyAsync of {total} ports (firewall in force) | {sdk.PrepareMs:0} | |");
            Console.WriteLine(oneByOne ? $"| ConnectAsync ×{total} (bridge, up, alias) | {sdk.ConnectMs:0} | |" : $"| ConnectManyAsync of {total} ports (bridge, up, alias) | {sdk.ConnectMs:0} | |");
            Console.WriteLine($"| **SDK total** | **{sdk.SdkMs:0}** | {(cliMs is { } c ? $"**{c:0}**" : "not run")} |");
            Console.WriteLine($"| veth pairs by one `ip -batch` (the VM/container backend's part) | {sdk.VethMs:0} | (in the CLI total) |");
            Console.WriteLine($"| SDK total + veth batch | {sdk.SdkMs + sdk.VethMs:0} | |");
            if (cliMs is { } cli)
            {
                Console.WriteLine($"SDK / CLI: {sdk.SdkMs / cli:0.000}× (with the veth batch: {(sdk.SdkMs + sdk.VethMs) / cli:0.000}×); target ≤ 0.1×");
            }

            if (oneByOne)
            {
                Console.WriteLine($"PrepareAsync per port: median of the first {sdk.FirstPrepares.Count} {BenchmarkVms.Median(sdk.FirstPrepares):0.0} ms, of the last {sdk.LastPrepares.Count} {BenchmarkVms.Median(sdk.LastPrepares):0.0} ms");
            }

            Console.WriteLine($"Re-apply of the unchanged configuration ({total} ports): ApplyAllAsync ×{reapply.All.Count} median {BenchmarkVms.Median(reapply.All):0.00} ms, min {reapply.All.Min():0.00} ms, max {reapply.All.Max():0.00} ms ({reapply.NonEmptyPlans} non-empty plans); target ≤ 10 ms");
            Console.WriteLine($"  for comparison: ApplyAsync ×{networks} one network at a time {reapply.ApplyTotalMs:0.0} ms in all (per network median {BenchmarkVms.Median(reapply.PerNetwork):0.00} ms); PlanAsync ×{networks} {reapply.PlanTotalMs:0.0} ms; CheckDriftAsync {reapply.DriftMs:0.0} ms ({reapply.DriftCount} drifts)");
            step = "checking the end states";
            Console.WriteLine($"End state SDK: {sdkNamespace.EndState("virtbench")}");
            if (withCli)
            {
                Console.WriteLine($"End state CLI: {cliNamespace.EndState("clifloor")}");
            }

            return 0;
        }
        catch (Exception ex)
        {
            Console.Error.WriteLine($"network benchmark failed at {step}: {ex}");
            return 1;
        }
        finally
        {
            sdkNamespace.Dispose();
            cliNamespace.Dispose();
            Directory.Delete(state, recursive: true);
        }
    }

    /// <summary>Port p of network n: its host interface, MAC and address (the CLI floor uses the same scheme).</summary>
    private static (string Interface, string Mac, string Address) Port(int network, int port) => (
        $"sp{network}-{port}",
        string.Create(CultureInfo.InvariantCulture, $"02:00:00:{network / 256:x2}:{network % 256:x2}:{port:x2}"),
        $"{Subnet(network)}.{port + 10}");

    private static string Subnet(int network) => string.Create(CultureInfo.InvariantCulture, $"10.{network / 250}.{network % 250}");

    private static readonly NicFirewall PortFirewall = new()
    {
        AntiSpoofing = true,
        Rules =
        [
            new FirewallRule(FirewallDirection.In, FirewallAction.Accept) { Protocol = FirewallProtocol.Tcp, DestinationPorts = ["22"] },
            new FirewallRule(FirewallDirection.In, FirewallAction.Accept) { Protocol = FirewallProtocol.Tcp, DestinationPorts = ["80"] },
            new FirewallRule(FirewallDirection.In, FirewallAction.Drop) { Protocol = FirewallProtocol.Icmp, IcmpTypes = ["echo-request"] },
        ],
    };

    private static async Task<SdkTimings> BuildWithSdkAsync(NetworkManager manager, BenchmarkNamespace target, int networks, int portsPerNetwork, bool oneByOne)
    {
        var watch = Stopwatch.StartNew();
        for (var n = 0; n < networks; n++)
        {
            await manager.DefineAsync(new RoutedNetworkDefinition($"bn{n}", new NetworkSubnet($"{Subnet(n)}.0/24", $"{Subnet(n)}.1")) { Dhcp = false });
        }

        var defineMs = watch.Elapsed.TotalMilliseconds;
        watch.Restart();
        if (oneByOne)
        {
            for (var n = 0; n < networks; n++)
            {
                await manager.ApplyAsync($"bn{n}");
            }
        }
        else
        {
            await manager.ApplyAllAsync();
        }

        var applyMs = watch.Elapsed.TotalMilliseconds;
        var batch = Path.GetTempFileName();
        double vethMs;
        try
        {
            await File.WriteAllLinesAsync(batch, Enumerable.Range(0, networks).SelectMany(n => Enumerable.Range(0, portsPerNetwork).Select(p => $"link add {Port(n, p).Interface} type veth peer name {Port(n, p).Interface}p")));
            watch.Restart();
            HostCommand.Run("ip", "-n", target.Name, "-batch", batch);
            vethMs = watch.Elapsed.TotalMilliseconds;
        }
        finally
        {
            File.Delete(batch);
        }

        var prepares = new List<double>();
        double prepareMs = 0, connectMs = 0;
        if (!oneByOne)
        {
            var requests = Enumerable.Range(0, networks).SelectMany(n => Enumerable.Range(0, portsPerNetwork).Select(p => Request(n, p))).ToList();
            watch.Restart();
            await manager.PrepareManyAsync(requests);
            prepareMs = watch.Elapsed.TotalMilliseconds;
            watch.Restart();
            await manager.ConnectManyAsync([.. requests.Select(r => new NetworkPortId(r.Owner, r.NicId))]);
            connectMs = watch.Elapsed.TotalMilliseconds;
            return new SdkTimings(defineMs, applyMs, prepareMs, connectMs, vethMs, [], []);
        }

        for (var n = 0; n < networks; n++)
        {
            for (var p = 0; p < portsPerNetwork; p++)
            {
                var request = Request(n, p);
                watch.Restart();
                await manager.PrepareAsync(request);
                var prepared = watch.Elapsed.TotalMilliseconds;
                prepares.Add(prepared);
                prepareMs += prepared;
                watch.Restart();
                await manager.ConnectAsync(request.Owner, request.NicId);
                connectMs += watch.Elapsed.TotalMilliseconds;
            }
        }

        var sample = Math.Min(10, prepares.Count);
        return new SdkTimings(defineMs, applyMs, prepareMs, connectMs, vethMs, prepares.Take(sample).ToList(), prepares.TakeLast(sample).ToList());
    }

    private static NetworkPortRequest Request(int network, int port)
    {
        var (name, mac, address) = Port(network, port);
        return new NetworkPortRequest($"bn{network}", $"vm:b{network}-{port}", "net0", name, NetworkPortKind.Veth, mac) { Firewall = PortFirewall, Ipv4Address = address };
    }

    private static async Task<ReapplyTimings> ReapplyAsync(NetworkManager manager, int networks)
    {
        // One untimed round first: the first call after the build pays the JIT of the read-only path.
        await manager.ApplyAllAsync();
        await manager.ApplyAsync("bn0");
        var all = new List<double>();
        var nonEmpty = 0;
        for (var round = 0; round < 20; round++)
        {
            var watch = Stopwatch.StartNew();
            var plans = await manager.ApplyAllAsync();
            all.Add(watch.Elapsed.TotalMilliseconds);
            nonEmpty += plans.Count(plan => plan.Changes.Count > 0);
        }

        var perNetwork = new List<double>();
        var total = Stopwatch.StartNew();
        for (var n = 0; n < networks; n++)
        {
            var watch = Stopwatch.StartNew();
            var plan = await manager.ApplyAsync($"bn{n}");
            perNetwork.Add(watch.Elapsed.TotalMilliseconds);
            nonEmpty += plan.Changes.Count > 0 ? 1 : 0;
        }

        var applyTotal = total.Elapsed.TotalMilliseconds;
        total.Restart();
        for (var n = 0; n < networks; n++)
        {
            await manager.PlanAsync($"bn{n}");
        }

        var planTotal = total.Elapsed.TotalMilliseconds;
        total.Restart();
        var drift = await manager.CheckDriftAsync();
        return new ReapplyTimings(all, applyTotal, perNetwork, nonEmpty, planTotal, total.Elapsed.TotalMilliseconds, drift.Count);
    }

    private sealed record SdkTimings(double DefineMs, double ApplyMs, double PrepareMs, double ConnectMs, double VethMs, List<double> FirstPrepares, List<double> LastPrepares)
    {
        public double SdkMs => DefineMs + ApplyMs + PrepareMs + ConnectMs;
    }

    private sealed record ReapplyTimings(List<double> All, double ApplyTotalMs, List<double> PerNetwork, int NonEmptyPlans, double PlanTotalMs, double DriftMs, int DriftCount);
}
