using System.ComponentModel;
using Spectre.Console.Cli;
using Virt.Ctl.Infrastructure;
using Virt.Networking;
using Virt.Samples.Networking;

namespace Virt.Ctl.Commands;

internal sealed class NetNameSettings : GlobalSettings
{
    [CommandArgument(0, "<network>")]
    [Description("The network's name.")]
    public string Network { get; set; } = string.Empty;
}

internal sealed class NetFileSettings : GlobalSettings
{
    [CommandArgument(0, "<file>")]
    [Description("A JSON file, or - for standard input.")]
    public string File { get; set; } = string.Empty;

    public Stream Open() => File == "-" ? Console.OpenStandardInput() : System.IO.File.OpenRead(File);
}

[Description("List the networks with their state on the host.")]
internal sealed class NetListCommand : VirtCommand<GlobalSettings>
{
    protected override async Task<int> RunAsync(VirtHost host, GlobalSettings settings, CancellationToken cancellationToken)
    {
        var networks = await host.Networks.ListAsync(cancellationToken);
        Output.Table(settings, networks, ("network", n => n.Definition.Name), ("kind", n => n.Definition.Kind), ("bridge", n => n.Definition.EffectiveBridgeName), ("subnet", n => NetworkText.Subnet(n.Definition)), ("applied", n => n.Applied ? "yes" : "no"), ("pending", n => n.PendingChanges), ("ports", n => n.PortCount));
        return ExitCodes.Success;
    }
}

[Description("Show a network's definition (as JSON, the format `net define` reads) and state.")]
internal sealed class NetShowCommand : VirtCommand<NetNameSettings>
{
    protected override async Task<int> RunAsync(VirtHost host, NetNameSettings settings, CancellationToken cancellationToken)
    {
        var network = await host.Networks.GetAsync(settings.Network, cancellationToken);
        var definition = System.Text.Json.JsonSerializer.Serialize(network.Definition, NetworkDocumentJson.Options);
        Output.Object(settings, network, $"{definition}\n{(network.Applied ? "applied" : $"not applied: {network.PendingChanges} pending change(s)")}, {network.PortCount} port(s)");
        return ExitCodes.Success;
    }
}

[Description("Define a network (or replace its definition) from a JSON file with a \"kind\": isolated, nat, routed, vlan or vxlan. Nothing changes on the host until `net apply`.")]
internal sealed class NetDefineCommand : VirtCommand<NetFileSettings>
{
    protected override async Task<int> RunAsync(VirtHost host, NetFileSettings settings, CancellationToken cancellationToken)
    {
        NetworkDefinition definition;
        await using (var file = settings.Open())
        {
            definition = await NetworkDocumentJson.ReadDefinitionAsync(file, settings.File, cancellationToken);
        }

        await host.Networks.DefineAsync(definition, cancellationToken);
        var network = await host.Networks.GetAsync(definition.Name, cancellationToken);
        Output.Object(settings, network, $"defined {definition.Kind} network {definition.Name} (bridge {definition.EffectiveBridgeName}); {network.PendingChanges} change(s) to apply: virtctl net plan {definition.Name}");
        return ExitCodes.Success;
    }
}

[Description("Show what `net apply` would do now, operation by operation. Changes nothing.")]
internal sealed class NetPlanCommand : VirtCommand<NetNameSettings>
{
    protected override async Task<int> RunAsync(VirtHost host, NetNameSettings settings, CancellationToken cancellationToken)
    {
        NetworkText.Plan(settings, await host.Networks.PlanAsync(settings.Network, cancellationToken), "the host matches the definition: nothing to do");
        return ExitCodes.Success;
    }
}

[Description("Bring the host to the network's definition (bridge, addresses, firewall, dnsmasq); a failure half-way is rolled back.")]
internal sealed class NetApplyCommand : VirtCommand<NetNameSettings>
{
    protected override async Task<int> RunAsync(VirtHost host, NetNameSettings settings, CancellationToken cancellationToken)
    {
        NetworkText.Plan(settings, await host.Networks.ApplyAsync(settings.Network, cancellationToken), $"network {settings.Network} already matches the host: nothing done");
        return ExitCodes.Success;
    }
}

