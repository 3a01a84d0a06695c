// Virt demo: boots the embedded test guest under QEMU (KVM where it really works, TCG otherwise)
// and shows what the SDK's QMP and guest-agent clients see, then powers the guest off with the
// ACPI power button. Run it with scripts/demo.sh, which builds the guest first.
using Virt.Kvm.Testing;
using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Virt.Hosting;
using Virt.Kvm.Host;
using Virt.Kvm.Hosting;
using Virt.Kvm.Qmp;
using Virt.Kvm.VirtualMachines;

var guestDirectory = args.Length > 0 ? args[0] : EmbeddedGuest.DefaultDirectory;
var kernel = Path.Combine(guestDirectory, "vmlinux");
var initramfs = Path.Combine(guestDirectory, "initramfs.gz");
if (!File.Exists(kernel) || !File.Exists(initramfs))
{
    Console.Error.WriteLine($"No test guest in {guestDirectory}: run scripts/build-guest.sh (or scripts/demo.sh).");
    return 2;
}

var services = new ServiceCollection();
services.AddVirt().AddKvm();
await using var provider = services.BuildServiceProvider();
var accelerator = provider.GetRequiredService<AcceleratorProbe>().Detect();
var connector = provider.GetRequiredService<IQmpConnector>();
Console.WriteLine($"accelerator: {accelerator.QemuName} — {accelerator.Reason}");

// The VM launcher (typed VmSpec, state directory, re-attach) is the next issue; the demo starts
// QEMU by hand with the same kind of argv: no shell, -nodefaults, a QMP socket and the guest agent.
var runDirectory = Directory.CreateTempSubdirectory("virt-demo-").FullName;
var qmpSocket = Path.Combine(runDirectory, "qmp.sock");
var agentSocket = Path.Combine(runDirectory, "qga.sock");
var serialLog = Path.Combine(runDirectory, "serial.log");
var qemuStart = new ProcessStartInfo("qemu-system-x86_64") { UseShellExecute = false, RedirectStandardError = true };
foreach (var argument in new[]
{
    "-nodefaults", "-no-user-config", "-display", "none", "-name", "virt-demo",
    "-machine", "q35", "-accel", accelerator.QemuName, "-m", "256",
    "-bios", "/usr/share/qemu/qboot.rom", "-kernel", kernel, "-initrd", initramfs,
    "-append", "console=ttyS0 panic=-1 quiet no_timer_check", "-no-reboot",
    "-serial", $"file:{serialLog}",
    "-qmp", $"unix:{qmpSocket},server=on,wait=off",
    "-chardev", $"socket,path={agentSocket},server=on,wait=off,id=qga0",
    "-device", "virtio-serial-pci", "-device", "virtserialport,chardev=qga0,name=org.qemu.guest_agent.0",
})
{
    qemuStart.ArgumentList.Add(argument);
}

var launched = Stopwatch.StartNew();
using var qemu = Process.Start(qemuStart)!;
try
{
    while (!File.Exists(qmpSocket))
    {
        if (qemu.HasExited)
        {
            Console.Error.WriteLine($"QEMU exited: {await qemu.StandardError.ReadToEndAsync()}");
            return 1;
        }

        await Task.Delay(10);
    }

    await using var qmp = await connector.ConnectQmpAsync(qmpSocket);
    Console.WriteLine($"QMP: QEMU {qmp.Greeting.Version} ({qmp.Greeting.Version.Package}), capabilities [{string.Join(", ", qmp.Greeting.Capabilities)}], oob {(qmp.OutOfBandEnabled ? "on" : "off")}");
    using var events = qmp.Subscribe();
    var status = await qmp.QueryStatusAsync();
    Console.WriteLine($"status: {status.Status} (running: {status.Running}), name: {(await qmp.QueryNameAsync()).Name}");
    foreach (var cpu in await qmp.QueryCpusFastAsync())
    {
        Console.WriteLine($"vCPU {cpu.CpuIndex}: {cpu.Target}, host thread {cpu.ThreadId}");
    }

    while (!File.Exists(serialLog) || !(await File.ReadAllTextAsync(serialLog)).Contains(EmbeddedGuest.ReadyMarker, StringComparison.Ordinal))
    {
        await Task.Delay(50);
    }

    Console.WriteLine($"guest ready after {launched.Elapsed.TotalSeconds:0.0} s: {(await File.ReadAllLinesAsync(serialLog)).First(l => l.StartsWith(EmbeddedGuest.ReadyMarker, StringComparison.Ordinal))}");

    await using var agent = await connector.ConnectGuestAgentAsync(agentSocket);
    await agent.WaitForReadyAsync(TimeSpan.FromSeconds(30));
    var os = await agent.GetOsInfoAsync();
    Console.WriteLine($"guest agent {(await agent.GetInfoAsync()).Version}: kernel {os.KernelRelease} on {os.Machine}");
    var uname = await agent.ExecAsync("/bin/sh", ["-c", "uname -a; cat /proc/meminfo | head -1"]);
    Console.Write($"guest-exec (exit {uname.ExitCode}):\n{uname.StandardOutputText}");

    Console.WriteLine("pressing the ACPI power button...");
    var shutdown = qmp.WaitForEventAsync("SHUTDOWN", null, TimeSpan.FromSeconds(30));
    await qmp.SystemPowerdownAsync();
    var shutdownEvent = await shutdown;
    await qemu.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
    Console.WriteLine($"SHUTDOWN ({shutdownEvent.GetString("reason")}); QEMU exited with {qemu.ExitCode}");
    var seen = new List<string>();
    while (await events.ReadAsync() is { } qmpEvent)
    {
        seen.Add(qmpEvent.Name);
    }

    Console.WriteLine($"events seen: {string.Join(", ", seen)}");
    return 0;
}
finally
{
    if (!qemu.HasExited)
    {
        qemu.Kill();
        await qemu.WaitForExitAsync();
    }

    Directory.Delete(runDirectory, recursive: true);
}
