using Microsoft.Extensions.DependencyInjection;
using Virt.Hosting;
using Virt.VirtualMachines;

namespace Virt.Readme.Tests.Snippets;

/// <summary>Compiled, never run: it needs a bridge and a disk image.</summary>
internal static class QuickstartVm
{
    public static async Task RunAsync()
    {
        #region README.md: a VM
        var services = new ServiceCollection();
        services.AddVirt().AddKvm(kvm => kvm.StateDirectory = "/var/lib/virt/vms");
        await using var provider = services.BuildServiceProvider();
        var manager = provider.GetRequiredService<IVirtualMachineManager>();

        var vm = await manager.CreateAsync(new VmSpec("web-01")
        {
            Cpu = new VmCpu { Cores = 2 },
            Memory = new VmMemory { SizeMiB = 2048 },
            Disks = [new VmDisk("root", "/var/lib/images/web-01.qcow2") { BootIndex = 0 }],
            Nics = [new VmNic("lan") { Backend = VmNicBackend.Bridge, Bridge = "vmbr0" }],
        });
        await vm.StartAsync();                                  // KVM where it really works, TCG otherwise
        Console.WriteLine(await vm.GetStatusAsync());            // state, pid, uptime, QEMU version, accelerator
        await vm.ShutdownAsync(TimeSpan.FromMinutes(1), killAfterTimeout: true);
        #endregion
    }
}
