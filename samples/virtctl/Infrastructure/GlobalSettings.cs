using System.ComponentModel;
using Spectre.Console.Cli;

namespace Virt.Ctl.Infrastructure;

/// <summary>Options every command takes.</summary>
internal class GlobalSettings : CommandSettings
{
    [CommandOption("--state <DIR>")]
    [Description("Where the SDK keeps its state: vms/, lxc/, storage/, passthrough/, network/, cluster/ below it. Default /var/lib/virt (or $VIRTCTL_STATE).")]
    public string State { get; set; } = Environment.GetEnvironmentVariable("VIRTCTL_STATE") is { Length: > 0 } state ? state : "/var/lib/virt";

    [CommandOption("--netns <PATH>")]
    [Description("Manage the networks of this network namespace (/run/netns/NAME) instead of the host's. Default none (or $VIRTCTL_NETNS).")]
    public string? NetworkNamespace { get; set; } = Environment.GetEnvironmentVariable("VIRTCTL_NETNS") is { Length: > 0 } netns ? netns : null;

    [CommandOption("--etcd <URLS>")]
    [Description("The cluster's etcd client URLs, comma-separated (node commands). Default none (or $VIRTCTL_ETCD).")]
    public string? Etcd { get; set; } = Environment.GetEnvironmentVariable("VIRTCTL_ETCD") is { Length: > 0 } etcd ? etcd : null;

    [CommandOption("--node <NAME>")]
    [Description("This host's node name in the cluster. Default the machine's name (or $VIRTCTL_NODE).")]
    public string? Node { get; set; } = Environment.GetEnvironmentVariable("VIRTCTL_NODE") is { Length: > 0 } node ? node : null;

    [CommandOption("--cluster-prefix <PREFIX>")]
    [Description("The etcd key prefix of the cluster. Default /virt/ (or $VIRTCTL_CLUSTER_PREFIX).")]
    public string? ClusterPrefix { get; set; } = Environment.GetEnvironmentVariable("VIRTCTL_CLUSTER_PREFIX") is { Length: > 0 } prefix ? prefix : null;

    [CommandOption("--json")]
    [Description("Print the result as JSON for scripts instead of tables.")]
    public bool Json { get; set; }
}
