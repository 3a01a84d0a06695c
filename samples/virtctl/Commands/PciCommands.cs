using System.ComponentModel;
using Spectre.Console.Cli;
using Virt.Ctl.Infrastructure;
using Virt.Passthrough;

namespace Virt.Ctl.Commands;

internal sealed class PciListSettings : GlobalSettings
{
    [CommandOption("--groups")]
    [Description("List the IOMMU groups with their viability instead of the devices.")]
    public bool Groups { get; set; }
}

[Description("List PCI devices (or --groups) as the SDK reads them from sysfs.")]
internal sealed class PciListCommand : VirtCommand<PciListSettings>
{
    protected override Task<int> RunAsync(VirtHost host, PciListSettings settings, CancellationToken cancellationToken)
    {
        if (settings.Groups)
        {
            Output.Table(settings, host.Passthrough.ListIommuGroups(), ("group", group => group.Number), ("viable", group => group.IsViable), ("members", group => string.Join(", ", group.Members.Select(member => $"{member.Address} ({member.Driver ?? "no driver"})"))));
        }
        else
        {
            Output.Table(settings, host.Passthrough.ListDevices(), ("address", device => device.Address), ("class", device => device.ClassCode.ToString("x6", System.Globalization.CultureInfo.InvariantCulture)), ("ids", device => $"{device.VendorId:x4}:{device.DeviceId:x4}"), ("driver", device => device.Driver), ("group", device => device.IommuGroup), ("name", device => $"{device.VendorName} {device.DeviceName}".Trim()));
        }

        return Task.FromResult(ExitCodes.Success);
    }
}

internal class PciDevicesSettings : GlobalSettings
{
    [CommandArgument(0, "<addresses>")]
    [Description("PCI addresses, DDDD:BB:SS.F.")]
    public string[] Addresses { get; set; } = [];

    [CommandOption("--owner <OWNER>")]
    [Description("Who holds the binding (e.g. vm:web-1). Default virtctl.")]
    public string Owner { get; set; } = "virtctl";

    [CommandOption("--single-function")]
    [Description("Only the given functions, not every function of their slots.")]
    public bool SingleFunction { get; set; }

    [CommandOption("--allow-host-critical")]
    [Description("Override the host-critical blockers (boot VGA, mounted disks' controller, routed NICs, open GPU handles).")]
    public bool AllowHostCritical { get; set; }

    public PassthroughPlanOptions Options => new() { Owner = Owner, AllFunctions = !SingleFunction, AllowHostCritical = AllowHostCritical };

    public IReadOnlyList<PciAddress> Parsed => Addresses.Select(PciAddress.Parse).ToList();
}

[Description("Show what binding devices to vfio-pci would do: devices, writes in order, blockers (exit 4 when blocked). Writes nothing.")]
internal sealed class PciPlanCommand : VirtCommand<PciDevicesSettings>
{
    protected override async Task<int> RunAsync(VirtHost host, PciDevicesSettings settings, CancellationToken cancellationToken)
    {
        var plan = await host.Passthrough.PlanAsync(settings.Parsed, settings.Options, cancellationToken);
        PciOutput.Plan(settings, plan);
        return plan.CanApply ? ExitCodes.Success : ExitCodes.Refused;
    }
}

[Description("Bind devices to vfio-pci for an owner (planned first; refused with exit 4 when anything blocks it).")]
internal sealed class PciBindCommand : VirtCommand<PciDevicesSettings>
{
    protected override async Task<int> RunAsync(VirtHost host, PciDevicesSettings settings, CancellationToken cancellationToken)
    {
        var plan = await host.Passthrough.PlanAsync(settings.Parsed, settings.Options, cancellationToken);
        if (!plan.CanApply)
        {
            PciOutput.Plan(settings, plan);
            return ExitCodes.Refused;
        }

        var binding = await host.Passthrough.ApplyAsync(plan, cancellationToken);
        Output.Object(settings, binding, $"bound {string.Join(", ", binding.Devices.Select(device => device.Address))} for {binding.Owner}: {string.Join(", ", binding.GroupDevices)}");
        return ExitCodes.Success;
    }
}

internal sealed class PciReleaseSettings : GlobalSettings
{
    [CommandArgument(0, "<owner>")]
    [Description("The owner whose devices go back to their drivers.")]
    public string Owner { get; set; } = string.Empty;
}

[Description("Give an owner's devices back to their original drivers and overrides.")]
internal sealed class PciReleaseCommand : VirtCommand<PciReleaseSettings>
{
    protected override async Task<int> RunAsync(VirtHost host, PciReleaseSettings settings, CancellationToken cancellationToken)
    {
        await host.Passthrough.ReleaseAsync(settings.Owner, cancellationToken);
        Output.Done(settings, $"released the devices of {settings.Owner}");
        return ExitCodes.Success;
    }
}

internal static class PciOutput
{
    public static void Plan(GlobalSettings settings, PassthroughPlan plan)
    {
        if (settings.Json)
        {
            Output.Object(settings, plan, string.Empty);
            return;
        }

        Output.Table(settings, plan.Devices, ("device", device => device.Address), ("role", device => device.Role), ("now on", device => device.CurrentDriver ?? "no driver"), ("group", device => device.IommuGroup), ("why", device => device.Reason));
        Output.Table(settings, plan.Writes, ("write", write => write.Path), ("value", write => write.Value.TrimEnd('\n')), ("why", write => write.Purpose));
        if (plan.Blockers.Count > 0)
        {
            Output.Table(settings, plan.Blockers, ("blocked by", blocker => blocker.Device), ("code", blocker => blocker.Code), ("reason", blocker => blocker.Reason), ("fix", blocker => blocker.Fix));
        }
    }
}
