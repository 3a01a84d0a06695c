namespace Virt.Clustering;

/// <summary>
/// This host's view of, and part in, a cluster of hosts running the SDK, kept in etcd: the nodes and their leases, the
/// shared definitions, which node owns each clustered guest, and where a new guest fits. Every member works from any
/// node and from any process of a node (a process that has not joined can read, edit definitions and place).
/// </summary>
public interface IClusterManager : IGuestStartGate, IAsyncDisposable
{
    /// <summary>This node's name in the cluster.</summary>
    string NodeName { get; }

    /// <summary>Whether this process holds this node's lease and renewed it in time (what the start gate checks first).</summary>
    bool HoldsLease { get; }

    /// <summary>
    /// Joins the cluster as <see cref="NodeName"/>: takes (or, from a second process of the same node, shares) the node's
    /// lease, publishes <paramref name="capacity"/> (measured on this host where <see langword="null"/>) and renews both
    /// until the manager is disposed or <see cref="LeaveAsync"/>. Refused when another host already joined under the name.
    /// </summary>
    /// <param name="capacity">What the node offers; <see langword="null"/> to measure it (CPUs, memory, networks, pools, QEMU).</param>
    /// <param name="cancellationToken">Cancels the join; nothing is left half-written.</param>
    /// <returns>The node as the cluster now sees it.</returns>
    /// <exception cref="ClusterException">The name is taken by another host (<see cref="VirtErrorKind.Conflict"/>).</exception>
    /// <exception cref="ClusterUnavailableException">etcd cannot be reached or has no quorum.</exception>
    Task<ClusterNode> JoinAsync(NodeCapacity? capacity = null, CancellationToken cancellationToken = default);

    /// <summary>Leaves the cluster: stops renewing, revokes the lease and removes the node, which must own no guest.</summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <exception cref="ClusterException">The node still owns guests (<see cref="VirtErrorKind.Refused"/>).</exception>
    Task LeaveAsync(CancellationToken cancellationToken = default);

    /// <summary>Every node of the cluster with its state, read from etcd (linearizable).</summary>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The nodes by name.</returns>
    Task<IReadOnlyList<ClusterNode>> ListNodesAsync(CancellationToken cancellationToken = default);

    /// <summary>One node.</summary>
    /// <param name="name">The node's name.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The node.</returns>
    /// <exception cref="ClusterException">No node of that name (<see cref="VirtErrorKind.NotFound"/>).</exception>
    Task<ClusterNode> GetNodeAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Marks a node for maintenance (nothing is placed on it) or returns it to service.</summary>
    /// <param name="name">The node's name.</param>
    /// <param name="maintenance">In maintenance or not.</param>
    /// <param name="cancellationToken">Cancels the change.</param>
    /// <exception cref="ClusterException">No node of that name (<see cref="VirtErrorKind.NotFound"/>).</exception>
    Task SetMaintenanceAsync(string name, bool maintenance, CancellationToken cancellationToken = default);

    /// <summary>
    /// Asks a node to drain and returns at once: the node goes into maintenance (nothing more is placed on it) in the same
    /// transaction, and its <see cref="ClusterMigrationAgent"/> live-migrates every running clustered VM it owns to placed
    /// nodes and stops or keeps its running containers per its <see cref="ClusterMigrationOptions.ContainerPolicy"/>. Asking
    /// again while a drain runs returns that drain. Works from any node and any process.
    /// </summary>
    /// <param name="node">The node to drain.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The drain as asked (or as it runs).</returns>
    /// <exception cref="ClusterException">No such node (<see cref="VirtErrorKind.NotFound"/>), or it is dead (<see cref="VirtErrorKind.Refused"/>).</exception>
    Task<ClusterDrain> RequestDrainAsync(string node, CancellationToken cancellationToken = default);

