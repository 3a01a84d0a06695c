namespace Virt.Clustering;

/// <summary>Options of the HA agent.</summary>
public sealed class ClusterHaOptions
{
    /// <summary>
    /// How long a survivor waits after etcd let a dead node's lease expire before it moves the node's HA guests. The dead
    /// node killed them when its own count of the lease ran out, which is never later than etcd's expiry; this margin
    /// covers the kill itself. Default 2 s.
    /// </summary>
    public TimeSpan RecoveryDelay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How often the agent checks that this node's HA guests run, and retries what failed. Default 2 s.</summary>
    public TimeSpan ReconcileInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How long an HA VM requested <see cref="HaRequestedState.Stopped"/> may take to shut down (ACPI) before it is killed. Default 60 s.</summary>
    public TimeSpan StopTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// A Linux watchdog device (e.g. <c>/dev/watchdog</c>; softdog or the board's) that resets the host when this node may
    /// run HA guests but can no longer fence them: the process was killed or hangs, or the lease ran out and the
    /// in-process fence did not kill them in time. The agent arms it when it starts and keeps it alive while the lease has
    /// more than <see cref="WatchdogTimeout"/> less half <see cref="RecoveryDelay"/> left, or while no HA VM runs here; a
    /// clean stop of the agent disarms it (magic close). Null (the default): no device; the in-process fence and the RBD
    /// locks are the guards. The device must support the magic close and a settable timeout.
    /// </summary>
    public string? WatchdogDevice { get; set; }

    /// <summary>
    /// The watchdog device's countdown: whole seconds from 1 s to half the lease TTL. Null (the default): half the lease
    /// TTL, rounded down (5 s with a 10 s lease).
    /// </summary>
    public TimeSpan? WatchdogTimeout { get; set; }
}
