namespace Virt.VirtualMachines;

/// <summary>Lifecycle states.</summary>
public enum VmState
{
    /// <summary>Not running.</summary>
    Stopped,

    /// <summary>QEMU is starting.</summary>
    Starting,

    /// <summary>Running.</summary>
    Running,

    /// <summary>vCPUs paused.</summary>
    Paused,

    /// <summary>Stopped because the guest crashed (kernel panic) or QEMU failed.</summary>
    Crashed,

    /// <summary>A QEMU on this host waits for the VM's state from another host (<see cref="IVirtualMachineManager.PrepareIncomingAsync"/>).</summary>
    Incoming,
}

/// <summary>A VM's state at one moment.</summary>
/// <param name="Name">The VM.</param>
/// <param name="State">Its state.</param>
/// <param name="Pid">QEMU's pid while running.</param>
/// <param name="Uptime">Time since QEMU started, while running.</param>
/// <param name="QemuVersion">QEMU's version, while running.</param>
/// <param name="Accelerator">"kvm" or "tcg", while running.</param>
/// <param name="LastExit">How it last stopped, if known.</param>
public sealed record VmStatus(string Name, VmState State, int? Pid, TimeSpan? Uptime, string? QemuVersion, string? Accelerator, VmExitInfo? LastExit);

/// <summary>How a VM stopped.</summary>
/// <param name="Reason">In words: "guest shut down", "killed", "guest kernel panic", "QEMU exited: ...".</param>
/// <param name="ExitCode">QEMU's exit code when the SDK saw it exit, else <see langword="null"/>.</param>
/// <param name="At">When it was noticed.</param>
public sealed record VmExitInfo(string Reason, int? ExitCode, DateTimeOffset At);

/// <summary>Kinds of lifecycle event.</summary>
public enum VmEventKind
{
    /// <summary>QEMU started and the guest runs.</summary>
    Started,

    /// <summary>vCPUs paused.</summary>
    Paused,

    /// <summary>vCPUs resumed.</summary>
    Resumed,

    /// <summary>The guest asked to shut down (or reacted to the power button).</summary>
    GuestShutdown,

    /// <summary>The host ended the VM (quit, signal).</summary>
    HostShutdown,

    /// <summary>The VM was reset (reboot).</summary>
    Reset,

    /// <summary>The guest crashed (kernel panic).</summary>
    Crashed,

    /// <summary>QEMU exited; the VM is stopped.</summary>
    Stopped,

    /// <summary>The VM moved: now served by another QEMU (on this host: a new pid; elsewhere: it stops here next).</summary>
    Migrated,
}

/// <summary>A lifecycle event.</summary>
/// <param name="VmName">The VM.</param>
/// <param name="Kind">What happened.</param>
/// <param name="At">When.</param>
/// <param name="Reason">Details in words (QEMU's reason, the exit cause...).</param>
/// <param name="ExitCode">QEMU's exit code, for <see cref="VmEventKind.Stopped"/> when known.</param>
public sealed record VmEvent(string VmName, VmEventKind Kind, DateTimeOffset At, string? Reason = null, int? ExitCode = null);