    /// <summary>
    /// Drains a node (<see cref="RequestDrainAsync"/>) and waits until its agent has finished: every running clustered VM
    /// moved away (<see cref="ClusterDrainState.Done"/>), or each one that could not be moved named with why
    /// (<see cref="ClusterDrainState.Failed"/>). The node stays in maintenance until <see cref="ResumeAsync"/>.
    /// </summary>
    /// <param name="node">The node to drain.</param>
    /// <param name="cancellationToken">Stops waiting (the drain goes on; <see cref="ResumeAsync"/> calls it off).</param>
    /// <returns>The finished drain: what moved where, what stopped, what failed.</returns>
    /// <exception cref="ClusterException">No such node, the node is or became dead, the drain was called off, or the node's
    /// agent did not take it up within <see cref="ClusterOptions.DrainPickupTimeout"/> (the drain stays asked).</exception>
    Task<ClusterDrain> DrainAsync(string node, CancellationToken cancellationToken = default);

    /// <summary>The drain last asked of a node, or <see langword="null"/> when none (or it was cleared by <see cref="ResumeAsync"/>).</summary>
    /// <param name="node">The node.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The drain, or <see langword="null"/>.</returns>
    Task<ClusterDrain?> GetDrainAsync(string node, CancellationToken cancellationToken = default);

    /// <summary>
    /// Returns a node to service: clears maintenance and the drain record in one transaction. A drain still running stops
    /// starting migrations (those in flight finish); nothing moved comes back.
    /// </summary>
    /// <param name="node">The node.</param>
    /// <param name="cancellationToken">Cancels the change.</param>
    /// <exception cref="ClusterException">No node of that name (<see cref="VirtErrorKind.NotFound"/>).</exception>
    Task ResumeAsync(string node, CancellationToken cancellationToken = default);

    /// <summary>Removes a dead node that owns no guest from the cluster, so that its name can be used again.</summary>
    /// <param name="name">The node's name.</param>
    /// <param name="cancellationToken">Cancels the change.</param>
    /// <exception cref="ClusterException">No such node, the node is alive, or it still owns guests.</exception>
    Task RemoveNodeAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>
    /// The cluster's changes as they happen (etcd watch): nodes joining, turning suspect, dying, entering maintenance;
    /// definitions and ownerships changing; this node losing its lease. Starts with the current nodes, definitions and
    /// owners (and repeats them if etcd compacted away changes the watch missed while it was broken). Ends when the
    /// manager is disposed, or with the error that stopped it.
    /// </summary>
    /// <param name="cancellationToken">Ends the stream.</param>
    /// <returns>The changes, in the store's order.</returns>
    IAsyncEnumerable<ClusterEvent> WatchAsync(CancellationToken cancellationToken = default);

    /// <summary>A shared definition.</summary>
    /// <param name="kind">What it defines.</param>
    /// <param name="name">Its name.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The definition, or <see langword="null"/> when there is none.</returns>
    Task<ClusterDefinition?> GetDefinitionAsync(ClusterDefinitionKind kind, string name, CancellationToken cancellationToken = default);

    /// <summary>Every shared definition of a kind.</summary>
    /// <param name="kind">What they define.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The definitions by name.</returns>
    Task<IReadOnlyList<ClusterDefinition>> ListDefinitionsAsync(ClusterDefinitionKind kind, CancellationToken cancellationToken = default);

    /// <summary>Creates or changes a shared definition, only if it is still at <paramref name="expectedRevision"/>.</summary>
    /// <param name="kind">What it defines.</param>
    /// <param name="name">Its name.</param>
    /// <param name="json">The definition as a JSON object.</param>
    /// <param name="expectedRevision">The revision read before the change; 0 to create it.</param>
    /// <param name="cancellationToken">Cancels the change (it may have been made already).</param>
    /// <returns>The definition as stored, with its new revision.</returns>
    /// <exception cref="ClusterConflictException">Another change came first: the exception names the revision now stored.</exception>
    Task<ClusterDefinition> PutDefinitionAsync(ClusterDefinitionKind kind, string name, string json, long expectedRevision, CancellationToken cancellationToken = default);

