using System.Diagnostics;
using Virt.Processes;
using Virt.Storage;
using Virt.Storage.Hosting;
using Virt.Storage.Pools;

namespace Virt.Benchmarks;

/// <summary>
/// Clone time per backend for a 1 GiB volume (all written) and a 10 GiB one (2 GiB written): a dir pool
/// on the temp directory (ext4: full clone = copy), a dir pool on xfs with reflink (full clone = reflink,
/// linked clone = qcow2 overlay) and a btrfs pool (subvolume snapshot), each against a plain full copy
/// (<c>cp --reflink=never</c>) of the same file in the same run.
/// </summary>
internal static class StorageCloneComparison
{
    private const long GiB = 1L << 30;

    public static async Task<int> RunAsync(string[] args)
    {
        var rounds = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 3;
        var root = Directory.CreateTempSubdirectory("vb-storage-").FullName;
        var mounts = new List<(string Image, string Device, string MountPoint)>();
        string? cephDirectory = null;
        try
        {
            Console.WriteLine($"{rounds} rounds each; medians in ms");
            Console.WriteLine("| backend | volume | clone | SDK clone (ms) | full copy `cp` (ms) | clone / copy |");
            Console.WriteLine("|---|---|---|---|---|---|");
            string? cephConfig = null;
            var backends = new List<(string Label, string Driver, string Path)> { ("dir on ext4", "dir", Path.Combine(root, "ext4")) };
            foreach (var kind in new[] { "xfs", "btrfs" })
            {
                var mount = Mount(kind, root);
                mounts.Add(mount);
                backends.Add((kind == "xfs" ? "dir on xfs (reflink)" : "btrfs", kind == "xfs" ? "dir" : "btrfs", Path.Combine(mount.MountPoint, "pool")));
            }

            backends.Add(("Ceph RBD", "rbd", Path.Combine(root, "rbd")));
            foreach (var (label, driver, path) in backends)
            {
                if (driver == "rbd")
                {
                    // Started only now: a running OSD's I/O would slow the btrfs commits measured above.
                    cephDirectory = Path.Combine("/tmp", "vb-ceph-" + Guid.NewGuid().ToString("N")[..8]);
                    cephConfig = HostCommand.Run("bash", "scripts/ceph-cluster.sh", "start", cephDirectory).Trim().Split('\n')[^1];
                }

                var manager = new StorageManager(new StorageOptions { StateDirectory = Path.Combine(root, "state-" + driver + backends.IndexOf((label, driver, path))) }, new System.IO.Abstractions.FileSystem(), new ProcessRunner());
                StoragePoolDefinition definition = driver switch
                {
                    "rbd" => new RbdPoolDefinition("bench", path, cephConfig!),
                    "btrfs" => new BtrfsPoolDefinition("bench", path),
                    _ => new DirPoolDefinition("bench", path),
                };
                var pool = await manager.DefinePoolAsync(definition);
                foreach (var (size, writtenGiB, name) in new[] { (1 * GiB, 1, "1 GiB"), (10 * GiB, 2, "10 GiB (2 GiB written)") })
                {
                    var source = await pool.CreateVolumeAsync(new VolumeSpec("src", size) { Format = driver == "dir" ? VolumeFormat.Raw : null });
                    for (var gib = 0; gib < writtenGiB; gib++)
                    {
                        // qemu-io takes at most 2 GiB - 1 per request: one GiB at a time (RBD through qemu's rbd driver).
                        HostCommand.Run("qemu-io", "-f", "raw", "-c", $"write -P 7 {gib}G 1G", source.Path);
                    }

                    HostCommand.Run("sync");
                    var sdk = new List<double>();
                    var copy = new List<double>();
                    for (var round = 0; round < rounds; round++)
                    {
                        var watch = Stopwatch.StartNew();
                        await pool.CloneVolumeAsync("src", "clone", linked: false).LastAsync();
                        sdk.Add(watch.Elapsed.TotalMilliseconds);
                        await pool.DeleteVolumeAsync("clone");
                        if (driver == "rbd")
                        {
                            // The baseline inside Ceph: a plain full copy with the rbd tool.
                            watch.Restart();
                            HostCommand.Run("rbd", "-c", cephConfig!, "cp", "--no-progress", "rbd/src", "rbd/copy");
                            copy.Add(watch.Elapsed.TotalMilliseconds);
                            HostCommand.Run("rbd", "-c", cephConfig!, "rm", "--no-progress", "rbd/copy");
                            continue;
                        }

                        var target = source.Path + ".copy";
                        watch.Restart();
                        HostCommand.Run("cp", "--reflink=never", "--sparse=always", source.Path, target);
                        copy.Add(watch.Elapsed.TotalMilliseconds);
                        File.Delete(target);
                    }

                    var how = label switch { "btrfs" => "subvolume snapshot", "dir on ext4" => "full (copy)", "Ceph RBD" => "full (rbd cp)", _ => "full (reflink)" };
                    Console.WriteLine($"| {label} | {name} | {how} | {BenchmarkVms.Median(sdk):0.0} | {BenchmarkVms.Median(copy):0.0} | {BenchmarkVms.Median(sdk) / BenchmarkVms.Median(copy):0.000}× |");
                    if (driver is "dir" or "rbd")
                    {
                        var linked = new List<double>();
                        for (var round = 0; round < rounds; round++)
                        {
                            var watch = Stopwatch.StartNew();
                            await pool.CloneVolumeAsync("src", "linked", linked: true).LastAsync();
                            linked.Add(watch.Elapsed.TotalMilliseconds);
                            await pool.DeleteVolumeAsync("linked");
                        }

                        Console.WriteLine($"| {label} | {name} | {(driver == "rbd" ? "linked (RBD clone v2)" : "linked (qcow2 overlay)")} | {BenchmarkVms.Median(linked):0.0} | {BenchmarkVms.Median(copy):0.0} | {BenchmarkVms.Median(linked) / BenchmarkVms.Median(copy):0.000}× |");
                    }

                    await pool.DeleteVolumeAsync("src");
                }
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
            if (cephDirectory is not null)
            {
                HostCommand.Run("bash", "scripts/ceph-cluster.sh", "stop", cephDirectory);
                Directory.Delete(cephDirectory, recursive: true);
            }

            foreach (var (image, device, mountPoint) in mounts)
            {
                HostCommand.Run("umount", mountPoint);
                HostCommand.Run("losetup", "-d", device);
                File.Delete(image);
            }

            Directory.Delete(root, recursive: true);
        }
    }

    private static (string Image, string Device, string MountPoint) Mount(string kind, string root)
    {
        var image = Path.Combine(root, kind + ".img");
        using (var file = File.Create(image))
        {
            file.SetLength(16 * GiB);
        }

        if (kind == "btrfs")
        {
            HostCommand.Run("mkfs.btrfs", "-q", image);
        }
        else
        {
            HostCommand.Run("mkfs.xfs", "-q", "-m", "reflink=1", image);
        }

        var device = HostCommand.Run("losetup", "-f", "--show", image).Trim();
        var mountPoint = Path.Combine(root, kind);
        Directory.CreateDirectory(mountPoint);
        HostCommand.Run("mount", device, mountPoint);
        return (image, device, mountPoint);
    }
}
