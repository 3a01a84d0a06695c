namespace Virt.Clustering;

/// <summary>What kind of guest a clustered guest is.</summary>
public enum ClusterGuestKind
{
    /// <summary>A KVM virtual machine.</summary>
    VirtualMachine,

    /// <summary>An LXC container.</summary>
    Container,
}

/// <summary>
/// Asked by the VM and container managers before they start a guest, when one is registered (<c>AddCluster()</c>
/// registers the cluster's): a guest that belongs to a cluster starts only on the node that owns it while that node
/// holds a valid lease. The gate throws to refuse, with the reason; it is not asked for a migration's arrival.
/// </summary>
public interface IGuestStartGate
{
    /// <summary>Passes, or throws a <see cref="VirtException"/> that says why the guest may not start on this host.</summary>
    /// <param name="kind">The guest's kind.</param>
    /// <param name="name">The guest's name.</param>
    /// <param name="cancellationToken">Cancels the check (and so the start).</param>
    /// <returns>A task that completes when the start may go ahead.</returns>
    Task CheckStartAsync(ClusterGuestKind kind, string name, CancellationToken cancellationToken = default);
}
