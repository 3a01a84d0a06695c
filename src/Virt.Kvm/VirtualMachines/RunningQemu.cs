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

    /// <summary>
    /// The main monitor connection, for events and this process's commands; <see langword="null"/> while QEMU
    /// runs but its monitor does not answer (the watch loop keeps trying), and in a process that does not own the VM.
    /// </summary>
    public QmpClient? Qmp { get; set; } = qmp;

    /// <summary>Whether this process spawned QEMU (then its exit code can be collected with waitpid).</summary>
    public bool IsChild { get; set; } = isChild;

    /// <summary>
    /// Whether this process owns the run (holds the VM's owner lock): it watches QEMU's events on the main
    /// monitor, reaps QEMU and cleans up after it. Another process follows the run (see KvmVirtualMachine.Sharing).
    /// </summary>
    public bool IsOwner { get; set; } = true;

    /// <summary>Set by KillAsync, so the exit is reported as "killed".</summary>
    public bool KilledByUs { get; set; }

    private readonly CancellationTokenSource _detach = new();

    /// <summary>Set when the manager lets go of the VM without stopping it (disposal, or a migration's source).</summary>
    public bool Detaching => _detach.IsCancellationRequested;

    /// <summary>Cancelled when the manager lets go of the VM: wakes the background loops so they end.</summary>
    public CancellationToken DetachToken => _detach.Token;

    /// <summary>Lets go of this run without stopping QEMU.</summary>
    public void BeginDetach() => _detach.Cancel();

    /// <summary>True after a start until the RESUME caused by the start's own <c>cont</c> was seen (it is not news).</summary>
    public bool AwaitingStartResume { get; set; }

    /// <summary>
    /// Set once the watch loop has seen QEMU go and begun cleaning up after it (reap, taps, volumes, host
    /// devices, run files); <see cref="Exited"/> completes when that is done.
    /// </summary>
    public bool Ending { get; set; }

    /// <summary>QEMU's exit code once collected with waitpid (children only).</summary>
    public int? ExitCode { get; set; }

    public TaskCompletionSource<VmExitInfo> Exited { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}
