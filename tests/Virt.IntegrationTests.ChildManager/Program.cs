// Usage: Virt.IntegrationTests.ChildManager STATE_DIR QEMU_BINARY VM_NAME GUEST_DIR
//        Virt.IntegrationTests.ChildManager lxc LXC_PATH CONTAINER_NAME
// Creates the VM (or a busybox container) in STATE_DIR (LXC_PATH), starts it, prints "started PID" and
// exits, leaving QEMU (the container) running.
using Virt.Kvm.Host;
using Virt.Kvm.Hosting;
using Virt.Kvm.VirtualMachines;
using Virt.Processes;

if (args[0] == "lxc")
{
    var lxc = new Virt.Lxc.Containers.LxcContainerManager(new Virt.Lxc.Hosting.LxcOptions { LxcPath = args[1] }, new System.IO.Abstractions.FileSystem(), new ProcessRunner());
    var container = await lxc.CreateAsync(new Virt.Containers.ContainerSpec(args[2], Virt.Containers.ContainerRootfs.Busybox()));
    await container.StartAsync();
    await Console.Out.WriteLineAsync($"started {(await container.GetStatusAsync()).InitPid}");
    return 0;
}

var options = new KvmOptions { StateDirectory = args[0], QemuBinary = args[1] };
await using var manager = new KvmVirtualMachineManager(options, new ProcessRunner(), new QemuCapabilityProbe(new ProcessRunner()), new AcceleratorProbe(new System.IO.Abstractions.FileSystem()), TimeProvider.System);
var vm = await manager.CreateAsync(EmbeddedGuest.CreateSpec(args[2], args[3]));
await vm.StartAsync();
var status = await vm.GetStatusAsync();
await Console.Out.WriteLineAsync($"started {status.Pid}");
return 0;
