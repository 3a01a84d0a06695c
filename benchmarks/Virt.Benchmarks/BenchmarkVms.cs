using Virt.Kvm.Testing;
using Virt.Kvm.Host;
using Virt.Kvm.Hosting;
using Virt.Kvm.VirtualMachines;
using Virt.Processes;
using Virt.VirtualMachines;

namespace Virt.Benchmarks;

/// <summary>What the VM comparisons share: a manager on a private state directory, the test guest's spec, medians.</summary>
internal static class BenchmarkVms
{
    public static KvmVirtualMachineManager NewManager(KvmOptions options) =>
        new(options, new ProcessRunner(), new QemuCapabilityProbe(new ProcessRunner()), new AcceleratorProbe(new System.IO.Abstractions.FileSystem()), TimeProvider.System);

    public static VmSpec Spec(string name, string guest, int memoryMiB) => EmbeddedGuest.CreateSpec(name, guest, memoryMiB) with { Accelerator = VmAccelerator.Tcg };

    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        if (sorted.Count == 0)
        {
            return double.NaN; // every attempt failed; the runner has reported why
        }

        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
