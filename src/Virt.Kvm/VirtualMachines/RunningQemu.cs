using Virt.Kvm.Interop;
using Virt.Kvm.Qmp;
using Virt.VirtualMachines;

namespace Virt.Kvm.VirtualMachines;

/// <summary>A QEMU process the manager watches: its identity, its monitor and how it ended.</summary>
internal sealed class RunningQemu(VmRuntimeRecord record, QmpClient? qmp, bool isChild, PidFd? process)
{
    /// <summary>
    /// A descriptor of the QEMU process, opened while it was known to be this VM's (our unreaped child,
    /// or verified by start time and command line): signals go through it, so they cannot reach a
    /// process that reused the pid. Null only on kernels without pidfd_open.
    /// </summary>
    public PidFd? Process { get; } = process;

    /// <summary>What was recorded in runtime.json; replaced when a hotplugged NIC adds a tap.</summary>
    public VmRuntimeRecord Record { get; set; } = record;

    /// <summary>The monitor connection; <see langword="null"/> while QEMU runs but its monitor does not answer (the watch loop keeps trying).</summary>
    public QmpClient? Qmp { get; set; } = qmp;

    /// <summary>Whether this process spawned QEMU (then its exit code can be collected with waitpid).</summary>
    public bool IsChild { get; } = isChild;

    /// <summary>Set by KillAsync, so the exit is reported as "killed".</summary>
    public bool KilledByUs { get; set; }

    /// <summary>Set when the manager lets go of the VM without stopping it (disposal).</summary>
    public bool Detaching { get; set; }

    /// <summary>True after a start until the RESUME caused by the start's own <c>cont</c> was seen (it is not news).</summary>
    public bool AwaitingStartResume { get; set; }

    /// <summary>QEMU's exit code once collected with waitpid (children only).</summary>
    public int? ExitCode { get; set; }

    public TaskCompletionSource<VmExitInfo> Exited { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}
