using BenchmarkDotNet.Running;
using Virt.Benchmarks;

// dotnet run -c Release --project benchmarks/Virt.Benchmarks -- compare [rounds] [callsPerRound]
// dotnet run -c Release --project benchmarks/Virt.Benchmarks -- --filter '*'
if (args.Length > 0 && args[0] == "compare")
{
    return await QmpRoundTripComparison.RunAsync(args);
}

// dotnet run -c Release --project benchmarks/Virt.Benchmarks -- compare-start [iterations]
if (args.Length > 0 && args[0] == "compare-start")
{
    return await VmStartComparison.RunAsync(args);
}

// dotnet run -c Release --project benchmarks/Virt.Benchmarks -- vm-features [iterations]
if (args.Length > 0 && args[0] == "vm-features")
{
    return await VmFeatureTimings.RunAsync(args);
}

// dotnet run -c Release --project benchmarks/Virt.Benchmarks -- lxc [iterations]
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

BenchmarkSwitcher.FromAssembly(typeof(QmpRoundTripBenchmarks).Assembly).Run(args);
return 0;
