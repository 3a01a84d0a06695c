using System.ComponentModel;
using Spectre.Console.Cli;

namespace Virt.Ctl.Infrastructure;

/// <summary>Options every command takes.</summary>
internal class GlobalSettings : CommandSettings
{
    [CommandOption("--state <DIR>")]
    [Description("Where the SDK keeps its state: vms/, lxc/, storage/, passthrough/, network/ below it. Default /var/lib/virt (or $VIRTCTL_STATE).")]
    public string State { get; set; } = Environment.GetEnvironmentVariable("VIRTCTL_STATE") is { Length: > 0 } state ? state : "/var/lib/virt";

    [CommandOption("--netns <PATH>")]
    [Description("Manage the networks of this network namespace (/run/netns/NAME) instead of the host's. Default none (or $VIRTCTL_NETNS).")]
    public string? NetworkNamespace { get; set; } = Environment.GetEnvironmentVariable("VIRTCTL_NETNS") is { Length: > 0 } netns ? netns : null;

    [CommandOption("--json")]
    [Description("Print the result as JSON for scripts instead of tables.")]
    public bool Json { get; set; }
}
