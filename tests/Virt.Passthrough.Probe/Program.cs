using System.IO.Abstractions;
using Virt.Passthrough;
using Virt.Passthrough.Hosting;
using Virt.Passthrough.Readiness;
using Virt.Passthrough.Sysfs;

var command = args.Length > 0 ? args[0] : "report";
var options = new PassthroughOptions { PciIdsPath = Environment.GetEnvironmentVariable("VIRT_PCI_IDS") ?? "/usr/share/misc/pci.ids" };
var fileSystem = new FileSystem();
return command switch
{
    "report" => Report(),
    "bind-cycle" => await GuestBindCycle.RunAsync(args.Length > 1 ? args[1] : "/run/virt-passthrough"),
    "plan" => await PlanReport(args.Skip(1).ToArray()),
    "vm-cycle" => await GuestVmCycle.RunAsync(args.Length > 1 ? args[1] : "/run/virt-vms"),
    "bench" => Bench(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 20),
    _ => Usage(),
};

int Report()
{
    var reader = new PciSysfsReader(fileSystem, options.SysfsRoot, new PciIdDatabase(options.PciIdsPath));
    var devices = reader.ListDevices();
    Console.WriteLine($"# PCI devices: {devices.Count}");
    foreach (var device in devices)
    {
        Console.WriteLine($"{device.Address} {device.ClassCode:x6} {device.VendorId:x4}:{device.DeviceId:x4} rev {device.Revision:x2} driver={device.Driver ?? "-"} override={device.DriverOverride ?? "-"} group={device.IommuGroup?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "-"} numa={device.NumaNode?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "-"} boot_vga={(device.IsBootVga ? 1 : 0)} reset=[{string.Join(' ', device.ResetMethods)}] sriov={device.SriovNumVfs?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "-"}/{device.SriovTotalVfs?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "-"} | {device.VendorName ?? "?"} | {device.DeviceName ?? "?"}");
    }

    var groups = reader.ListIommuGroups();
    Console.WriteLine($"# IOMMU groups: {groups.Count}");
    foreach (var group in groups)
    {
        Console.WriteLine($"group {group.Number} type={group.Type ?? "-"} viable={group.IsViable} members=[{string.Join(", ", group.Members.Select(member => $"{member.Address}:{member.Driver ?? "none"}"))}] blocking=[{string.Join(", ", group.BlockingMembers.Select(member => member.Address.ToString()))}]");
    }

    var report = new HostReadinessChecker(fileSystem, options).Check();
    Console.WriteLine($"# readiness: ready={report.IsReady}");
    foreach (var check in report.Checks)
    {
        Console.WriteLine($"{check.Status,-4} {check.Code}: {check.Summary}{(check.Fix is null ? string.Empty : " — fix: " + check.Fix)}");
    }

    return 0;
}

// A read-only plan for devices (every write and blocker), or the typed error that refuses it.
async Task<int> PlanReport(string[] addresses)
{
    var manager = new PassthroughManager(fileSystem, options);

    // What the host itself uses of each device, whether or not a plan can be made (it needs an IOMMU).
    var scanner = new Virt.Passthrough.Host.HostUsageScanner(fileSystem, options);
    var usage = scanner.Read();
    foreach (var address in addresses.Select(PciAddress.Parse))
    {
        var findings = scanner.Findings(manager.GetDevice(address), usage);
        Console.WriteLine($"# host uses {address}: {(findings.Count == 0 ? "nothing found" : string.Join("; ", findings.Select(finding => $"[{finding.Code}] {finding.Reason}")))}");
    }

    try
    {
        var plan = await manager.PlanAsync(addresses.Select(PciAddress.Parse).ToList(), new PassthroughPlanOptions { Owner = "probe" });
        Console.WriteLine($"# plan: can apply = {plan.CanApply}, groups [{string.Join(", ", plan.Groups)}]");
        foreach (var device in plan.Devices)
        {
            Console.WriteLine($"device {device.Address} {device.Role} on {device.CurrentDriver ?? "none"}: {device.Reason}");
        }

        foreach (var write in plan.Writes)
        {
            Console.WriteLine($"write {write.Path} <- {write.Value.TrimEnd('\n')}");
        }

        foreach (var blocker in plan.Blockers)
        {
            Console.WriteLine($"blocker {blocker.Device} [{blocker.Code}] {blocker.Reason} — {blocker.Fix}");
        }
    }
    catch (Virt.VirtException exception)
    {
        Console.WriteLine($"# plan refused: {exception.GetType().Name}: {exception.Message}");
    }

    return 0;
}

// Times what `lspci -D -nn` does (every device with names, plus the groups) in-process: the first
// call (pci.ids parsed) and the median of the rest.
int Bench(int rounds)
{
    var started = System.Diagnostics.Stopwatch.GetTimestamp();
    var count = new PciSysfsReader(fileSystem, options.SysfsRoot, new PciIdDatabase(options.PciIdsPath)).ListDevicesAndGroups().Devices.Count;
    var cold = System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds;

    // Warm: names already loaded, as in a running application.
    var names = new PciIdDatabase(options.PciIdsPath);
    _ = names.VendorName(0x10de);
    var reader = new PciSysfsReader(fileSystem, options.SysfsRoot, names);
    var warm = Enumerable.Range(0, rounds).Select(index =>
    {
        var round = System.Diagnostics.Stopwatch.GetTimestamp();
        _ = reader.ListDevicesAndGroups();
        return System.Diagnostics.Stopwatch.GetElapsedTime(round).TotalMilliseconds;
    }).Order().ToList();
    Console.WriteLine(System.FormattableString.Invariant($"bench devices+groups={count} cold={cold:F2} ms warm-median={warm[warm.Count / 2]:F2} ms over {warm.Count}"));
    return 0;
}

static int Usage()
{
    Console.Error.WriteLine("usage: Virt.Passthrough.Probe report | bench [ROUNDS] | plan ADDRESS... | bind-cycle [STATE_DIR] | vm-cycle [STATE_DIR]");
    return 2;
}
