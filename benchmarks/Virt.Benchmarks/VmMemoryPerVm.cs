using Virt.Kvm.Hosting;
using Virt.VirtualMachines;

namespace Virt.Benchmarks;

/// <summary>
/// The managed memory the manager holds per running VM: many minimal VMs running at once (a q35 machine
/// with 32 MiB, SeaBIOS and no boot device — it idles in the firmware, so 50 of them fit a small host),
/// measured after a full collection, and again after many start/stop cycles to show it stays flat.
/// </summary>
internal static class VmMemoryPerVm
{
    public static async Task<int> RunAsync(string[] args)
    {
        var count = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 50;
        var cycles = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 100;
        var state = Directory.CreateTempSubdirectory("virt-bench-mem-").FullName;
        var manager = BenchmarkVms.NewManager(new KvmOptions { StateDirectory = state });
        var vms = new List<IVirtualMachine>();
        try
        {
            // One VM runs first and throughout, so what is shared per process (the QEMU binary's capabilities
            // and schema, JIT-compiled code, static caches, the pooled arrays of the thread that parsed the
            // schema) is in the baseline, not counted per VM.
            var first = await manager.CreateAsync(MinimalSpec("mem-base"));
            await first.StartAsync();
            var before = ManagedBytes();
            for (var i = 0; i < count; i++)
            {
                vms.Add(await manager.CreateAsync(MinimalSpec($"mem-{i:00}")));
            }

            vms.Add(first);
            foreach (var batch in vms[..count].Chunk(5))
            {
                await Task.WhenAll(batch.Select(vm => vm.StartAsync()));
            }

            var afterStart = PerVm(ManagedBytes(), before, count);
            await PauseForHeapDumpAsync("all VMs running");
            Console.WriteLine($"{count} minimal VMs running beside a first one (q35, 32 MiB, SeaBIOS without a boot device, TCG)");
            Console.WriteLine($"managed memory held per running VM, after the first start: {afterStart:0.0} KB (GC.GetTotalMemory after a full collection)");
            for (var cycle = 1; cycle <= cycles; cycle++)
            {
                var vm = vms[cycle % count];
                await vm.KillAsync();
                await vm.StartAsync();
            }

            var last = PerVm(ManagedBytes(), before, count);
            Console.WriteLine($"managed memory held per running VM, after {cycles} start/stop cycles: {last:0.0} KB ({last - afterStart:+0.0;-0.0} KB)");
            await PauseForHeapDumpAsync("after the cycles");
            return 0;
        }
        catch (Exception ex)
        {
            Console.Error.WriteLine(ex);
            return 1;
        }
        finally
        {
            await Task.WhenAll(vms.Select(async vm =>
            {
                if ((await vm.GetStatusAsync()).State != VmState.Stopped)
                {
                    await vm.KillAsync();
                }
            }));
            await manager.DisposeAsync();
            Directory.Delete(state, recursive: true);
        }
    }

    private static VmSpec MinimalSpec(string name) =>
        new(name) { Memory = new VmMemory { SizeMiB = 32 }, Accelerator = VmAccelerator.Tcg };

    private static long ManagedBytes()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    private static double PerVm(long after, long before, int count) => (after - before) / 1024.0 / count;

    /// <summary>With VIRT_BENCH_HEAP_DUMP set, waits for that file to appear, so a heap dump can be taken (dotnet-gcdump collect -p PID).</summary>
    private static async Task PauseForHeapDumpAsync(string moment)
    {
        if (Environment.GetEnvironmentVariable("VIRT_BENCH_HEAP_DUMP") is not { Length: > 0 } signal)
        {
            return;
        }

        Console.WriteLine($"pid {Environment.ProcessId}, {moment}: take the heap dump, then touch {signal}");
        while (!File.Exists(signal))
        {
            await Task.Delay(200);
        }

        File.Delete(signal);
    }
}
