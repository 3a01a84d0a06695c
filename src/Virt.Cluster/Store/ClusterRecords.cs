using System.Text.Json.Serialization;
using Virt.Clustering;

namespace Virt.Cluster.Store;

/// <summary>A node's membership, at <c>P/members/NODE</c>: stays when the node dies, so the others know it was there.</summary>
/// <param name="HostId">The identity of the node's state directory: another host joining under the name has another.</param>
/// <param name="JoinedAt">When the node first joined.</param>
/// <param name="Maintenance">Nothing is placed on the node.</param>
/// <param name="Values">The node's values for shared definitions (<see cref="ClusterOptions.NodeValues"/>), as of its last join.</param>
internal sealed record MemberRecord(string HostId, DateTimeOffset JoinedAt, bool Maintenance, IReadOnlyDictionary<string, string>? Values = null);

/// <summary>A node's heartbeat, at <c>P/alive/NODE</c> under its lease: rewritten with each renewal, gone with the lease.</summary>
/// <param name="LeaseId">The lease the key is attached to.</param>
/// <param name="Capacity">What the node offers.</param>
/// <param name="WrittenAt">The node's clock when written (shown only; states come from etcd's lease, not clocks).</param>
internal sealed record HeartbeatRecord(long LeaseId, NodeCapacity Capacity, DateTimeOffset WrittenAt);

/// <summary>A clustered guest's owner, at <c>P/owners/KIND/NAME</c>.</summary>
internal sealed record OwnerRecord(string Node, long MemoryBytes, string? AntiAffinityGroup, bool HighAvailability = false, HaRequestedState RequestedState = HaRequestedState.Started);

/// <summary>
/// A live migration of a clustered VM between two nodes, at <c>P/migrations/vm/NAME</c> under the source node's lease (so
/// it disappears with a dead source). While it exists no node may start the VM. The source writes it; the destination
/// answers with its ticket (or an error); whoever first sees the migration complete hands the ownership over and deletes it
/// in one transaction.
/// </summary>
/// <param name="Source">The node the VM runs on.</param>
/// <param name="Destination">The node receiving it.</param>
/// <param name="OwnerRevision">The ownership's revision when the migration began: the hand-over happens only from it.</param>
/// <param name="SpecJson">The VM's spec as the source runs it.</param>
/// <param name="LocalDiskSizes">Disks given by a file path that the source copies over (disk id → virtual size).</param>
/// <param name="RequestedAt">When the source asked (its clock).</param>
/// <param name="TicketJson">The destination's ticket, once it is ready to receive; it carries a one-time token.</param>
/// <param name="Error">Why the destination could not receive it.</param>
/// <param name="HighAvailability">The VM is HA: the destination fences it with itself from the moment its state may arrive.</param>
internal sealed record MigrationRecord(string Source, string Destination, long OwnerRevision, string SpecJson, IReadOnlyDictionary<string, long> LocalDiskSizes, DateTimeOffset RequestedAt, string? TicketJson = null, string? Error = null, bool HighAvailability = false);

/// <summary>A drain asked of a node, at <c>P/drains/NODE</c>: written by whoever asks, advanced by the node's migration agent.</summary>
/// <param name="State">Where it stands.</param>
/// <param name="RequestedAt">When it was asked (the asker's clock).</param>
/// <param name="Moved">VMs migrated away so far, with where to.</param>
/// <param name="Stopped">Containers stopped (they cannot move between nodes live).</param>
/// <param name="Failures">Guests that could not be moved or stopped, with why.</param>
internal sealed record DrainRecord(ClusterDrainState State, DateTimeOffset RequestedAt, IReadOnlyList<DrainedGuest> Moved, IReadOnlyList<string> Stopped, IReadOnlyList<DrainFailure> Failures);

/// <summary>What a node keeps in its state directory, so that its processes share one identity and one lease.</summary>
/// <param name="HostId">Made at the first join of the node from this directory.</param>
/// <param name="LeaseId">The node's current lease; 0 before the first join.</param>
internal sealed record NodeStateRecord(string HostId, long LeaseId);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, UseStringEnumConverter = true)]
[JsonSerializable(typeof(MemberRecord))]
[JsonSerializable(typeof(HeartbeatRecord))]
[JsonSerializable(typeof(OwnerRecord))]
[JsonSerializable(typeof(NodeStateRecord))]
[JsonSerializable(typeof(MigrationRecord))]
[JsonSerializable(typeof(DrainRecord))]
internal sealed partial class ClusterJsonContext : JsonSerializerContext;
