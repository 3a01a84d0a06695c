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

[Description("Mark a node for maintenance: nothing is placed on it (its running guests stay where they are; see node drain).")]
internal sealed class NodeMaintenanceCommand : VirtCommand<NodeSettings>
{
    protected override async Task<int> RunAsync(VirtHost host, NodeSettings settings, CancellationToken cancellationToken)
    {
        await host.Cluster.SetMaintenanceAsync(settings.Name, true, cancellationToken);
        return await NodeStateOutput.ShowAsync(host, settings, "is in maintenance", cancellationToken);
    }
}

[Description("Return a node to service: clears maintenance and its drain (a drain still running starts no more migrations).")]
internal sealed class NodeResumeCommand : VirtCommand<NodeSettings>
{
    protected override async Task<int> RunAsync(VirtHost host, NodeSettings settings, CancellationToken cancellationToken)
    {
        await host.Cluster.ResumeAsync(settings.Name, cancellationToken);
        return await NodeStateOutput.ShowAsync(host, settings, "is back in service", cancellationToken);
    }
}

internal static class NodeStateOutput
{
    public static async Task<int> ShowAsync(VirtHost host, NodeSettings settings, string what, CancellationToken cancellationToken)
    {
        var node = await host.Cluster.GetNodeAsync(settings.Name, cancellationToken);
        Output.Object(settings, new { name = node.Name, state = node.State.ToString(), maintenance = node.Maintenance }, $"node {node.Name} {what} ({node.State})");
        return ExitCodes.Success;
    }
}

internal sealed class NodeDrainSettings : NodeSettings
{
    [CommandOption("--no-wait")]
    [Description("Return once the drain is asked, without waiting for the node's agent to finish it.")]
    public bool NoWait { get; set; }
}

[Description("Drain a node: it goes into maintenance and its migration agent live-migrates every running clustered VM to other nodes (containers are stopped or kept per its policy). Waits until it has finished; exit 1 when a guest could not be moved.")]
internal sealed class NodeDrainCommand : VirtCommand<NodeDrainSettings>
{
    protected override async Task<int> RunAsync(VirtHost host, NodeDrainSettings settings, CancellationToken cancellationToken)
    {
        var drain = settings.NoWait
            ? await host.Cluster.RequestDrainAsync(settings.Name, cancellationToken)
            : await host.Cluster.DrainAsync(settings.Name, cancellationToken);
        var lines = new List<string> { $"node {drain.Node}: drain {drain.State}" };
        lines.AddRange(drain.Moved.Select(m => $"  moved VM {m.Name} to node {m.ToNode}"));
        lines.AddRange(drain.Stopped.Select(c => $"  stopped container {c}"));
        lines.AddRange(drain.Failures.Select(f => $"  could not move {f.Kind} {f.Name}: {f.Reason}"));
        Output.Object(
            settings,
            new
            {
                node = drain.Node,
                state = drain.State.ToString(),
                moved = drain.Moved.Select(m => new { name = m.Name, toNode = m.ToNode }),
                stopped = drain.Stopped,
                failures = drain.Failures.Select(f => new { kind = f.Kind.ToString(), name = f.Name, reason = f.Reason }),
            },
            string.Join(Environment.NewLine, lines));
        return drain.State == ClusterDrainState.Failed ? ExitCodes.Failed : ExitCodes.Success;
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
