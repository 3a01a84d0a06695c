using Virt.Clustering;

namespace Virt.Panel.Api;

internal sealed record MaintenanceRequest(bool Maintenance);

/// <summary>The cluster's nodes and clustered guests, a node's maintenance flag, and draining a node (Panel:Etcd names the cluster).</summary>
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
            var drains = await Task.WhenAll(nodes.Select(n => manager.GetDrainAsync(n.Name, cancellationToken)));
            return new
            {
                self = manager.NodeName,
                holdsLease = manager.HoldsLease,
                nodes = nodes.Select((n, i) => new { node = n, guests = guests.Count(g => g.Node == n.Name), drain = drains[i] }).ToList(),
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
        cluster.MapPost("/nodes/{node}/drain", async (string node, IServiceProvider services, CancellationToken cancellationToken) =>
        {
            var drain = await Cluster(services).RequestDrainAsync(node, cancellationToken);
            return Results.Accepted($"/api/cluster/nodes/{Uri.EscapeDataString(node)}/drain", drain);
        }).WithSummary("Drain a node: it goes into maintenance and its migration agent live-migrates every running clustered VM away. Returns at once (202); follow it with GET.");
        cluster.MapGet("/nodes/{node}/drain", async (string node, IServiceProvider services, CancellationToken cancellationToken) =>
            await Cluster(services).GetDrainAsync(node, cancellationToken) is { } drain
                ? Results.Ok(drain)
                : Results.NotFound(new { error = $"no drain was asked of node {node} (or it was cleared by resume)" }))
            .WithSummary("The drain last asked of a node: its state, what moved where, what could not be moved and why.");
        cluster.MapPost("/nodes/{node}/resume", async (string node, IServiceProvider services, CancellationToken cancellationToken) =>
        {
            var manager = Cluster(services);
            await manager.ResumeAsync(node, cancellationToken);
            return await manager.GetNodeAsync(node, cancellationToken);
        }).WithSummary("Return a node to service: clears maintenance and its drain.");
    }

    private static IClusterManager Cluster(IServiceProvider services) =>
        services.GetService<IClusterManager>()
        ?? throw new ClusterException(VirtErrorKind.NotFound, "this panel is in no cluster: start it with --Panel:Etcd=http://HOST:2379,... (the cluster's etcd client URLs)");
}
