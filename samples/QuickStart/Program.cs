// QuickStart: boots the embedded test guest through IVirtualMachineManager, waits for its ready
// marker on the serial console, prints what the SDK knows, and shuts it down with the ACPI button;
// then runs a busybox container through IContainerManager, runs a command in it and stops it.
// Run it with scripts/demo.sh (which builds the guest), or: dotnet run --project samples/QuickStart -- GUEST_DIR
using Virt.Kvm.Testing;
using Microsoft.Extensions.DependencyInjection;
using Virt.Containers;
using Virt.Hosting;
using Virt.Kvm.VirtualMachines;
using Virt.VirtualMachines;

var guest = args.Length > 0 ? args[0] : EmbeddedGuest.DefaultDirectory;
var stateDirectory = Directory.CreateTempSubdirectory("virt-quickstart-").FullName;
var lxcPath = "/tmp/virt-qs-" + Guid.NewGuid().ToString("N")[..8];

var services = new ServiceCollection();
services.AddVirt()
    .AddKvm(kvm => kvm.StateDirectory = stateDirectory)
    .AddLxc(lxc => lxc.LxcPath = lxcPath);
await using var provider = services.BuildServiceProvider();
var manager = provider.GetRequiredService<IVirtualMachineManager>();

var vm = await manager.CreateAsync(EmbeddedGuest.CreateSpec("quickstart", guest) with { Nics = [new VmNic("net0")] });

using var watching = new CancellationTokenSource();
var watcher = Task.Run(async () =>
{
    await foreach (var e in vm.WatchAsync(watching.Token))
    {
        Console.WriteLine($"  event: {e.Kind}{(e.Reason is null ? string.Empty : $" ({e.Reason})")}");
    }
});

try
{
    var started = DateTime.UtcNow;
    await vm.StartAsync();
    while (!File.Exists(vm.Endpoints.SerialLog) || !(await File.ReadAllTextAsync(vm.Endpoints.SerialLog)).Contains(EmbeddedGuest.ReadyMarker, StringComparison.Ordinal))
    {
        await Task.Delay(50);
    }

    var status = await vm.GetStatusAsync();
    Console.WriteLine($"VM '{vm.Name}' is {status.State}: pid {status.Pid}, QEMU {status.QemuVersion}, accelerator {status.Accelerator}, guest ready after {(DateTime.UtcNow - started).TotalSeconds:0.0} s");
    Console.WriteLine($"  serial log {vm.Endpoints.SerialLog}, console socket {vm.Endpoints.SerialSocket}, agent {vm.Endpoints.GuestAgentSocket}");

    await vm.ShutdownAsync(TimeSpan.FromSeconds(60));
    var stopped = await vm.GetStatusAsync();
    Console.WriteLine($"VM '{vm.Name}' is {stopped.State}: {stopped.LastExit?.Reason} (exit code {stopped.LastExit?.ExitCode})");
}
finally
{
    await vm.KillAsync();
    await Task.Delay(100);
    await watching.CancelAsync();
    await watcher.ContinueWith(_ => { }, TaskScheduler.Default);
    await manager.DeleteAsync(vm.Name, force: true);
    Directory.Delete(stateDirectory, recursive: true);
}

var containers = provider.GetRequiredService<IContainerManager>();
try
{
    var container = await containers.CreateAsync(new ContainerSpec("quickstart", ContainerRootfs.Busybox())
    {
        Hostname = "quickstart-ct",
        Limits = new ContainerLimits { MemoryMiB = 64, Pids = 100 },
    });
    var started = DateTime.UtcNow;
    await container.StartAsync();
    var status = await container.GetStatusAsync();
    Console.WriteLine($"container '{container.Name}' is {status.State}: init pid {status.InitPid}, started in {(DateTime.UtcNow - started).TotalMilliseconds:0} ms");
    var hello = await container.ExecAsync(new ContainerExecRequest(["sh", "-c", "echo \"hello from $(hostname), $(uname -sr)\""]));
    Console.Write($"  exec: {hello.StandardOutput}");
    var stats = await container.GetStatsAsync();
    Console.WriteLine($"  memory {stats.MemoryBytes / 1024} KiB of {stats.MemoryLimitBytes / 1024 / 1024} MiB, {stats.Pids} processes");
    await container.StopAsync(TimeSpan.FromSeconds(10));
    Console.WriteLine($"container '{container.Name}' is {(await container.GetStatusAsync()).State}");
    return 0;
}
finally
{
    foreach (var left in await containers.ListAsync())
    {
        await containers.DeleteAsync(left.Name, force: true);
    }

    if (Directory.Exists(lxcPath))
    {
        Directory.Delete(lxcPath, recursive: true);
    }
}
