// Usage: Virt.IntegrationTests.ChildManager STATE_DIR QEMU_BINARY VM_NAME GUEST_DIR
// Creates VM_NAME in STATE_DIR, starts it, prints "started PID" and exits, leaving QEMU running.
using Virt.Kvm.Host;
using Virt.Kvm.Hosting;
using Virt.Kvm.VirtualMachines;
using Virt.Processes;

var options = new KvmOptions { StateDirectory = args[0], QemuBinary = args[1] };
await using var manager = new KvmVirtualMachineManager(options, new ProcessRunner(), new QemuCapabilityProbe(new ProcessRunner()), new AcceleratorProbe(new System.IO.Abstractions.FileSystem()), TimeProvider.System);
var vm = await manager.CreateAsync(EmbeddedGuest.CreateSpec(args[2], args[3]));
await vm.StartAsync();
var status = await vm.GetStatusAsync();
await Console.Out.WriteLineAsync($"started {status.Pid}");
return 0;
