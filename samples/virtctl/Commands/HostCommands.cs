using System.ComponentModel;
using Virt.Ctl.Infrastructure;
using Virt.Passthrough;

namespace Virt.Ctl.Commands;

[Description("Check whether this host can run VMs with passthrough devices (exit 4 when a check fails).")]
internal sealed class HostCheckCommand : VirtCommand<GlobalSettings>
{
    protected override Task<int> RunAsync(VirtHost host, GlobalSettings settings, CancellationToken cancellationToken)
    {
        var report = host.Passthrough.CheckReadiness();
        Output.Table(settings, report.Checks, ("check", check => check.Code), ("status", check => check.Status), ("found", check => check.Summary), ("fix", check => check.Fix));
        return Task.FromResult(report.IsReady ? ExitCodes.Success : ExitCodes.Refused);
    }
}
