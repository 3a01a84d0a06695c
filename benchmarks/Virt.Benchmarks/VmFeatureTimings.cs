using Virt.Kvm.Testing;
using System.Diagnostics;
using Virt.Kvm.Hosting;
using Virt.Kvm.VirtualMachines;
using Virt.Processes;
using Virt.VirtualMachines;

namespace Virt.Benchmarks;

/// <summary>
/// Times of the advanced VM features on the test guest (256 MiB, TCG): live snapshot save and load,
/// hotplug latency from the SDK's attach call to the device visible in the guest, and live migration
/// on this host (total time and the guest's downtime).
/// </summary>
internal static class VmFeatureTimings
{
    public static async Task<int> RunAsync(string[] args)
    {
        var iterations = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 5;
        var state = Directory.CreateTempSubdirectory("virt-bench-features-").FullName;
        try
        {
            var image = Path.Combine(state, "state.qcow2");
            var hotplugged = Path.Combine(state, "hot.qcow2");
            foreach (var path in new[] { image, hotplugged })
            {
                (await new ProcessRunner().RunAsync(new ProcessSpec("qemu-img", ["create", "-q", "-f", "qcow2", path, "64M"]))).EnsureSuccess();
            }

            await using var manager = BenchmarkVms.NewManager(new KvmOptions { StateDirectory = state });
            var vm = await manager.CreateAsync(BenchmarkVms.Spec("features", EmbeddedGuest.DefaultDirectory, 256) with { Disks = [new VmDisk("state", image)] });
            await vm.StartAsync();
            await WaitForAgentAsync(vm.Guest);

            var save = new List<double>();
            var load = new List<double>();
            var attach = new List<double>();
            var visible = new List<double>();
            var detach = new List<double>();
            var migrationTotal = new List<double>();
            var migrationDowntime = new List<double>();
            for (var i = 0; i < iterations; i++)
            {
                var watch = Stopwatch.StartNew();
                await vm.Snapshots.CreateAsync($"s{i}");
                save.Add(watch.Elapsed.TotalMilliseconds);
                watch.Restart();
                await vm.Snapshots.RestoreAsync($"s{i}");
                load.Add(watch.Elapsed.TotalMilliseconds);
                await vm.Snapshots.DeleteAsync($"s{i}");
                await WaitForAgentAsync(vm.Guest);

                // The guest polls for the block device every 5 ms; guest-exec-status polling adds up to 100 ms on top.
                var seen = vm.Guest.ExecAsync("/bin/sh", ["-c", "while ! test -b /dev/vdb; do usleep 5000; done"], timeout: TimeSpan.FromSeconds(30));
                await Task.Delay(300);
                watch.Restart();
                await vm.Disks.AttachAsync(new VmDisk("hot", hotplugged));
                attach.Add(watch.Elapsed.TotalMilliseconds);
                await seen;
                visible.Add(watch.Elapsed.TotalMilliseconds);
                watch.Restart();
                await vm.Disks.DetachAsync("hot");
                detach.Add(watch.Elapsed.TotalMilliseconds);

                // Live migration to a new QEMU on this host over a unix socket, shared disk.
                watch.Restart();
                VmMigrationProgress? last = null;
                await foreach (var progress in vm.Migration.MigrateAsync(new VmMigrationOptions()))
                {
                    last = progress;
                }

                migrationTotal.Add(watch.Elapsed.TotalMilliseconds);
                migrationDowntime.Add(last!.Downtime!.Value.TotalMilliseconds);
                await WaitForAgentAsync(vm.Guest);
            }

            await vm.KillAsync();
            Console.WriteLine($"{iterations} rounds on the test guest (256 MiB, TCG), medians:");
            Console.WriteLine("| operation | median (ms) | min (ms) | max (ms) |");
            Console.WriteLine("|---|---|---|---|");
            Row("live snapshot save (snapshot-save job, RAM + disk)", save);
            Row("live snapshot load (snapshot-load job, running again)", load);
            Row("disk hotplug: AttachDiskAsync returns (blockdev-add ×2 + device_add)", attach);
            Row("disk hotplug: AttachDiskAsync called → /dev/vdb seen in the guest", visible);
            Row("disk unplug: DetachDiskAsync (device_del → DEVICE_DELETED → blockdev-del)", detach);
            Row("live migration on this host (unix socket): MigrateAsync start → new QEMU running", migrationTotal);
            Row("live migration: guest downtime as QEMU reports it", migrationDowntime);
            return 0;
        }
        finally
        {
            Directory.Delete(state, recursive: true);
        }
    }

    private static void Row(string name, List<double> values) =>
        Console.WriteLine($"| {name} | {BenchmarkVms.Median(values):0.0} | {values.Min():0.0} | {values.Max():0.0} |");

    private static async Task WaitForAgentAsync(IVmGuest guest)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await guest.PingAsync();
                return;
            }
            catch (VmGuestAgentUnavailableException) when (attempt < 150)
            {
                await Task.Delay(200);
            }
        }
    }
}
