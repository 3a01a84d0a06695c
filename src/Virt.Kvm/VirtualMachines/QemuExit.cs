namespace Virt.Kvm.VirtualMachines;

/// <summary>Waits for a recorded QEMU that is on its way out to finish exiting.</summary>
internal static class QemuExit
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(20);

    /// <summary>How long an exiting QEMU may take to close its descriptors (unpinning a large guest's memory takes seconds).</summary>
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Whether the recorded pid is still the recorded process (same start time), has not yet turned
    /// into a zombie, and has already lost its memory. The kernel frees an exiting process's memory
    /// (its command line reads empty then) before it closes its descriptors, so such a process may
    /// still hold the VM's VFIO devices, taps and disk images even though it no longer looks like this
    /// VM's QEMU. A process that still has a command line is not exiting: when it is not this VM's
    /// QEMU, it is an unrelated process that got the recorded pid (and even its start time, in the
    /// worst case), and waiting for it would wait for a stranger.
    /// </summary>
    public static bool IsStillExiting(VmRuntimeRecord record) =>
        ProcessIdentity.StartTicks(record.Pid) == record.ProcessStartTicks && ProcessIdentity.CommandLine(record.Pid).Count == 0;

    /// <summary>Waits until the recorded process is a zombie or gone; gives up after a minute and says so.</summary>
    public static async Task WaitAsync(VmRuntimeRecord record, string vmName, TimeProvider time, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        while (IsStillExiting(record))
        {
            if (time.GetElapsedTime(started) > ExitTimeout)
            {
                throw new TimeoutException($"QEMU of VM '{vmName}' (pid {record.Pid}) is exiting but still holds its devices after {ExitTimeout.TotalSeconds:0.#} s (process state D?); look at /proc/{record.Pid}/stack and try again once it is gone");
            }

            await Task.Delay(PollInterval, time, cancellationToken).ConfigureAwait(false);
        }
    }
}
