namespace Virt.Clustering;

/// <summary>Where a node of the cluster stands, as every node sees it.</summary>
public enum ClusterNodeState
{
    /// <summary>The node holds its lease and renewed it in time.</summary>
    Online,

    /// <summary>The node still holds its lease but has not renewed it for two renewal periods: it may be dying or cut off.</summary>
    Suspect,

    /// <summary>The node's lease has expired or was revoked: no process of that node is in the cluster.</summary>
    Dead,

    /// <summary>The node holds its lease and is in maintenance: nothing is placed on it.</summary>
    Maintenance,
}

/// <summary>What a node offers, published with its heartbeat.</summary>
/// <param name="Cpus">Logical CPUs of the host.</param>
/// <param name="MemoryBytes">The host's memory.</param>
/// <param name="FreeMemoryBytes">Memory available for new guests when the heartbeat was written (the kernel's <c>MemAvailable</c>).</param>
/// <param name="Networks">Networks defined on the node, by name.</param>
/// <param name="Pools">Storage pools defined on the node, by name.</param>
/// <param name="QemuVersion">The node's QEMU version, or <see langword="null"/> where it has none.</param>
public sealed record NodeCapacity(int Cpus, long MemoryBytes, long FreeMemoryBytes, IReadOnlyList<string> Networks, IReadOnlyList<string> Pools, string? QemuVersion);

/// <summary>A node of the cluster.</summary>
/// <param name="Name">The node's name, unique in the cluster.</param>
/// <param name="State">Where it stands.</param>
/// <param name="Capacity">What it published with its last heartbeat; <see langword="null"/> for a dead node.</param>
/// <param name="JoinedAt">When the node first joined (its own clock).</param>
/// <param name="LeaseRemaining">How long its lease has left as etcd counts it; <see langword="null"/> for a dead node.</param>
/// <param name="Maintenance">The node is marked for maintenance (it may be dead as well).</param>
public sealed record ClusterNode(string Name, ClusterNodeState State, NodeCapacity? Capacity, DateTimeOffset JoinedAt, TimeSpan? LeaseRemaining, bool Maintenance)
{
    /// <summary>The node's values for shared definitions (<see cref="ClusterOptions.NodeValues"/>), as of its last join; kept while it is dead.</summary>
    public IReadOnlyDictionary<string, string> Values { get; init; } = new Dictionary<string, string>();

    /// <inheritdoc />
    public bool Equals(ClusterNode? other) =>
        other is not null && Name == other.Name && State == other.State && Equals(Capacity, other.Capacity) && JoinedAt == other.JoinedAt
        && LeaseRemaining == other.LeaseRemaining && Maintenance == other.Maintenance
        && Values.Count == other.Values.Count && Values.All(value => other.Values.TryGetValue(value.Key, out var same) && same == value.Value);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Name, State, JoinedAt, Maintenance);
}
