using System.Text.Json.Serialization;
using Virt.Clustering;

namespace Virt.Cluster.Store;

/// <summary>A node's membership, at <c>P/members/NODE</c>: stays when the node dies, so the others know it was there.</summary>
/// <param name="HostId">The identity of the node's state directory: another host joining under the name has another.</param>
/// <param name="JoinedAt">When the node first joined.</param>
/// <param name="Maintenance">Nothing is placed on the node.</param>
internal sealed record MemberRecord(string HostId, DateTimeOffset JoinedAt, bool Maintenance);

/// <summary>A node's heartbeat, at <c>P/alive/NODE</c> under its lease: rewritten with each renewal, gone with the lease.</summary>
/// <param name="LeaseId">The lease the key is attached to.</param>
/// <param name="Capacity">What the node offers.</param>
/// <param name="WrittenAt">The node's clock when written (shown only; states come from etcd's lease, not clocks).</param>
internal sealed record HeartbeatRecord(long LeaseId, NodeCapacity Capacity, DateTimeOffset WrittenAt);

/// <summary>A clustered guest's owner, at <c>P/owners/KIND/NAME</c>.</summary>
internal sealed record OwnerRecord(string Node, long MemoryBytes, string? AntiAffinityGroup, bool HighAvailability = false);

/// <summary>What a node keeps in its state directory, so that its processes share one identity and one lease.</summary>
/// <param name="HostId">Made at the first join of the node from this directory.</param>
/// <param name="LeaseId">The node's current lease; 0 before the first join.</param>
internal sealed record NodeStateRecord(string HostId, long LeaseId);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, UseStringEnumConverter = true)]
[JsonSerializable(typeof(MemberRecord))]
[JsonSerializable(typeof(HeartbeatRecord))]
[JsonSerializable(typeof(OwnerRecord))]
[JsonSerializable(typeof(NodeStateRecord))]
internal sealed partial class ClusterJsonContext : JsonSerializerContext;
