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
}
