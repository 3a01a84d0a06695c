using Virt.VirtualMachines;

namespace Virt.Clustering;

/// <summary>Options of a node's <see cref="ClusterMigrationAgent"/>.</summary>
public sealed class ClusterMigrationOptions
{
    /// <summary>
    /// The address of this node that the other nodes reach for migrations (an address of the link between the hosts): a
    /// VM migrated here is received on it. <see langword="null"/>: this node does not receive VMs (it can still send).
    /// </summary>
    public string? ListenAddress { get; set; }

    /// <summary>
    /// TLS (the default) or, only when asked for, clear text, for the migration and disk-copy streams between nodes. With
    /// TLS each node's certificate must carry the node's name as its common name (QEMU checks the peer's name).
    /// </summary>
    public MigrationSecurity Security { get; set; } = MigrationSecurity.Tls;

    /// <summary>This node's certificates in QEMU's layout; <see langword="null"/> for the VM manager's configured directory.</summary>
    public string? TlsDirectory { get; set; }

    /// <summary>How long a ticket this node hands out stays valid (see <see cref="IncomingMigrationOptions.TicketLifetime"/>). Default 10 minutes.</summary>
    public TimeSpan TicketLifetime { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>How long a source waits for the destination's ticket before it gives the migration up. Default 60 s.</summary>
    public TimeSpan PrepareTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How many VMs a drain migrates at once. Default 1 (one after the other: each gets the whole link).</summary>
    public int DrainParallelism { get; set; } = 1;

    /// <summary>What a drain does with the node's running clustered containers. Default <see cref="DrainContainerPolicy.Stop"/>.</summary>
    public DrainContainerPolicy ContainerPolicy { get; set; } = DrainContainerPolicy.Stop;

    /// <summary>How long a drain gives a container to stop cleanly before it is killed. Default 30 s.</summary>
    public TimeSpan ContainerStopTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The longest pause of a migrating VM at switch-over; <see langword="null"/> for the VM manager's default.</summary>
    public TimeSpan? DowntimeLimit { get; set; }

    /// <summary>The most bytes per second a migration may use; <see langword="null"/> for no limit.</summary>
    public long? MaxBandwidth { get; set; }

    /// <summary>Throws when an option is out of range.</summary>
    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(DrainParallelism, 1, nameof(DrainParallelism));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(TicketLifetime, TimeSpan.Zero, nameof(TicketLifetime));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(PrepareTimeout, TimeSpan.Zero, nameof(PrepareTimeout));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ContainerStopTimeout, TimeSpan.Zero, nameof(ContainerStopTimeout));
        if (ListenAddress is { } address && !System.Net.IPAddress.TryParse(address, out _))
        {
            throw new ArgumentException($"ListenAddress '{address}' is not an IP address; give the address of this node on the link between the hosts", nameof(ListenAddress));
        }
    }
}

/// <summary>A VM moved between nodes by <see cref="ClusterMigrationAgent.MigrateAsync"/>.</summary>
/// <param name="Name">The VM.</param>
/// <param name="Source">The node it ran on.</param>
/// <param name="Destination">The node it runs on now, which owns it.</param>
/// <param name="Elapsed">From the request to the hand-over of its ownership.</param>
/// <param name="Downtime">How long the guest was paused at switch-over, as QEMU reported it.</param>
public sealed record ClusterMigrationResult(string Name, string Source, string Destination, TimeSpan Elapsed, TimeSpan? Downtime);
