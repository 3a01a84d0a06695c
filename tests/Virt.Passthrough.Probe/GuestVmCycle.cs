using Microsoft.Extensions.DependencyInjection;
using Virt.Hosting;
using Virt.Passthrough;
using Virt.VirtualMachines;

/// <summary>
/// Runs inside the nested test guest: a VM started through Virt.Kvm with the edu device as a host device —
/// bound to vfio-pci before QEMU starts, opened by QEMU's vfio-pci, given back after the VM stops.
/// Prints "VM-VERDICT PASS" or the failure.
/// </summary>
internal static class GuestVmCycle
{
    public static Task<int> RunAsync(string stateDirectory) => GuestCheck.RunAsync("VM-VERDICT", () => CycleAsync(stateDirectory));

    private static ServiceProvider Services(string stateDirectory)
    {
        var services = new ServiceCollection();
        services.AddVirt().AddKvm(options => options.StateDirectory = Path.Combine(stateDirectory, "vms")).AddPassthrough(options => options.StateDirectory = Path.Combine(stateDirectory, "passthrough"));
        return services.BuildServiceProvider();
    }

    private static async Task CycleAsync(string stateDirectory)
    {
        var provider = Services(stateDirectory);
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
        System.Diagnostics.Process.GetProcessById((await vm.GetStatusAsync().ConfigureAwait(false)).Pid!.Value).Kill();
        await ExpectReleasedAsync(passthrough, edu.Address, "after QEMU was killed").ConfigureAwait(false);

        // The application goes away with the VM running, QEMU dies meanwhile, and a new manager re-attaches:
        // it finds QEMU gone and gives the device back from the passthrough journal.
        await vm.StartAsync().ConfigureAwait(false);
        var pid = (await vm.GetStatusAsync().ConfigureAwait(false)).Pid!.Value;
        await provider.DisposeAsync().ConfigureAwait(false);
        using (var qemu = System.Diagnostics.Process.GetProcessById(pid))
        {
            qemu.Kill();
        }

        // It stays a zombie of this process (nobody reaps it until the re-attach). Its command line
        // empties before it closes its descriptors (edu's VFIO device among them), so wait for the
        // zombie state itself; the SDK must cope with either moment, this only makes the step the same each run.
        for (var tries = 0; tries < 1200 && !IsZombie(pid); tries++)
        {
            await Task.Delay(50).ConfigureAwait(false);
        }

        provider = Services(stateDirectory);
        await using (provider.ConfigureAwait(false))
        {
            passthrough = provider.GetRequiredService<IPassthroughManager>();
            GuestCheck.Expect(passthrough.GetDevice(edu.Address).Driver == "vfio-pci", "edu still on vfio-pci while no manager watched");
            vms = provider.GetRequiredService<IVirtualMachineManager>();
            var status = await (await vms.GetAsync("nested").ConfigureAwait(false)).GetStatusAsync().ConfigureAwait(false);
            Console.WriteLine($"re-attached: {status.State}, {status.LastExit?.Reason}");
            await ExpectReleasedAsync(passthrough, edu.Address, "after a re-attach found QEMU dead").ConfigureAwait(false);
            await vms.DeleteAsync("nested").ConfigureAwait(false);
        }
    }

    private static bool IsZombie(int pid)
    {
        var stat = File.Exists($"/proc/{pid}/stat") ? File.ReadAllText($"/proc/{pid}/stat") : string.Empty;
        return stat.Length == 0 || stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z');
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
