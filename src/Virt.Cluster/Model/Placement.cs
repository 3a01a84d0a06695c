namespace Virt.Clustering;

/// <summary>What a guest needs from the node it is placed on.</summary>
public sealed record PlacementRequest
{
    /// <summary>The guest's memory.</summary>
    public required long MemoryBytes { get; init; }

    /// <summary>The guest's vCPUs: a node with fewer logical CPUs does not fit.</summary>
    public int Cpus { get; init; } = 1;

    /// <summary>Networks the guest's NICs join: each must be defined on the node.</summary>
    public IReadOnlyList<string> Networks { get; init; } = [];

    /// <summary>Storage pools the guest's disks are on: each must be defined on the node.</summary>
    public IReadOnlyList<string> Pools { get; init; } = [];

    /// <summary>No node that owns a guest of this group fits; <see langword="null"/> for none.</summary>
    public string? AntiAffinityGroup { get; init; }

    /// <summary>Nodes not to consider (e.g. the node being drained).</summary>
    public IReadOnlyList<string> ExcludedNodes { get; init; } = [];
}

/// <summary>How one node fared at placement.</summary>
/// <param name="Node">The node.</param>
/// <param name="Fits">The guest could go there.</param>
/// <param name="Reason">Why it does not fit; <see langword="null"/> when it does.</param>
/// <param name="FreeMemoryBytes">Memory left for the guest: the lower of what the node measured free at its last heartbeat and its total less the memory of every guest it owns (claimed guests that have not started yet count too).</param>
public sealed record NodeFit(string Node, bool Fits, string? Reason, long FreeMemoryBytes);

/// <summary>Where a guest goes.</summary>
/// <param name="Node">The chosen node: of those that fit, the one with the most free memory (then the fewest guests, then the name).</param>
/// <param name="Nodes">Every node considered, in the cluster's order, with why it fits or not.</param>
public sealed record PlacementDecision(string Node, IReadOnlyList<NodeFit> Nodes);
