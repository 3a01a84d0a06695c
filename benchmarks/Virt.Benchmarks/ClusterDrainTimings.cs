using System.Diagnostics;
using System.Globalization;
using Virt.Clustering;
using Virt.Kvm.VirtualMachines;
using Virt.VirtualMachines;

namespace Virt.Benchmarks;

/// <summary>
/// Draining a node (issue 20: a node with 5 running VMs, sequential against parallel migrations). A 3-member etcd on
/// loopback, two nodes in this process, each with its own VM manager and migration agent; node-a runs N test guests
/// (256 MiB, TCG, booted until their agent answers), node-b asks for node-a's drain and the clock runs until
/// <see cref="IClusterManager.DrainAsync"/> returns with every VM moved (over TLS on loopback, ownership handed over).
/// The floor outside .NET in the same run: N plain QEMU migrations of the same guest one after another, the SDK's argv
/// launched by hand and migrated by benchmarks/floor/migrate-floor.c over TLS on loopback (QEMU's migration alone: no
/// etcd, no ticket, no agent). Run from the repository root; <c>--busy</c> puts a spinning TCG guest on the other core.
/// </summary>
internal static class ClusterDrainTimings
{
    private const int MemoryMiB = 256;

    public static async Task<int> RunAsync(string[] args)
    {
        var numbers = args.Skip(1).Where(a => !a.StartsWith("--", StringComparison.Ordinal)).ToArray();
        var count = numbers.Length > 0 ? int.Parse(numbers[0], CultureInfo.InvariantCulture) : 5;
        var rounds = numbers.Length > 1 ? int.Parse(numbers[1], CultureInfo.InvariantCulture) : 2;
        var guest = Environment.GetEnvironmentVariable("VIRT_GUEST_DIR") ?? Virt.Kvm.Testing.EmbeddedGuest.DefaultDirectory;
        using var busy = args.Contains("--busy") ? await BusyGuest.StartAsync() : null;
        using var cluster = BenchmarkCluster.Start("23990");
        var sequential = new List<double>();
        var parallel = new List<double>();
        var floor = new List<double>();
        for (var round = 0; round < rounds; round++)
        {
            sequential.Add(await DrainAsync(cluster, guest, count, parallelism: 1, Path.Combine(cluster.Root, $"seq-{round}")));
            parallel.Add(await DrainAsync(cluster, guest, count, parallelism: count, Path.Combine(cluster.Root, $"par-{round}")));
            floor.Add(await FloorAsync(cluster, guest, count));
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"round {round + 1}: sequential {sequential[^1]:0.00} s, parallel {parallel[^1]:0.00} s, plain QEMU x{count} {floor[^1]:0.00} s"));
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| drain of a node with {count} running VMs ({MemoryMiB} MiB, TCG, TLS on loopback), {rounds} rounds{(busy is null ? "" : ", busy guest on the other core")} | median s | max s | per VM s |"));
        Console.WriteLine("|---|---|---|---|");
        Console.WriteLine(Row("SDK: DrainAsync, one migration at a time", sequential, count));
        Console.WriteLine(Row($"SDK: DrainAsync, {count} migrations at once", parallel, count));
        Console.WriteLine(Row($"floor: {count} plain QEMU migrations one after another (migrate-floor.c)", floor, count));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"sequential / floor: {BenchmarkVms.Median(sequential) / BenchmarkVms.Median(floor):0.00}x; parallel / sequential: {BenchmarkVms.Median(parallel) / BenchmarkVms.Median(sequential):0.00}x"));
        return 0;
    }

    private static async Task<double> DrainAsync(BenchmarkCluster cluster, string guest, int count, int parallelism, string directory)
    {
        var prefix = $"/vb-drain-{Guid.NewGuid():N}/";
        await using var clusterA = cluster.Node("node-a", prefix, directory);
        await using var clusterB = cluster.Node("node-b", prefix, directory);
        await clusterA.JoinAsync();
        await clusterB.JoinAsync();
        await using var vmsA = cluster.Vms("node-a", Path.Combine(directory, "a-vms"), clusterA);
        await using var vmsB = cluster.Vms("node-b", Path.Combine(directory, "b-vms"), clusterB);
        await using var agentA = Agent(cluster, clusterA, vmsA, "node-a", parallelism);
        await using var agentB = Agent(cluster, clusterB, vmsB, "node-b", parallelism);
        await agentA.StartAsync();
        await agentB.StartAsync();
        try
        {
            for (var i = 0; i < count; i++)
            {
                var name = $"bench-drain-{i}";
                var vm = await vmsA.CreateAsync(BenchmarkVms.Spec(name, guest, MemoryMiB));
                await clusterA.ClaimAsync(ClusterGuestKind.VirtualMachine, name, new GuestClaim((long)MemoryMiB << 20));
                await vm.StartAsync();
            }

            // Every guest booted (its agent answers), so each migration moves a running guest's memory.
            foreach (var vm in await vmsA.ListAsync())
            {
                await BenchmarkCluster.UntilAsync(async () =>
                {
                    try
                    {
                        await vm.Guest.PingAsync();
                        return true;
                    }
                    catch (VirtException)
                    {
                        return false;
                    }
                });
            }

            var clock = Stopwatch.StartNew();
            var drain = await clusterB.DrainAsync("node-a");
            var elapsed = clock.Elapsed.TotalSeconds;
            if (drain.State != ClusterDrainState.Done || drain.Moved.Count != count)
            {
                throw new InvalidOperationException($"the drain ended {drain.State} with {drain.Moved.Count} of {count} moved: {string.Join("; ", drain.Failures.Select(f => $"{f.Name}: {f.Reason}"))}");
            }

            return elapsed;
        }
        finally
        {
            foreach (var vms in new[] { vmsA, vmsB })
            {
                foreach (var vm in await vms.ListAsync())
                {
                    await KillQuietlyAsync(vm);
                }
            }
        }
    }

    private static ClusterMigrationAgent Agent(BenchmarkCluster cluster, ClusterManager node, KvmVirtualMachineManager vms, string name, int parallelism) =>
        new(node, vms, options: new ClusterMigrationOptions { ListenAddress = "127.0.0.1", TlsDirectory = cluster.TlsDirectoryOf(name), DrainParallelism = parallelism });

    private static async Task<double> FloorAsync(BenchmarkCluster cluster, string guest, int count)
    {
        using var plain = await PlainQemuMigrationFloor.CreateAsync(Environment.GetEnvironmentVariable("VIRT_QEMU") ?? "/usr/bin/qemu-system-x86_64", guest, "bench-drain-floor");
        var source = new FloorHost(null, "127.0.0.1", cluster.TlsDirectoryOf("node-a"), "node-a");
        var destination = new FloorHost(null, "127.0.0.1", cluster.TlsDirectoryOf("node-b"), "node-b");
        var total = 0.0;
        for (var i = 0; i < count; i++)
        {
            var migrated = await plain.MigrateAsync(source, destination, secure: true, []) ?? throw new InvalidOperationException("the plain QEMU migration failed (reported above)");
            total += migrated.Total / 1000;
        }

        return total;
    }

    private static async Task KillQuietlyAsync(IVirtualMachine vm)
    {
        try
        {
            await vm.KillAsync();
        }
        catch (VirtException)
        {
            // Not running.
        }
    }

    private static string Row(string what, List<double> values, int count) =>
        string.Create(CultureInfo.InvariantCulture, $"| {what} | {BenchmarkVms.Median(values):0.00} | {values.Max():0.00} | {BenchmarkVms.Median(values) / count:0.00} |");
}
