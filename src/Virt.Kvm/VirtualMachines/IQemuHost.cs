using Virt.Kvm.Interop;

namespace Virt.Kvm.VirtualMachines;

/// <summary>
/// The host's processes as a VM's lifecycle sees them: spawning QEMU with its monitors, telling whether a
/// recorded pid is still that QEMU, signalling and reaping it. <see cref="QemuHost.Real"/> is the host
/// (posix_spawn, /proc, waitpid, kill); unit tests give a fake that serves the monitor in process.
/// </summary>
internal interface IQemuHost
{
    /// <summary>Binds the VM's QMP and control sockets and spawns QEMU with them as its monitors; returns its pid.</summary>
    int Spawn(string program, IReadOnlyList<string> arguments, VmFiles files);

    /// <summary>A process descriptor for the pid, or null (no such process, or no pidfd on this kernel).</summary>
    PidFd? TryOpen(int pid);

    /// <summary>The process's start time in clock ticks since boot, or null when it is gone or a zombie.</summary>
    long? StartTicks(int pid);

    /// <summary>The process's parent pid, or null when it is gone.</summary>
    int? ParentPid(int pid);

    /// <summary>Whether the pid is a zombie that started at <paramref name="startTicks"/>.</summary>
    bool IsZombieOf(int pid, long startTicks);

    /// <summary>Whether the recorded pid is still this VM's QEMU; <paramref name="handle"/> then names it (see <see cref="ProcessIdentity.IsSameQemu(VmRuntimeRecord, string, out PidFd?)"/>).</summary>
    bool IsSameQemu(VmRuntimeRecord record, string vmName, out PidFd? handle);

    /// <summary>Whether the recorded pid is still this VM's QEMU (same start time, same <c>-name</c>).</summary>
    bool IsSameQemu(VmRuntimeRecord record, string vmName);

    /// <summary>Waits until a recorded QEMU that is exiting has let go of its descriptors (see <see cref="QemuExit"/>).</summary>
    Task WaitUntilExitedAsync(VmRuntimeRecord record, string vmName, TimeProvider time, CancellationToken cancellationToken);

    /// <summary>One non-blocking waitpid: true once the child exited (with its exit code) or when it is not this process's child; false while it runs.</summary>
    bool TryReap(int pid, out int? exitCode);

    /// <summary>Sends a signal by pid; true when it was delivered.</summary>
    bool Kill(int pid, int signal);
}
