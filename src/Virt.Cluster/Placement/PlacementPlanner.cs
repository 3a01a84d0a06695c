using System.Globalization;
using System.Text;
using Virt.Clustering;

namespace Virt.Cluster.Placement;

/// <summary>
/// Chooses a node for a guest: only online nodes out of maintenance; each must have the memory, enough logical CPUs,
/// every network and pool, and no guest of the same anti-affinity group. A node's memory for placement is the lower of
/// what its last heartbeat measured free and its total less every guest it owns: the first sees what runs there (and
/// the host's own use), the second guests claimed but not yet started, which no measurement can show yet. Of those that fit, the most free memory wins, then the fewest guests, then the name
/// (so that equal nodes are chosen the same way from every node).
/// </summary>
internal static class PlacementPlanner
{
    public static PlacementDecision Place(PlacementRequest request, IReadOnlyList<ClusterNode> nodes, IReadOnlyList<GuestOwnership> guests)
    {
        var fits = new List<NodeFit>();
        foreach (var node in nodes.OrderBy(n => n.Name, StringComparer.Ordinal))
        {
            fits.Add(Judge(request, node, guests));
        }

        var chosen = fits.Where(f => f.Fits)
            .OrderByDescending(f => f.FreeMemoryBytes)
            .ThenBy(f => guests.Count(g => g.Node == f.Node))
            .ThenBy(f => f.Node, StringComparer.Ordinal)
            .FirstOrDefault();
        if (chosen is null)
        {
            throw new ClusterPlacementException(Explain(request, fits), fits);
        }

        return new PlacementDecision(chosen.Node, fits);
    }

    private static NodeFit Judge(PlacementRequest request, ClusterNode node, IReadOnlyList<GuestOwnership> guests)
    {
        var owned = guests.Where(g => g.Node == node.Name).ToList();
        var free = node.Capacity is { } capacity
            ? Math.Min(capacity.FreeMemoryBytes, capacity.MemoryBytes - owned.Sum(g => g.MemoryBytes))
            : 0;
        string? reason = null;
        if (request.ExcludedNodes.Contains(node.Name, StringComparer.Ordinal))
        {
            reason = "excluded by the request";
        }
        else if (node.State != ClusterNodeState.Online || node.Capacity is null)
        {
            reason = node.State switch
            {
                ClusterNodeState.Maintenance => "in maintenance",
                ClusterNodeState.Suspect => "suspect (late renewing its lease)",
                _ => "dead (no lease)",
            };
        }
        else if (free < request.MemoryBytes)
        {
            reason = string.Create(CultureInfo.InvariantCulture, $"not enough free memory: {Mib(free)} MiB free, {Mib(request.MemoryBytes)} MiB asked");
        }
        else if (node.Capacity.Cpus < request.Cpus)
        {
            reason = string.Create(CultureInfo.InvariantCulture, $"{node.Capacity.Cpus} logical CPUs, {request.Cpus} vCPUs asked");
        }
        else if (request.Networks.Where(n => !node.Capacity.Networks.Contains(n, StringComparer.Ordinal)).ToList() is { Count: > 0 } missingNetworks)
        {
            reason = $"no network {string.Join(", ", missingNetworks.Select(n => $"'{n}'"))}";
        }
        else if (request.Pools.Where(p => !node.Capacity.Pools.Contains(p, StringComparer.Ordinal)).ToList() is { Count: > 0 } missingPools)
        {
            reason = $"no storage pool {string.Join(", ", missingPools.Select(p => $"'{p}'"))}";
        }
        else if (request.AntiAffinityGroup is { } group && owned.FirstOrDefault(g => g.AntiAffinityGroup == group) is { } sibling)
        {
            reason = $"already runs {sibling.Name} of anti-affinity group '{group}'";
        }

        return new NodeFit(node.Name, reason is null, reason, free);
    }

    private static string Explain(PlacementRequest request, IReadOnlyList<NodeFit> fits)
    {
        var text = new StringBuilder().Append(CultureInfo.InvariantCulture, $"no node fits a guest of {Mib(request.MemoryBytes)} MiB and {request.Cpus} vCPUs");
        if (request.AntiAffinityGroup is { } group)
        {
            text.Append(CultureInfo.InvariantCulture, $" in anti-affinity group '{group}'");
        }

        if (fits.Count == 0)
        {
            return text.Append(": the cluster has no nodes; join one with IClusterManager.JoinAsync").ToString();
        }

        text.Append(": ").AppendJoin("; ", fits.Select(f => $"{f.Node}: {f.Reason}"));
        return text.Append(". Free memory or add a node, define the missing networks or pools, or take a node out of maintenance.").ToString();
    }

    private static long Mib(long bytes) => bytes / (1024 * 1024);
}
