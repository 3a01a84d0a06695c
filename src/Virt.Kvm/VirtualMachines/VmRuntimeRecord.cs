namespace Virt.Kvm.VirtualMachines;

/// <summary>
/// What identifies a running QEMU, written to runtime.json at start so that a later manager can
/// re-attach and tell the VM's QEMU from an unrelated process that reused its pid.
/// </summary>
/// <param name="Pid">QEMU's pid.</param>
/// <param name="ProcessStartTicks">Field 22 of /proc/PID/stat (start time in clock ticks since boot).</param>
/// <param name="StartedAt">Wall-clock start time, for uptime.</param>
/// <param name="QemuBinary">The binary that runs.</param>
/// <param name="QemuVersion">Its version.</param>
/// <param name="Accelerator">"kvm" or "tcg".</param>
/// <param name="Taps">Tap devices the SDK created for this run, removed when it ends.</param>
/// <param name="TpmPid">The swtpm process of a VM with a TPM, or null.</param>
/// <param name="TpmStartTicks">swtpm's start time (field 22 of /proc/PID/stat), so a reused pid is never signalled.</param>
internal sealed record VmRuntimeRecord(int Pid, long ProcessStartTicks, DateTimeOffset StartedAt, string QemuBinary, string QemuVersion, string Accelerator, IReadOnlyList<string> Taps, int? TpmPid = null, long? TpmStartTicks = null);
