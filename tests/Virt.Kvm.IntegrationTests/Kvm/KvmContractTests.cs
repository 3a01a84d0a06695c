using Virt.Kvm.IntegrationTests.Infrastructure;
using Virt.Processes;
using Virt.Tests.Contracts;
using Virt.VirtualMachines;

namespace Virt.Kvm.IntegrationTests.Kvm;

/// <summary>The VM manager contract against real QEMU with the test guest, the same one the in-memory double passes.</summary>
[Collection(TestGuestCollection.Name)]
public sealed class KvmContractTests : VirtualMachineManagerContract, IAsyncDisposable
{
    private readonly VmTestHost _host = VmTestHost.Create();

    protected override IVirtualMachineManager Manager => _host.Manager;

    // A qcow2 disk: QEMU keeps a live snapshot's RAM in one.
    protected override async Task<VmSpec> SpecAsync(string name)
    {
        var image = Path.Combine(_host.StateDirectory, $"{name}.qcow2");
        if (!File.Exists(image))
        {
            (await new ProcessRunner().RunAsync(new ProcessSpec("qemu-img", ["create", "-q", "-f", "qcow2", image, "64M"]), TestContext.Current.CancellationToken)).EnsureSuccess();
        }

        return VmTestHost.GuestSpec(name) with { Disks = [new VmDisk("state", image)] };
    }

    protected override Task WaitUntilBootedAsync(IVirtualMachine vm) => VmTestHost.WaitForSerialAsync(vm, TestGuest.ReadyMarker);

    public ValueTask DisposeAsync() => _host.DisposeAsync();
}
