using System.Diagnostics;
using Virt.Hosting;
using Virt.Processes;
using Virt.Storage;
using Virt.Storage.Hosting;
using Virt.Storage.Locking;
using Virt.Storage.Pools;

namespace Virt.Benchmarks;

/// <summary>
/// What the cross-host RBD lock adds to a VM start and stop: <c>AcquireAsync</c> + <c>ReleaseAsync</c> of one RBD volume
/// with the lock, against the same pair without it (the pool's in-use marking alone, which is all the two did before),
/// on one single-node Ceph cluster the benchmark starts; plus the first acquisition of a manager, which opens its
/// librados connection. Run from the repository root (it uses scripts/ceph-cluster.sh).
/// </summary>
internal static class RbdLockTimings
{
    public static async Task<int> RunAsync(string[] args)
    {
        var rounds = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 30;
        var root = Directory.CreateTempSubdirectory("vb-rbdlock-").FullName;
        var ceph = Path.Combine("/tmp", "vb-ceph-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var config = HostCommand.Run("bash", "scripts/ceph-cluster.sh", "start", ceph).Trim().Split('\n')[^1];
            using var manager = new StorageManager(new StorageOptions { StateDirectory = Path.Combine(root, "state") }, new System.IO.Abstractions.FileSystem(), new ProcessRunner(), host: new VirtHostIdentity("bench-host"));
            var pool = (StoragePoolBase)await manager.DefinePoolAsync(new RbdPoolDefinition("bench", Path.Combine(root, "rbd"), config));
            await pool.CreateVolumeAsync(new VolumeSpec("vol", 64L << 20));
            var id = VolumeId.Parse("bench:vol");

            var watch = Stopwatch.StartNew();
            await manager.AcquireAsync(id, "vm:bench");
            await manager.ReleaseAsync(id, "vm:bench");
            var first = watch.Elapsed.TotalMilliseconds;

            var with = new List<double>();
            var without = new List<double>();
            for (var round = 0; round < rounds; round++)
            {
                watch.Restart();
                await manager.AcquireAsync(id, "vm:bench");
                await manager.ReleaseAsync(id, "vm:bench");
                with.Add(watch.Elapsed.TotalMilliseconds);

                watch.Restart();
                await pool.MarkInUseAsync("vol", "vm:bench", CancellationToken.None);
                pool.ClearInUse("vol", "vm:bench");
                without.Add(watch.Elapsed.TotalMilliseconds);
            }

            // The lock alone, as the manager runs it (off the caller's thread, on a warm connection): the pair above carries
            // three rbd processes of in-use marking, whose spread on a loaded host hides a few milliseconds.
            using var rados = RadosConnection.Open(config, "admin");
            var hostLock = new RbdHostLock(rados, "rbd", "vol", id);
            var alone = new List<double>();
            for (var round = 0; round < rounds; round++)
            {
                watch.Restart();
                await Task.Run(() => hostLock.Acquire("bench-host/vm:lock", null));
                await Task.Run(() => hostLock.Release("bench-host/vm:lock"));
                alone.Add(watch.Elapsed.TotalMilliseconds);
            }

            var added = with.Zip(without, (a, b) => a - b).ToList();
            Console.WriteLine($"{rounds} rounds, medians in ms (p90 in brackets); load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
            Console.WriteLine("| acquire + release of one RBD volume | ms |");
            Console.WriteLine("|---|---|");
            Console.WriteLine($"| without the cross-host lock (in-use marking only) | {BenchmarkVms.Median(without):0.0} [{P90(without):0.0}] |");
            Console.WriteLine($"| with the cross-host lock | {BenchmarkVms.Median(with):0.0} [{P90(with):0.0}] |");
            Console.WriteLine($"| added by the lock (take + release), per round | {BenchmarkVms.Median(added):0.0} [{P90(added):0.0}] |");
            Console.WriteLine($"| the lock alone: take + release (4 RADOS operations), warm connection | {BenchmarkVms.Median(alone):0.0} [{P90(alone):0.0}] |");
            Console.WriteLine($"| first acquisition of a manager (opens its librados connection), with the lock | {first:0.0} |");
            await pool.DeleteVolumeAsync("vol");
            return 0;
        }
        catch (Exception ex)
        {
            Console.Error.WriteLine(ex);
            return 1;
        }
        finally
        {
            HostCommand.Run("bash", "scripts/ceph-cluster.sh", "stop", ceph);
            if (Directory.Exists(ceph))
            {
                Directory.Delete(ceph, recursive: true);
            }

            Directory.Delete(root, recursive: true);
        }
    }

    private static double P90(List<double> values) => values.Order().ElementAt((int)Math.Ceiling(values.Count * 0.9) - 1);
}
