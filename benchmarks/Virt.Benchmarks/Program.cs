using BenchmarkDotNet.Running;
using Virt.Benchmarks;

// Any comparison below takes --busy: another TCG guest spins on the other core for the whole run.
if (args.Contains("--busy"))
{
    args = [.. args.Where(a => a != "--busy")];
    using var busy = await BusyGuest.StartAsync();
    return await RunAsync(args);
}

return await RunAsync(args);

static async Task<int> RunAsync(string[] args)
{
    // dotnet run -c Release --project benchmarks/Virt.Benchmarks -- compare [rounds] [callsPerRound]
    // dotnet run -c Release --project benchmarks/Virt.Benchmarks -- --filter '*'
    if (args.Length > 0 && args[0] == "compare")
    {
        return await QmpRoundTripComparison.RunAsync(args);
    }

    // dotnet run -c Release --project benchmarks/Virt.Benchmarks -- compare-c [rounds] [callsPerRound] [--guest] [--busy]
    if (args.Length > 0 && args[0] == "compare-c")
    {
        return await QmpFloorComparison.RunAsync(args);
    }

    // dotnet run -c Release --project benchmarks/Virt.Benchmarks -- compare-start [iterations] [--busy]
    if (args.Length > 0 && args[0] == "compare-start")
    {
        return await VmStartComparison.RunAsync(args);
    }

    // dotnet run -c Release --project benchmarks/Virt.Benchmarks -- vm-memory [runningVms] [startStopCycles]
    if (args.Length > 0 && args[0] == "vm-memory")
    {
        return await VmMemoryPerVm.RunAsync(args);
    }

    // dotnet run -c Release --project benchmarks/Virt.Benchmarks -- vm-features [iterations]
    if (args.Length > 0 && args[0] == "vm-features")
    {
        return await VmFeatureTimings.RunAsync(args);
    }

    // dotnet run -c Release --project benchmarks/Virt.Benchmarks -- cross-host-migration [rounds] [--busy]
    if (args.Length > 0 && args[0] == "cross-host-migration")
    {
        return await CrossHostMigrationComparison.RunAsync(args);
    }

    // dotnet run -c Release --project benchmarks/Virt.Benchmarks -- lxc [iterations] [--busy]
    if (args.Length > 0 && args[0] == "lxc")
    {
        return await LxcComparison.RunAsync(args);
    }

    // dotnet run -c Release --project benchmarks/Virt.Benchmarks -- storage-clone [rounds]
    if (args.Length > 0 && args[0] == "storage-clone")
    {
        return await StorageCloneComparison.RunAsync(args);
    }

    // dotnet run -c Release --project benchmarks/Virt.Benchmarks -- storage-snapshot [rounds]   (from the repository root)
    if (args.Length > 0 && args[0] == "storage-snapshot")
    {
        return await StorageSnapshotTimings.RunAsync(args);
    }

    // dotnet run -c Release --project benchmarks/Virt.Benchmarks -- pci-enumerate [rounds]
    if (args.Length > 0 && args[0] == "pci-enumerate")
    {
        return PciEnumerationComparison.Run(args);
    }

    // dotnet run -c Release --project benchmarks/Virt.Benchmarks -- network [networks] [portsPerNetwork] [--sdk-only]   (from the repository root)
    if (args.Length > 0 && args[0] == "network")
    {
        return await NetworkComparison.RunAsync(args);
    }

    // dotnet run -c Release --project benchmarks/Virt.Benchmarks -- network-start [iterations]
    if (args.Length > 0 && args[0] == "network-start")
    {
        return await NetworkStartComparison.RunAsync(args);
    }

    // dotnet run -c Release --project benchmarks/Virt.Benchmarks -- ha-failover [rounds] [lease-seconds] [--busy]   (from the repository root)
    if (args.Length > 0 && args[0] == "ha-failover")
    {
        return await HaFailoverTimings.RunAsync(args);
    }

    // dotnet run -c Release --project benchmarks/Virt.Benchmarks -- cluster-drain [vms] [rounds] [--busy]   (from the repository root)
    if (args.Length > 0 && args[0] == "cluster-drain")
    {
        return await ClusterDrainTimings.RunAsync(args);
    }

    // dotnet run -c Release --project benchmarks/Virt.Benchmarks -- cluster-list [guests] [rounds] [--busy]   (from the repository root)
    if (args.Length > 0 && args[0] == "cluster-list")
    {
        return await ClusterListTimings.RunAsync(args);
    }

    // dotnet run -c Release --project benchmarks/Virt.Benchmarks -- rbd-lock [rounds]   (from the repository root)
    if (args.Length > 0 && args[0] == "rbd-lock")
    {
        return await RbdLockTimings.RunAsync(args);
    }

    BenchmarkSwitcher.FromAssembly(typeof(QmpRoundTripBenchmarks).Assembly).Run(args);
    return 0;
}
