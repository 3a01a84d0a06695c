using System.Diagnostics;
using System.Globalization;
using Virt.Clustering;

namespace Virt.Benchmarks;

/// <summary>
/// The cluster-wide list of clustered guests (issue 20's target: 1,000 guests from any node within 50 ms), on a
/// 3-member etcd cluster on loopback the benchmark starts (scripts/etcd-cluster.sh): node-a claims the guests, node-b
/// lists them (<see cref="IClusterManager.ListGuestsAsync"/>, one linearizable range read and the records' JSON), and the
/// floor outside .NET is etcdctl reading the same prefix (<c>etcdctl get --prefix</c>, one process per read, so it pays a
/// process start and a connection; the SDK keeps its channel) in the same run. Also the node list (with each live
/// lease's time to live). Run from the repository root; <c>--busy</c> puts a spinning TCG guest on the other core.
/// </summary>
internal static class ClusterListTimings
{
    public static async Task<int> RunAsync(string[] args)
    {
        var numbers = args.Skip(1).Where(a => !a.StartsWith("--", StringComparison.Ordinal)).ToArray();
        var guests = numbers.Length > 0 ? int.Parse(numbers[0], CultureInfo.InvariantCulture) : 1000;
        var rounds = numbers.Length > 1 ? int.Parse(numbers[1], CultureInfo.InvariantCulture) : 30;
        using var busy = args.Contains("--busy") ? await BusyGuest.StartAsync() : null;
        using (var cluster = BenchmarkCluster.Start())
        {
            var endpoints = string.Join(',', cluster.Endpoints);
            await using var nodeA = cluster.Node("node-a", "/virt/", cluster.Root);
            await using var nodeB = cluster.Node("node-b", "/virt/", cluster.Root);
            await nodeA.JoinAsync();
            await nodeB.JoinAsync();
            var claiming = Stopwatch.StartNew();
            for (var i = 0; i < guests; i++)
            {
                await nodeA.ClaimAsync(ClusterGuestKind.VirtualMachine, $"vm-{i:D5}", new GuestClaim(512L << 20, $"group-{i % 10}"));
            }

            Console.WriteLine($"{guests} guests claimed on node-a in {claiming.Elapsed.TotalSeconds:0.0} s ({claiming.Elapsed.TotalMilliseconds / guests:0.00} ms a claim)");

            // Warm up both: the SDK's channel and JIT, etcdctl's page cache.
            for (var i = 0; i < 3; i++)
            {
                await nodeB.ListGuestsAsync();
                Etcdctl(endpoints, "/virt/owners/");
            }

            var sdk = new List<double>();
            var cli = new List<double>();
            var nodes = new List<double>();
            var watch = new Stopwatch();
            for (var round = 0; round < rounds; round++)
            {
                watch.Restart();
                var listed = await nodeB.ListGuestsAsync();
                sdk.Add(watch.Elapsed.TotalMilliseconds);
                if (listed.Count != guests)
                {
                    throw new InvalidOperationException($"listed {listed.Count} guests, expected {guests}");
                }

                watch.Restart();
                var lines = Etcdctl(endpoints, "/virt/owners/");
                cli.Add(watch.Elapsed.TotalMilliseconds);
                if (lines != guests * 2)
                {
                    throw new InvalidOperationException($"etcdctl printed {lines} lines, expected {guests * 2}");
                }

                watch.Restart();
                await nodeB.ListNodesAsync();
                nodes.Add(watch.Elapsed.TotalMilliseconds);
            }

            Console.WriteLine($"| cluster-wide list, {guests} guests, {rounds} rounds{(busy is null ? "" : ", busy guest on the other core")} | median ms | p90 ms |");
            Console.WriteLine("|---|---|---|");
            Console.WriteLine(Row("SDK: ListGuestsAsync from node-b", sdk));
            Console.WriteLine(Row("floor: etcdctl get --prefix (a process per read)", cli));
            Console.WriteLine(Row("SDK: ListNodesAsync (2 nodes, with their leases' TTL)", nodes));
            Console.WriteLine($"SDK / etcdctl: {BenchmarkVms.Median(sdk) / BenchmarkVms.Median(cli):0.00}x; target <= 50 ms: {(BenchmarkVms.Median(sdk) <= 50 ? "met" : "NOT met")}");
            return 0;
        }
    }

    /// <summary>Runs <c>etcdctl get --prefix</c> and returns the lines it printed (a key and a value per record).</summary>
    private static int Etcdctl(string endpoints, string prefix)
    {
        var start = new ProcessStartInfo("etcdctl") { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in new[] { "--endpoints", endpoints, "get", "--prefix", prefix })
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["ETCDCTL_API"] = "3";
        using var process = Process.Start(start)!;
        var lines = 0;
        while (process.StandardOutput.ReadLine() is not null)
        {
            lines++;
        }

        process.WaitForExit();
        return lines;
    }

    private static string Row(string what, List<double> values)
    {
        var sorted = values.Order().ToList();
        return string.Create(CultureInfo.InvariantCulture, $"| {what} | {BenchmarkVms.Median(values):0.00} | {sorted[(int)Math.Ceiling(sorted.Count * 0.9) - 1]:0.00} |");
    }
}
