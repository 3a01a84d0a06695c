using System.Globalization;
using System.IO.Abstractions;
using Virt.Passthrough;
using Virt.Passthrough.Hosting;

/// <summary>
/// Runs inside the nested test guest (emulated Intel IOMMU, edu and e1000e): plans and binds e1000e (from
/// its driver) and edu (no driver) to vfio-pci, opens /dev/vfio/N, checks that a release is refused while
/// the group is held, releases, and checks that both are back exactly. Prints "VFIO-VERDICT PASS" or the failure.
/// </summary>
internal static class GuestBindCycle
{
    private const int IntelVendor = 0x8086;
    private const int E1000eDevice = 0x10d3;
    private const int EduVendor = 0x1234;
    private const int EduDevice = 0x11e8;

    public static Task<int> RunAsync(string stateDirectory) => GuestCheck.RunAsync("VFIO-VERDICT", () => CycleAsync(stateDirectory));

    private static async Task CycleAsync(string stateDirectory)
    {
        var manager = new PassthroughManager(new FileSystem(), new PassthroughOptions { StateDirectory = stateDirectory });
        var report = manager.CheckReadiness();
        foreach (var check in report.Checks)
        {
            Console.WriteLine($"readiness {check.Status} {check.Code}: {check.Summary}");
        }

        GuestCheck.Expect(report["iommu.enabled"].Status == ReadinessStatus.Pass && report["vfio.modules"].Status == ReadinessStatus.Pass, "the readiness report sees the IOMMU and vfio");
        var devices = manager.ListDevices();
        var nic = devices.Single(device => device.VendorId == IntelVendor && device.DeviceId == E1000eDevice);
        var edu = devices.Single(device => device.VendorId == EduVendor && device.DeviceId == EduDevice);
        Console.WriteLine($"groups: {string.Join("; ", manager.ListIommuGroups().Select(group => $"{group.Number}=[{string.Join(",", group.Members.Select(member => $"{member.Address}:{member.Driver ?? "none"}"))}]"))}");
        GuestCheck.Expect(nic.Driver == "e1000e" && edu.Driver is null && nic.DriverOverride is null, $"start: e1000e {nic.Address} on {nic.Driver}, edu {edu.Address} on {edu.Driver ?? "none"}");

        var plan = await manager.PlanAsync([nic.Address, edu.Address], new PassthroughPlanOptions { Owner = "guest-test" }).ConfigureAwait(false);
        foreach (var write in plan.Writes)
        {
            Console.WriteLine($"plan write {write.Path} <- {write.Value.TrimEnd('\n')} ({write.Purpose})");
        }

        GuestCheck.Expect(plan.CanApply, "plan has no blockers: " + string.Join("; ", plan.Blockers.Select(blocker => blocker.Code + " " + blocker.Reason)));
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var binding = await manager.ApplyAsync(plan).ConfigureAwait(false);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"bound in {System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds:F0} ms: {string.Join(", ", binding.GroupDevices)}"));
        GuestCheck.Expect(manager.GetDevice(nic.Address).Driver == "vfio-pci" && manager.GetDevice(edu.Address).Driver == "vfio-pci", "both on vfio-pci");
        GuestCheck.Expect(binding.GroupDevices.All(File.Exists), "every /dev/vfio/N exists");

        var eduGroup = "/dev/vfio/" + manager.GetDevice(edu.Address).IommuGroup!.Value.ToString(CultureInfo.InvariantCulture);
        using (var group = new FileStream(eduGroup, FileMode.Open, FileAccess.ReadWrite))
        {
            Console.WriteLine($"opened {eduGroup}");
            try
            {
                await manager.ReleaseAsync("guest-test").ConfigureAwait(false);
                throw new InvalidOperationException("release went ahead while the VFIO group was held");
            }
            catch (PassthroughDeviceBusyException busy)
            {
                Console.WriteLine($"release refused while held: {busy.Message}");
            }
        }

        started = System.Diagnostics.Stopwatch.GetTimestamp();
        await manager.ReleaseAsync("guest-test").ConfigureAwait(false);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"released in {System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds:F0} ms"));
        var nicAfter = manager.GetDevice(nic.Address);
        var eduAfter = manager.GetDevice(edu.Address);
        Console.WriteLine($"after: e1000e on {nicAfter.Driver} override {nicAfter.DriverOverride ?? "(null)"}, edu on {eduAfter.Driver ?? "none"} override {eduAfter.DriverOverride ?? "(null)"}");
        GuestCheck.Expect(nicAfter.Driver == "e1000e" && nicAfter.DriverOverride is null, "e1000e back on e1000e with its override cleared");
        GuestCheck.Expect(eduAfter.Driver is null && eduAfter.DriverOverride is null, "edu back on no driver with its override cleared");
        GuestCheck.Expect(manager.ListBindings().Count == 0, "the journal is empty");
    }
}
