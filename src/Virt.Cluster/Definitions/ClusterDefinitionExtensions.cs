using Virt.Networking;
using Virt.Storage;

namespace Virt.Clustering;

/// <summary>Shared network and pool definitions in their typed form (each node's <see cref="ClusterDefinitionReconciler"/> applies them).</summary>
public static class ClusterDefinitionExtensions
{
    /// <summary>Creates or changes the shared definition of a network, only if it is still at <paramref name="expectedRevision"/>.</summary>
    /// <param name="cluster">The cluster.</param>
    /// <param name="definition">The network, as every node should define it.</param>
    /// <param name="expectedRevision">The revision read before the change; 0 to create it.</param>
    /// <param name="cancellationToken">Cancels the change.</param>
    /// <returns>The definition as stored, with its new revision.</returns>
    /// <exception cref="ClusterConflictException">Another change came first.</exception>
    public static Task<ClusterDefinition> PutNetworkAsync(this IClusterManager cluster, NetworkDefinition definition, long expectedRevision, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        ArgumentNullException.ThrowIfNull(definition);
        return cluster.PutDefinitionAsync(ClusterDefinitionKind.Network, definition.Name, NetworkDefinitionJson.Serialize(definition), expectedRevision, cancellationToken);
    }

    /// <summary>Creates or changes the shared definition of a storage pool, only if it is still at <paramref name="expectedRevision"/>.</summary>
    /// <param name="cluster">The cluster.</param>
    /// <param name="definition">The pool, as every node should define it (a pool every node reaches, such as RBD, or a local one each node has alike).</param>
    /// <param name="expectedRevision">The revision read before the change; 0 to create it.</param>
    /// <param name="cancellationToken">Cancels the change.</param>
    /// <returns>The definition as stored, with its new revision.</returns>
    /// <exception cref="ClusterConflictException">Another change came first.</exception>
    public static Task<ClusterDefinition> PutPoolAsync(this IClusterManager cluster, StoragePoolDefinition definition, long expectedRevision, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        ArgumentNullException.ThrowIfNull(definition);
        return cluster.PutDefinitionAsync(ClusterDefinitionKind.StoragePool, definition.Name, StoragePoolDefinitionJson.Serialize(definition), expectedRevision, cancellationToken);
    }
}
