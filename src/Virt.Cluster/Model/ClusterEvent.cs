namespace Virt.Clustering;

/// <summary>A change seen in the cluster, in etcd's order.</summary>
/// <param name="Revision">The cluster store's revision of the change (0 for a change seen by this node's clock, e.g. a node turning suspect).</param>
public abstract record ClusterEvent(long Revision);

/// <summary>A node joined, changed state or capacity, or was removed.</summary>
/// <param name="Revision">The store's revision.</param>
/// <param name="Node">The node as now seen; <see langword="null"/> when it was removed from the cluster.</param>
/// <param name="Name">The node's name.</param>
public sealed record ClusterNodeChanged(long Revision, string Name, ClusterNode? Node) : ClusterEvent(Revision);

/// <summary>A shared definition was created, changed or deleted.</summary>
/// <param name="Revision">The store's revision.</param>
/// <param name="Kind">What it defines.</param>
/// <param name="Name">Its name.</param>
/// <param name="Definition">The definition now; <see langword="null"/> when deleted.</param>
public sealed record ClusterDefinitionChanged(long Revision, ClusterDefinitionKind Kind, string Name, ClusterDefinition? Definition) : ClusterEvent(Revision);

/// <summary>A clustered guest got an owner, changed owner or was released.</summary>
/// <param name="Revision">The store's revision.</param>
/// <param name="Kind">The guest's kind.</param>
/// <param name="Name">The guest's name.</param>
/// <param name="Ownership">The ownership now; <see langword="null"/> when released.</param>
public sealed record ClusterOwnershipChanged(long Revision, ClusterGuestKind Kind, string Name, GuestOwnership? Ownership) : ClusterEvent(Revision);

/// <summary>This node lost its lease: it may start no clustered guest until it joins again.</summary>
/// <param name="Reason">Why (expired, revoked, the store unreachable for longer than the lease).</param>
public sealed record ClusterLeaseLost(string Reason) : ClusterEvent(0);

/// <summary>A live migration between nodes began, got its destination's answer, or ended (<see langword="null"/>).</summary>
/// <param name="Revision">The store's revision.</param>
/// <param name="Kind">The guest's kind.</param>
/// <param name="Name">The guest's name.</param>
/// <param name="Migration">The migration now; <see langword="null"/> when it ended (completed, failed or its source died).</param>
public sealed record ClusterMigrationChanged(long Revision, ClusterGuestKind Kind, string Name, ClusterMigration? Migration) : ClusterEvent(Revision);

/// <summary>A drain of a node was asked, advanced or finished, or was cleared by <see cref="IClusterManager.ResumeAsync"/> (<see langword="null"/>).</summary>
/// <param name="Revision">The store's revision.</param>
/// <param name="Node">The node.</param>
/// <param name="Drain">The drain now; <see langword="null"/> when cleared.</param>
public sealed record ClusterDrainChanged(long Revision, string Node, ClusterDrain? Drain) : ClusterEvent(Revision);
