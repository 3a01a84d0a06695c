using Virt.Clustering;

namespace Virt.Panel.Api;

internal sealed record MaintenanceRequest(bool Maintenance);

/// <summary>The cluster's nodes and clustered guests, and a node's maintenance flag (Panel:Etcd names the cluster).</summary>
internal static class ClusterEndpoints
{
    public static void Map(WebApplication app)
    {
        var cluster = app.MapGroup("/api/cluster").WithTags("Cluster");
        cluster.MapGet("/nodes", async (IServiceProvider services, CancellationToken cancellationToken) =>
        {
            var manager = Cluster(services);
            var nodes = await manager.ListNodesAsync(cancellationToken);
            var guests = await manager.ListGuestsAsync(cancellationToken);
            return new
            {
                self = manager.NodeName,
                holdsLease = manager.HoldsLease,
                nodes = nodes.Select(n => new { node = n, guests = guests.Count(g => g.Node == n.Name) }).ToList(),
            };
        }).WithSummary("Every node of the cluster with its state and what it offers; which one this panel is.");
        cluster.MapGet("/guests", async (IServiceProvider services, CancellationToken cancellationToken) =>
            await Cluster(services).ListGuestsAsync(cancellationToken)).WithSummary("Every clustered guest and its owner node.");
        cluster.MapPost("/nodes/{node}/maintenance", async (string node, MaintenanceRequest request, IServiceProvider services, CancellationToken cancellationToken) =>
        {
            var manager = Cluster(services);
            await manager.SetMaintenanceAsync(node, request.Maintenance, cancellationToken);
            return await manager.GetNodeAsync(node, cancellationToken);
        }).WithSummary("Put a node in maintenance (nothing is placed on it) or return it to service.");
    }

    private static IClusterManager Cluster(IServiceProvider services) =>
        services.GetService<IClusterManager>()
        ?? throw new ClusterException(VirtErrorKind.NotFound, "this panel is in no cluster: start it with --Panel:Etcd=http://HOST:2379,... (the cluster's etcd client URLs)");
}
