namespace Virt.Clustering;

/// <summary>What a shared definition defines.</summary>
public enum ClusterDefinitionKind
{
    /// <summary>A network definition.</summary>
    Network,

    /// <summary>A storage pool definition.</summary>
    StoragePool,

    /// <summary>A clustered VM's spec.</summary>
    VirtualMachine,

    /// <summary>A clustered container's spec.</summary>
    Container,
}

/// <summary>A definition shared by every node, as stored in the cluster.</summary>
/// <param name="Kind">What it defines.</param>
/// <param name="Name">Its name, unique within its kind.</param>
/// <param name="Json">The definition as JSON (the backend's own serialized form).</param>
/// <param name="Revision">The revision of its last change: pass it back to change or delete it (compare-and-swap).</param>
public sealed record ClusterDefinition(ClusterDefinitionKind Kind, string Name, string Json, long Revision);
