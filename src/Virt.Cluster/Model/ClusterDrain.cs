namespace Virt.Clustering;

/// <summary>Where a drain of a node stands.</summary>
public enum ClusterDrainState
{
    /// <summary>Asked; the node's migration agent has not picked it up yet.</summary>
    Requested,

    /// <summary>The node's agent is moving its guests away.</summary>
    Running,

    /// <summary>Every running clustered VM was moved away and every container handled by the policy.</summary>
    Done,

    /// <summary>The agent went through every guest, but some could not be moved or stopped (see <see cref="ClusterDrain.Failures"/>).</summary>
    Failed,
}

/// <summary>A VM a drain moved, and where to.</summary>
/// <param name="Name">The VM.</param>
/// <param name="ToNode">The node it now runs on and that owns it.</param>
public sealed record DrainedGuest(string Name, string ToNode);

/// <summary>A guest a drain could not move or stop.</summary>
/// <param name="Kind">The guest's kind.</param>
/// <param name="Name">The guest.</param>
/// <param name="Reason">Why, as the node or the migration said it.</param>
public sealed record DrainFailure(ClusterGuestKind Kind, string Name, string Reason);

/// <summary>A drain of a node: asked with <see cref="IClusterManager.DrainAsync"/>, carried out by that node's <see cref="ClusterMigrationAgent"/>.</summary>
/// <param name="Node">The node being drained (in maintenance from the moment it was asked).</param>
/// <param name="State">Where it stands.</param>
/// <param name="RequestedAt">When it was asked.</param>
/// <param name="Moved">VMs migrated away so far.</param>
/// <param name="Stopped">Containers stopped (a container cannot move between nodes while running).</param>
/// <param name="Failures">Guests that could not be moved or stopped, with why; they still run on the node.</param>
/// <param name="Revision">The store's revision of this record.</param>
public sealed record ClusterDrain(string Node, ClusterDrainState State, DateTimeOffset RequestedAt, IReadOnlyList<DrainedGuest> Moved, IReadOnlyList<string> Stopped, IReadOnlyList<DrainFailure> Failures, long Revision)
{
    /// <summary>Whether the node's agent has finished with it (<see cref="ClusterDrainState.Done"/> or <see cref="ClusterDrainState.Failed"/>).</summary>
    public bool Finished => State is ClusterDrainState.Done or ClusterDrainState.Failed;
}

/// <summary>A live migration of a clustered VM between two nodes, in flight (while it is, no node may start the VM).</summary>
/// <param name="Name">The VM.</param>
/// <param name="Source">The node it runs on.</param>
/// <param name="Destination">The node receiving it.</param>
/// <param name="Ready">Whether the destination is waiting for the VM's state (it handed its ticket to the source).</param>
/// <param name="Error">Why the destination could not receive it, or <see langword="null"/>.</param>
/// <param name="Revision">The store's revision of this record.</param>
public sealed record ClusterMigration(string Name, string Source, string Destination, bool Ready, string? Error, long Revision);

/// <summary>How a drain treats the node's running containers, which cannot move between nodes while they run.</summary>
public enum DrainContainerPolicy
{
    /// <summary>Stop them (the default): the node is left with no running clustered guest.</summary>
    Stop,

    /// <summary>Leave them running on the node.</summary>
    Keep,
}
