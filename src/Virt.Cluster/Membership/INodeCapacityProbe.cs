using Virt.Clustering;

namespace Virt.Cluster.Membership;

/// <summary>Measures what this node offers, for its heartbeat.</summary>
internal interface INodeCapacityProbe
{
    Task<NodeCapacity> MeasureAsync(CancellationToken cancellationToken);
}
