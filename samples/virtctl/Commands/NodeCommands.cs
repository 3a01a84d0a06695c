using System.ComponentModel;
using System.Globalization;
using Spectre.Console.Cli;
using Virt.Clustering;
using Virt.Ctl.Infrastructure;

namespace Virt.Ctl.Commands;

[Description("List the cluster's nodes: state, lease left, what each offers.")]
internal sealed class NodeListCommand : VirtCommand<GlobalSettings>
{
    protected override async Task<int> RunAsync(VirtHost host, GlobalSettings settings, CancellationToken cancellationToken)
    {
        var nodes = await host.Cluster.ListNodesAsync(cancellationToken);
        var guests = await host.Cluster.ListGuestsAsync(cancellationToken);
        Output.Table(
            settings,
            nodes.Select(n => new NodeRow(n, guests.Count(g => g.Node == n.Name))).ToList(),
            ("NAME", r => r.Node.Name),
            ("STATE", r => r.Node.State),
            ("LEASE LEFT", r => r.Node.LeaseRemaining is { } left ? string.Create(CultureInfo.InvariantCulture, $"{left.TotalSeconds:0} s") : "-"),
            ("CPUS", r => r.Node.Capacity?.Cpus),
            ("FREE MEMORY", r => r.Node.Capacity is { } c ? string.Create(CultureInfo.InvariantCulture, $"{c.FreeMemoryBytes >> 20} / {c.MemoryBytes >> 20} MiB") : "-"),
            ("NETWORKS", r => r.Node.Capacity is { } c ? string.Join(",", c.Networks) : "-"),
            ("POOLS", r => r.Node.Capacity is { } c ? string.Join(",", c.Pools) : "-"),
            ("QEMU", r => r.Node.Capacity?.QemuVersion),
            ("GUESTS", r => r.Guests));
        return ExitCodes.Success;
    }

    private sealed record NodeRow(ClusterNode Node, int Guests);
}

internal class NodeSettings : GlobalSettings
{
    [CommandArgument(0, "<NODE>")]
    [Description("The node's name.")]
    public string Name { get; set; } = string.Empty;
}

[Description("Mark a node for maintenance: nothing is placed on it (its running guests stay where they are).")]
internal sealed class NodeMaintenanceCommand : VirtCommand<NodeSettings>
{
    protected override async Task<int> RunAsync(VirtHost host, NodeSettings settings, CancellationToken cancellationToken)
    {
        await host.Cluster.SetMaintenanceAsync(settings.Name, true, cancellationToken);
        var node = await host.Cluster.GetNodeAsync(settings.Name, cancellationToken);
        Output.Object(settings, new { name = node.Name, state = node.State.ToString(), maintenance = node.Maintenance }, $"node {node.Name} is in maintenance ({node.State})");
        return ExitCodes.Success;
    }
}

[Description("Return a node from maintenance to service.")]
internal sealed class NodeResumeCommand : VirtCommand<NodeSettings>
{
    protected override async Task<int> RunAsync(VirtHost host, NodeSettings settings, CancellationToken cancellationToken)
    {
        await host.Cluster.SetMaintenanceAsync(settings.Name, false, cancellationToken);
        var node = await host.Cluster.GetNodeAsync(settings.Name, cancellationToken);
        Output.Object(settings, new { name = node.Name, state = node.State.ToString(), maintenance = node.Maintenance }, $"node {node.Name} is back in service ({node.State})");
        return ExitCodes.Success;
    }
}

[Description("List the clustered guests and the node that owns each.")]
internal sealed class NodeGuestsCommand : VirtCommand<GlobalSettings>
{
    protected override async Task<int> RunAsync(VirtHost host, GlobalSettings settings, CancellationToken cancellationToken)
    {
        var guests = await host.Cluster.ListGuestsAsync(cancellationToken);
        Output.Table(
            settings,
            guests,
            ("KIND", g => g.Kind),
            ("NAME", g => g.Name),
            ("NODE", g => g.Node),
            ("MEMORY", g => string.Create(CultureInfo.InvariantCulture, $"{g.MemoryBytes >> 20} MiB")),
            ("GROUP", g => g.AntiAffinityGroup),
            ("REVISION", g => g.Revision));
        return ExitCodes.Success;
    }
}