    /// <summary>Deletes a shared definition, only if it is still at <paramref name="expectedRevision"/>.</summary>
    /// <param name="kind">What it defines.</param>
    /// <param name="name">Its name.</param>
    /// <param name="expectedRevision">The revision read before the change.</param>
    /// <param name="cancellationToken">Cancels the change (it may have been made already).</param>
    /// <exception cref="ClusterConflictException">Another change came first, or it does not exist.</exception>
    Task DeleteDefinitionAsync(ClusterDefinitionKind kind, string name, long expectedRevision, CancellationToken cancellationToken = default);

    /// <summary>Makes this node the owner of a clustered guest that has none (or already is its owner).</summary>
    /// <param name="kind">The guest's kind.</param>
    /// <param name="name">The guest's name.</param>
    /// <param name="claim">What the guest asks of the node.</param>
    /// <param name="cancellationToken">Cancels the claim.</param>
    /// <returns>The ownership.</returns>
    /// <exception cref="ClusterException">Another node owns it (<see cref="VirtErrorKind.Conflict"/>, naming it), or this node has not joined.</exception>
    Task<GuestOwnership> ClaimAsync(ClusterGuestKind kind, string name, GuestClaim claim, CancellationToken cancellationToken = default);

    /// <summary>Who owns a clustered guest.</summary>
    /// <param name="kind">The guest's kind.</param>
    /// <param name="name">The guest's name.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The ownership, or <see langword="null"/> when the guest has no owner.</returns>
    Task<GuestOwnership?> GetOwnerAsync(ClusterGuestKind kind, string name, CancellationToken cancellationToken = default);

    /// <summary>Every clustered guest with its owner, cluster-wide (one read).</summary>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The guests by kind and name.</returns>
    Task<IReadOnlyList<GuestOwnership>> ListGuestsAsync(CancellationToken cancellationToken = default);

    /// <summary>Hands a guest to another node, only if its ownership is still at <paramref name="expectedRevision"/>.</summary>
    /// <param name="kind">The guest's kind.</param>
    /// <param name="name">The guest's name.</param>
    /// <param name="toNode">The new owner, a member of the cluster.</param>
    /// <param name="expectedRevision">The ownership's revision as read before.</param>
    /// <param name="cancellationToken">Cancels the change.</param>
    /// <returns>The new ownership.</returns>
    /// <exception cref="ClusterConflictException">The ownership changed meanwhile.</exception>
    /// <exception cref="ClusterException">The guest has no owner or <paramref name="toNode"/> is no member.</exception>
    Task<GuestOwnership> TransferAsync(ClusterGuestKind kind, string name, string toNode, long expectedRevision, CancellationToken cancellationToken = default);

    /// <summary>Gives up this node's ownership of a guest (e.g. after deleting it).</summary>
    /// <param name="kind">The guest's kind.</param>
    /// <param name="name">The guest's name.</param>
    /// <param name="cancellationToken">Cancels the change.</param>
    /// <exception cref="ClusterException">Another node owns it (<see cref="VirtErrorKind.Conflict"/>).</exception>
    Task ReleaseAsync(ClusterGuestKind kind, string name, CancellationToken cancellationToken = default);

    /// <summary>
    /// The start gate: passes only when this node owns the guest <em>and</em> still holds a valid lease, both checked in one
    /// etcd transaction (so a node cut off from the quorum, or whose lease expired, is refused).
    /// </summary>
    /// <param name="kind">The guest's kind.</param>
    /// <param name="name">The guest's name.</param>
    /// <param name="cancellationToken">Cancels the check.</param>
    /// <exception cref="ClusterException">Refused (<see cref="VirtErrorKind.Refused"/>): not the owner, or no valid lease; the message says which.</exception>
    /// <exception cref="ClusterUnavailableException">etcd cannot be reached or has no quorum: no start either.</exception>
    Task EnsureMayStartAsync(ClusterGuestKind kind, string name, CancellationToken cancellationToken = default);

    /// <summary>Chooses the node for a guest among the online nodes not in maintenance.</summary>
    /// <param name="request">What the guest needs.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The chosen node and how every node fared.</returns>
    /// <exception cref="ClusterPlacementException">No node fits: the message lists each node and why not.</exception>
    Task<PlacementDecision> PlaceAsync(PlacementRequest request, CancellationToken cancellationToken = default);
}
