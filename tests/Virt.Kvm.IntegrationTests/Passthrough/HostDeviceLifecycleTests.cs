using Virt.Kvm.IntegrationTests.Infrastructure;
using Virt.Kvm.IntegrationTests.Kvm;
using Virt.Kvm.Host;
using Virt.Kvm.VirtualMachines;
using Virt.Passthrough;
using Virt.Processes;
using Virt.VirtualMachines;

namespace Virt.Kvm.IntegrationTests.Passthrough;

/// <summary>
/// Host devices around a VM's start on this host (no IOMMU here): a binder that records its calls shows
/// the bind happens before QEMU and the release after QEMU refuses the device; and without a binder the
/// start is refused with the fix.
/// </summary>
[Collection(TestGuestCollection.Name)]
public sealed class HostDeviceLifecycleTests
{
    [Fact(Timeout = 120_000)]
    public async Task A_start_that_qemu_refuses_gives_the_bound_devices_back()
    {
        await using var host = VmTestHost.Create();
        var binder = new RecordingBinder();
        var manager = new KvmVirtualMachineManager(host.Options, new ProcessRunner(), new QemuCapabilityProbe(new ProcessRunner()), new AcceleratorProbe(new System.IO.Abstractions.FileSystem()), TimeProvider.System, hostDevices: binder);
        await using (manager)
        {
            var vm = await manager.CreateAsync(VmTestHost.GuestSpec("hostdev") with { HostDevices = [new VmHostDevice("0000:7f:1f.7")] }, TestContext.Current.CancellationToken);

            // The binder "binds" a device that does not exist; QEMU's vfio-pci cannot open it and exits.
            var failure = await Assert.ThrowsAsync<VmStartException>(() => vm.StartAsync(TestContext.Current.CancellationToken));
            Assert.Contains("0000:7f:1f.7", failure.Message, StringComparison.Ordinal);
            Assert.Equal(["bind vm:hostdev 0000:7f:1f.7 allFunctions=False", "release vm:hostdev"], binder.Calls);
            Assert.Equal(VmState.Stopped, (await vm.GetStatusAsync(TestContext.Current.CancellationToken)).State);
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task Without_a_passthrough_backend_the_start_is_refused_with_the_fix()
    {
        await using var host = VmTestHost.Create();
        var vm = await host.Manager.CreateAsync(VmTestHost.GuestSpec("nobinder") with { HostDevices = [new VmHostDevice("0000:01:00.0") { AllFunctions = true }] }, TestContext.Current.CancellationToken);
        var failure = await Assert.ThrowsAsync<VmStartException>(() => vm.StartAsync(TestContext.Current.CancellationToken));
        Assert.Contains("AddPassthrough()", failure.Message, StringComparison.Ordinal);
    }

    private sealed class RecordingBinder : IHostDeviceBinder
    {
        public List<string> Calls { get; } = [];

        public Task<PassthroughBinding> AcquireAsync(string owner, IReadOnlyList<PciAddress> devices, bool allFunctions, CancellationToken cancellationToken = default)
        {
            Calls.Add($"bind {owner} {string.Join(",", devices)} allFunctions={allFunctions}");
            return Task.FromResult(new PassthroughBinding(owner, devices.Select(device => new BoundDevice(device, "e1000e", null, "vfio-pci", 9)).ToList(), ["/dev/vfio/9"]));
        }

        public Task ReleaseAsync(string owner, CancellationToken cancellationToken = default)
        {
            Calls.Add($"release {owner}");
            return Task.CompletedTask;
        }
    }
}
