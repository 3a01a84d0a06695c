using System.ComponentModel;
using Spectre.Console.Cli;

namespace Virt.Ctl.Infrastructure;

/// <summary>Options every command takes.</summary>
internal class GlobalSettings : CommandSettings
{
    [CommandOption("--state <DIR>")]
    [Description("Where the SDK keeps its state: vms/, lxc/, storage/, passthrough/ below it. Default /var/lib/virt (or $VIRTCTL_STATE).")]
    public string State { get; set; } = Environment.GetEnvironmentVariable("VIRTCTL_STATE") is { Length: > 0 } state ? state : "/var/lib/virt";

    [CommandOption("--json")]
    [Description("Print the result as JSON for scripts instead of tables.")]
    public bool Json { get; set; }
}