[Description("Remove a network from the host and its definition (refused while ports are attached).")]
internal sealed class NetDeleteCommand : VirtCommand<NetNameSettings>
{
    protected override async Task<int> RunAsync(VirtHost host, NetNameSettings settings, CancellationToken cancellationToken)
    {
        await host.Networks.DeleteAsync(settings.Network, cancellationToken);
        Output.Done(settings, $"network {settings.Network} deleted");
        return ExitCodes.Success;
    }
}

[Description("The DHCP leases of a network.")]
internal sealed class NetLeasesCommand : VirtCommand<NetNameSettings>
{
    protected override async Task<int> RunAsync(VirtHost host, NetNameSettings settings, CancellationToken cancellationToken)
    {
        Output.Table(settings, await host.Networks.GetLeasesAsync(settings.Network, cancellationToken), ("mac", l => l.MacAddress), ("address", l => l.Address), ("hostname", l => l.Hostname), ("expires", l => l.Expires?.ToString("u", System.Globalization.CultureInfo.InvariantCulture) ?? "never"));
        return ExitCodes.Success;
    }
}

[Description("The VM and container NICs attached to a network.")]
internal sealed class NetPortsCommand : VirtCommand<NetNameSettings>
{
    protected override async Task<int> RunAsync(VirtHost host, NetNameSettings settings, CancellationToken cancellationToken)
    {
        Output.Table(settings, await host.Networks.ListPortsAsync(settings.Network, cancellationToken), ("owner", p => p.Request.Owner), ("nic", p => p.Request.NicId), ("interface", p => p.Request.HostInterface), ("kind", p => p.Request.Kind), ("mac", p => p.Request.MacAddress), ("vlan", p => p.Request.VlanTag), ("address", p => p.Ipv4Address));
        return ExitCodes.Success;
    }
}

[Description("The hit counters of a network's firewall rules.")]
internal sealed class NetCountersCommand : VirtCommand<NetNameSettings>
{
    protected override async Task<int> RunAsync(VirtHost host, NetNameSettings settings, CancellationToken cancellationToken)
    {
        Output.Table(settings, await host.Networks.GetFirewallCountersAsync(settings.Network, cancellationToken), ("scope", c => c.Scope), ("rule", c => c.Handle), ("packets", c => c.Packets), ("bytes", c => c.Bytes));
        return ExitCodes.Success;
    }
}

[Description("Where the host differs from the applied networks (`net apply NAME` repairs it). Exits 0 either way; --json for scripts.")]
internal sealed class NetDriftCommand : VirtCommand<GlobalSettings>
{
    protected override async Task<int> RunAsync(VirtHost host, GlobalSettings settings, CancellationToken cancellationToken)
    {
        var drift = await host.Networks.CheckDriftAsync(cancellationToken);
        if (drift.Count == 0 && !settings.Json)
        {
            Output.Done(settings, "no drift: the host matches every applied network");
            return ExitCodes.Success;
        }

        Output.Table(settings, drift, ("network", d => d.Network), ("object", d => d.Object), ("expected", d => d.Expected), ("actual", d => d.Actual));
        return ExitCodes.Success;
    }
}

[Description("The host's links, addresses, routes and bridges (all of them, read-only).")]
internal sealed class NetInventoryCommand : VirtCommand<GlobalSettings>
{
    protected override async Task<int> RunAsync(VirtHost host, GlobalSettings settings, CancellationToken cancellationToken)
    {
        var inventory = await host.Networks.GetHostInventoryAsync(cancellationToken);
        if (settings.Json)
        {
            Output.Object(settings, inventory, string.Empty);
            return ExitCodes.Success;
        }

        Output.Table(settings, inventory.Links, ("link", l => l.Name), ("kind", l => l.Kind ?? "device"), ("mac", l => l.MacAddress), ("mtu", l => l.Mtu), ("up", l => l.Up ? "up" : "down"), ("master", l => l.Master), ("alias", l => l.Alias));
        Output.Table(settings, inventory.Addresses, ("link", a => a.Link), ("address", a => a.Cidr));
        Output.Table(settings, inventory.Routes, ("destination", r => r.Destination), ("gateway", r => r.Gateway), ("link", r => r.Link));
        Output.Table(settings, inventory.Bridges, ("bridge", b => b.Name), ("ports", b => string.Join(", ", b.Ports)), ("vlan filtering", b => b.VlanFiltering ? "yes" : "no"));
        return ExitCodes.Success;
    }
}

