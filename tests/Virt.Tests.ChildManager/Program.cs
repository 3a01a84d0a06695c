// Usage: Virt.Tests.ChildManager STATE_DIR QEMU_BINARY VM_NAME GUEST_DIR
//        Virt.Tests.ChildManager lxc LXC_PATH CONTAINER_NAME
//        Virt.Tests.ChildManager storage STATE_DIR POOL clone SOURCE TARGET | import FILE NAME
//        Virt.Tests.ChildManager guest-exec STATE_DIR QEMU_BINARY VM_NAME PROGRAM [ARGS...]
//        Virt.Tests.ChildManager watch STATE_DIR QEMU_BINARY VM_NAME EVENT_KIND
//        Virt.Tests.ChildManager rbd-vm STATE_DIR QEMU_BINARY VM_NAME GUEST_DIR HOST STORAGE_DIR CEPH_CONF CEPH_POOL VOLUME
//        Virt.Tests.ChildManager host STATE_DIR QEMU_BINARY HOST_NAME GUEST_DIR   (a long-lived host, see HostAgent)
// Creates the VM (or a busybox container) in STATE_DIR (LXC_PATH), starts it, prints "started PID" and
// exits, leaving QEMU (the container) running.
using Virt.Kvm.Testing;
using Virt.Kvm.Host;
using Virt.Kvm.Hosting;
using Virt.Kvm.VirtualMachines;
using Virt.Processes;

if (args[0] == "host")
{
    return await HostAgent.RunAsync(args[1..]);
}

if (args[0] == "storage")
{
    // Runs one long storage operation, for the crash tests that kill it with SIGKILL midway.
    var storage = new Virt.Storage.Pools.StorageManager(new Virt.Storage.Hosting.StorageOptions { StateDirectory = args[1] }, new System.IO.Abstractions.FileSystem(), new ProcessRunner());
    var pool = await storage.GetPoolAsync(args[2]);
    if (args[3] == "clone")
    {
        await pool.CloneVolumeAsync(args[4], args[5], linked: false).LastAsync();
    }
    else
    {
        await foreach (var _ in pool.ImportAsync(args[4], new Virt.Storage.VolumeSpec(args[5], 0)))
        {
        }
    }

    await Console.Out.WriteLineAsync("done");
    return 0;
}

if (args[0] == "rbd-vm")
{
    // "Host" HOST of a two-host test: its own storage manager (named HOST) on a shared Ceph pool, a VM whose disk is
    // the RBD volume VOLUME. Prints "started PID", then "recorded ADDRESSES": the Ceph clients its cross-host lock names,
    // which must be there as StartAsync returns (they are recorded before the guest runs, so a manager killed from
    // then on cannot leave a QEMU that fencing misses); exits 3 when they are not. Stays alive (the manager a test
    // kills to make the host "die").
    using var storage = new Virt.Storage.Pools.StorageManager(new Virt.Storage.Hosting.StorageOptions { StateDirectory = args[6] }, new System.IO.Abstractions.FileSystem(), new ProcessRunner(), host: new Virt.Hosting.VirtHostIdentity(args[5]));
    await storage.DefinePoolAsync(new Virt.Storage.RbdPoolDefinition("shared", Path.Combine(args[6], "pool"), args[7]) { RbdPool = args[8] });
    await using var host = new KvmVirtualMachineManager(new KvmOptions { StateDirectory = args[1], QemuBinary = args[2] }, new ProcessRunner(), new QemuCapabilityProbe(new ProcessRunner()), new AcceleratorProbe(new System.IO.Abstractions.FileSystem()), TimeProvider.System, volumes: storage);
    var rbdVm = await host.CreateAsync(EmbeddedGuest.CreateSpec(args[3], args[4]) with { Disks = [new Virt.VirtualMachines.VmDisk("data", "shared:" + args[9])] });
    await rbdVm.StartAsync();
    await Console.Out.WriteLineAsync($"started {(await rbdVm.GetStatusAsync()).Pid}");
    await Console.Out.FlushAsync();
    var volume = Virt.Storage.VolumeId.Parse("shared:" + args[9]);
    var clients = (await storage.GetLockHoldersAsync(volume)).SingleOrDefault()?.ClientAddresses ?? [];
    if (clients.Count == 0)
    {
        await Console.Error.WriteLineAsync("QEMU's Ceph client was not recorded when StartAsync returned");
        return 3;
    }

    await Console.Out.WriteLineAsync($"recorded {string.Join(' ', clients)}");
    await Console.Out.FlushAsync();
    await Task.Delay(Timeout.Infinite);
}

if (args[0] == "lxc")
{
    var lxc = new Virt.Lxc.Containers.LxcContainerManager(new Virt.Lxc.Hosting.LxcOptions { LxcPath = args[1] }, new System.IO.Abstractions.FileSystem(), new ProcessRunner());
    var container = await lxc.CreateAsync(new Virt.Containers.ContainerSpec(args[2], Virt.Containers.ContainerRootfs.Busybox()));
    await container.StartAsync();
    await Console.Out.WriteLineAsync($"started {(await container.GetStatusAsync()).InitPid}");
    return 0;
}

if (args[0] == "guest-exec")
{
    // A second process that follows a VM another one owns: runs a program in the guest through the agent,
    // prints its output and exits with its exit code.
    await using var follower = Kvm(args[1], args[2]);
    var result = await (await follower.GetAsync(args[3])).Guest.ExecAsync(args[4], args[5..]);
    await Console.Out.WriteAsync(result.StandardOutputText);
    return result.ExitCode ?? 128 + (result.Signal ?? 0);
}

if (args[0] == "watch")
{
    // A second process that follows a VM another one owns: prints "watching" once its watch is open, then
    // "seen KIND" when that event arrives (caused by whichever process) and exits.
    await using var follower = Kvm(args[1], args[2]);
    var kind = Enum.Parse<Virt.VirtualMachines.VmEventKind>(args[4]);
    await using var events = (await follower.GetAsync(args[3])).WatchAsync().GetAsyncEnumerator();
    var next = events.MoveNextAsync();
    await Console.Out.WriteLineAsync("watching");
    await Console.Out.FlushAsync();
    while (await next)
    {
        if (events.Current.Kind == kind)
        {
            await Console.Out.WriteLineAsync($"seen {kind}");
            return 0;
        }

        next = events.MoveNextAsync();
    }

    return 1;
}

await using var manager = Kvm(args[0], args[1]);
var vm = await manager.CreateAsync(EmbeddedGuest.CreateSpec(args[2], args[3]));
await vm.StartAsync();
var status = await vm.GetStatusAsync();
await Console.Out.WriteLineAsync($"started {status.Pid}");
return 0;

static KvmVirtualMachineManager Kvm(string stateDirectory, string qemuBinary) =>
    new(new KvmOptions { StateDirectory = stateDirectory, QemuBinary = qemuBinary }, new ProcessRunner(), new QemuCapabilityProbe(new ProcessRunner()), new AcceleratorProbe(new System.IO.Abstractions.FileSystem()), TimeProvider.System);
