using Microsoft.Extensions.DependencyInjection;
using Virt.Hosting;
using Virt.Kvm.Hosting;
using Virt.Passthrough;
using Virt.Passthrough.Hosting;
using Virt.VirtualMachines;

/// <summary>
/// Runs inside the nested test guest: a VM started through Virt.Kvm with the edu device as a host device —
/// bound to vfio-pci before QEMU starts, opened by QEMU's vfio-pci, given back after the VM stops.
/// Prints "VM-VERDICT PASS" or the failure.
/// </summary>
internal static class GuestVmCycle
{
    public static Task<int> RunAsync(string stateDirectory) => GuestCheck.RunAsync("VM-VERDICT", () => CycleAsync(stateDirectory));

    private static async Task CycleAsync(string stateDirectory)
    {
        var services = new ServiceCollection();
        services.AddVirt().AddKvm(options => options.StateDirectory = Path.Combine(stateDirectory, "vms")).AddPassthrough(options => options.StateDirectory = Path.Combine(stateDirectory, "passthrough"));
        await using var provider = services.BuildServiceProvider();
        var vms = provider.GetRequiredService<IVirtualMachineManager>();
        var passthrough = provider.GetRequiredService<IPassthroughManager>();
        var edu = passthrough.ListDevices().Single(device => device.VendorId == 0x1234 && device.DeviceId == 0x11e8);

        var spec = new VmSpec("nested")
        {
            Memory = new VmMemory { SizeMiB = 32 },
            HotplugPorts = 0,
            GuestAgent = false,
            Rng = false,
            PanicDevice = false,
            HostDevices = [new VmHostDevice(edu.Address.ToString())],
        };
        var vm = await vms.CreateAsync(spec).ConfigureAwait(false);
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        await vm.StartAsync().ConfigureAwait(false);
        Console.WriteLine(System.FormattableString.Invariant($"VM started with {edu.Address} in {System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds:F1} s"));
        GuestCheck.Expect(passthrough.GetDevice(edu.Address).Driver == "vfio-pci", "edu on vfio-pci while the VM runs");
        GuestCheck.Expect(passthrough.ListBindings().Single().Owner == "vm:nested", "the binding is owned by vm:nested");

        await vm.ShutdownAsync(TimeSpan.Zero, killAfterTimeout: true).ConfigureAwait(false);
        await ExpectReleasedAsync(passthrough, edu.Address, "after stop").ConfigureAwait(false);

        // QEMU dies under the VM (SIGKILL from outside): the manager sees it exit and gives the device back.
        await vm.StartAsync().ConfigureAwait(false);
        GuestCheck.Expect(passthrough.GetDevice(edu.Address).Driver == "vfio-pci", "edu on vfio-pci again after a restart");
        var pid = (await vm.GetStatusAsync().ConfigureAwait(false)).Pid!.Value;
        System.Diagnostics.Process.GetProcessById(pid).Kill();
        Console.WriteLine($"killed QEMU pid {pid}");
        await ExpectReleasedAsync(passthrough, edu.Address, "after QEMU was killed").ConfigureAwait(false);
        await vms.DeleteAsync("nested").ConfigureAwait(false);
    }

    private static async Task ExpectReleasedAsync(IPassthroughManager passthrough, PciAddress address, string when)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (passthrough.ListBindings().Count > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50).ConfigureAwait(false);
        }

        var after = passthrough.GetDevice(address);
        GuestCheck.Expect(after.Driver is null && after.DriverOverride is null && passthrough.ListBindings().Count == 0, $"edu given back {when} (driver {after.Driver ?? "none"}, override {after.DriverOverride ?? "(null)"}, no binding left)");
    }
}