[Description("List the security groups.")]
internal sealed class SecurityGroupListCommand : VirtCommand<GlobalSettings>
{
    protected override async Task<int> RunAsync(VirtHost host, GlobalSettings settings, CancellationToken cancellationToken)
    {
        Output.Table(settings, await host.Networks.ListSecurityGroupsAsync(cancellationToken), ("group", g => g.Name), ("rules", g => g.Rules.Count), ("summary", g => string.Join("; ", g.Rules.Select(NetworkText.Rule))));
        return ExitCodes.Success;
    }
}

[Description("Define a security group (or replace it) from a JSON file; the NICs using it get its rules at once.")]
internal sealed class SecurityGroupDefineCommand : VirtCommand<NetFileSettings>
{
    protected override async Task<int> RunAsync(VirtHost host, NetFileSettings settings, CancellationToken cancellationToken)
    {
        SecurityGroup group;
        await using (var file = settings.Open())
        {
            group = await NetworkDocumentJson.ReadSecurityGroupAsync(file, settings.File, cancellationToken);
        }

        await host.Networks.DefineSecurityGroupAsync(group, cancellationToken);
        Output.Object(settings, group, $"defined security group {group.Name} ({group.Rules.Count} rule(s))");
        return ExitCodes.Success;
    }
}

internal sealed class SecurityGroupNameSettings : GlobalSettings
{
    [CommandArgument(0, "<group>")]
    [Description("The security group's name.")]
    public string Group { get; set; } = string.Empty;
}

[Description("Remove a security group (refused while a NIC uses it).")]
internal sealed class SecurityGroupDeleteCommand : VirtCommand<SecurityGroupNameSettings>
{
    protected override async Task<int> RunAsync(VirtHost host, SecurityGroupNameSettings settings, CancellationToken cancellationToken)
    {
        await host.Networks.DeleteSecurityGroupAsync(settings.Group, cancellationToken);
        Output.Done(settings, $"security group {settings.Group} deleted");
        return ExitCodes.Success;
    }
}

/// <summary>Networks, plans and rules in words for the tables.</summary>
internal static class NetworkText
{
    public static string? Subnet(NetworkDefinition definition) => definition switch
    {
        NatNetworkDefinition nat => $"{nat.Ipv4.Cidr} via {nat.Ipv4.Gateway}",
        RoutedNetworkDefinition routed => $"{routed.Ipv4.Cidr} via {routed.Ipv4.Gateway}",
        VxlanNetworkDefinition { Ipv4: { } overlay } => $"{overlay.Cidr} via {overlay.Gateway}",
        _ => null,
    };

    public static string Rule(FirewallRule rule) =>
        $"{rule.Direction} {rule.Action} {rule.Protocol}{(rule.DestinationPorts.Count > 0 ? " port " + string.Join(',', rule.DestinationPorts) : string.Empty)}{(rule.Sources.Count > 0 ? " from " + string.Join(',', rule.Sources) : string.Empty)}";

    public static void Plan(GlobalSettings settings, NetworkPlan plan, string nothing)
    {
        if (plan.IsEmpty && !settings.Json)
        {
            Output.Done(settings, nothing);
            return;
        }

        if (settings.Json)
        {
            Output.Object(settings, plan, string.Empty);
            return;
        }

        Output.Table(settings, plan.Changes, ("layer", c => c.Layer), ("operation", c => c.Operation), ("object", c => c.Object), ("detail", c => c.Detail));
    }
}
