using System.Diagnostics;
using Virt.Processes;
using Virt.Storage;
using Virt.Storage.Hosting;
using Virt.Storage.Pools;

namespace Virt.Benchmarks;

/// <summary>
/// Snapshot create and rollback through the SDK per backend (dir/qcow2 on ext4, btrfs on a loop image,
/// Ceph RBD on a single-node cluster the benchmark starts), and how long that cluster takes to serve RBD.
/// Run from the repository root (it uses scripts/ceph-cluster.sh).
/// </summary>
internal static class StorageSnapshotTimings
{
    public static async Task<int> RunAsync(string[] args)
    {
        var rounds = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 5;
        var root = Directory.CreateTempSubdirectory("vb-snap-").FullName;
        var ceph = Path.Combine("/tmp", "vb-ceph-" + Guid.NewGuid().ToString("N")[..8]);
        string? device = null;
        var mount = Path.Combine(root, "btrfs");
        try
        {
            var image = Path.Combine(root, "btrfs.img");
            using (var file = File.Create(image))
            {
                file.SetLength(8L << 30);
            }

            HostCommand.Run("mkfs.btrfs", "-q", image);
            device = HostCommand.Run("losetup", "-f", "--show", image).Trim();
            Directory.CreateDirectory(mount);
            HostCommand.Run("mount", device, mount);

            var watch = Stopwatch.StartNew();
            var config = HostCommand.Run("bash", "scripts/ceph-cluster.sh", "start", ceph).Trim().Split('\n')[^1];
            var cephStart = watch.Elapsed.TotalSeconds;

            Console.WriteLine($"{rounds} rounds; medians in ms; Ceph fixture start (fresh cluster to pool 'rbd' ready): {cephStart:0.0} s");
            Console.WriteLine("| backend | volume | snapshot create (ms) | rollback (ms) |");
            Console.WriteLine("|---|---|---|---|");
            var backends = new (string Label, StoragePoolDefinition Definition, long Size)[]
            {
                ("dir (qcow2) on ext4", new DirPoolDefinition("bench", Path.Combine(root, "dir")), 1L << 30),
                ("btrfs", new BtrfsPoolDefinition("bench", Path.Combine(mount, "pool")), 1L << 30),
                ("Ceph RBD", new RbdPoolDefinition("bench", Path.Combine(root, "rbd"), config), 256L << 20),
            };
            foreach (var (label, definition, size) in backends)
            {
                var manager = new StorageManager(new StorageOptions { StateDirectory = Path.Combine(root, "state-" + definition.Driver) }, new System.IO.Abstractions.FileSystem(), new ProcessRunner());
                var pool = await manager.DefinePoolAsync(definition);
                var volume = await pool.CreateVolumeAsync(new VolumeSpec("vol", size));
                var format = volume.Format == VolumeFormat.Qcow2 ? "qcow2" : "raw";
                HostCommand.Run("qemu-io", "-f", format, "-c", $"write -P 3 0 {size}", volume.Path);
                var create = new List<double>();
                var rollback = new List<double>();
                for (var round = 0; round < rounds; round++)
                {
                    watch.Restart();
                    await pool.CreateSnapshotAsync("vol", "s" + round);
                    create.Add(watch.Elapsed.TotalMilliseconds);
                    HostCommand.Run("qemu-io", "-f", format, "-c", "write -P 4 0 4M", volume.Path);
                    watch.Restart();
                    await pool.RollbackSnapshotAsync("vol", "s" + round);
                    rollback.Add(watch.Elapsed.TotalMilliseconds);
                }

                Console.WriteLine($"| {label} | {size >> 20} MiB written | {BenchmarkVms.Median(create):0.0} | {BenchmarkVms.Median(rollback):0.0} |");
                await pool.DeleteVolumeAsync("vol");
            }

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

            if (device is not null)
            {
                HostCommand.Run("umount", mount);
                HostCommand.Run("losetup", "-d", device);
            }

            Directory.Delete(root, recursive: true);
        }
    }
}
