using Virt.Kvm.IntegrationTests.Infrastructure;
using Virt.VirtualMachines;

namespace Virt.Kvm.IntegrationTests.Kvm;

/// <summary>IVirtualMachineManager on the real test guest: start, watch, pause, shut down, kill, reboot, crash, fail.</summary>
[Collection(TestGuestCollection.Name)]
public sealed class VirtualMachineLifecycleTests
{
    [Fact(Timeout = 180_000)]
    public async Task Start_pause_resume_and_ACPI_shutdown_are_seen_as_typed_events()
    {
        await using var host = VmTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var vm = await host.Manager.CreateAsync(VmTestHost.GuestSpec("life"), ct);
        using var watching = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var events = new List<VmEvent>();
        var watcher = Task.Run(async () =>
        {
            await foreach (var e in vm.WatchAsync(watching.Token))
            {
                lock (events)
                {
                    events.Add(e);
                }

                if (e.Kind == VmEventKind.Stopped)
                {
                    return;
                }
            }
        }, ct);
        await Task.Delay(50, ct);

        await vm.StartAsync(ct);
        await VmTestHost.WaitForSerialAsync(vm, TestGuest.ReadyMarker);
        var status = await vm.GetStatusAsync(ct);
        Assert.Equal(VmState.Running, status.State);
        Assert.NotNull(status.Pid);
        Assert.StartsWith("7.", status.QemuVersion ?? string.Empty, StringComparison.Ordinal);
        Assert.Contains(status.Accelerator, new[] { "kvm", "tcg" });
        Assert.True(status.Uptime > TimeSpan.Zero);
        Assert.True(File.Exists(Path.Combine(host.StateDirectory, "life", "runtime.json")));
        Assert.Equal("700", Convert.ToString((int)File.GetUnixFileMode(Path.Combine(host.StateDirectory, "life")), 8));
        Assert.Equal("600", Convert.ToString((int)File.GetUnixFileMode(vm.Endpoints.QmpSocket) & 0x1FF, 8));

        await vm.PauseAsync(ct);
        Assert.Equal(VmState.Paused, (await vm.GetStatusAsync(ct)).State);
        await vm.ResumeAsync(ct);
        Assert.Equal(VmState.Running, (await vm.GetStatusAsync(ct)).State);
        await vm.ShutdownAsync(TimeSpan.FromSeconds(60), cancellationToken: ct);
        await watcher.WaitAsync(TimeSpan.FromSeconds(10), ct);

        // The QMP events behind them read into their generated classes (the host checks every event again on dispose).
        Assert.Contains(host.Events.Events, e => e.Contains("\"SHUTDOWN\"", StringComparison.Ordinal));
        Assert.Contains(host.Events.Events, e => e.Contains("\"STOP\"", StringComparison.Ordinal));
        Assert.Empty(host.Events.Untyped());

        var stopped = await vm.GetStatusAsync(ct);
        Assert.Equal(VmState.Stopped, stopped.State);
        Assert.Equal("guest shut down", stopped.LastExit!.Reason);
        Assert.Equal(0, stopped.LastExit.ExitCode);
        Assert.True(Native.HasEnded(status.Pid!.Value), "QEMU is still running");
        Assert.False(File.Exists(Path.Combine(host.StateDirectory, "life", "runtime.json")));
        Assert.Equal(
            [VmEventKind.Started, VmEventKind.Paused, VmEventKind.Resumed, VmEventKind.GuestShutdown, VmEventKind.Stopped],
            events.Select(e => e.Kind).ToArray());
    }

    [Fact(Timeout = 180_000)]
    public async Task Kill_ends_QEMU_at_once_and_reports_it()
    {
        await using var host = VmTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var vm = await host.Manager.CreateAsync(VmTestHost.GuestSpec("killed"), ct);
        await vm.StartAsync(ct);
        var pid = (await vm.GetStatusAsync(ct)).Pid;

        await vm.KillAsync(ct);

        var status = await vm.GetStatusAsync(ct);
        Assert.Equal(VmState.Stopped, status.State);
        Assert.Equal("killed", status.LastExit!.Reason);
        Assert.Equal(137, status.LastExit.ExitCode);
        Assert.True(Native.HasEnded(pid!.Value));
    }

    [Fact(Timeout = 180_000)]
    public async Task Reboot_resets_the_guest_which_boots_again()
    {
        await using var host = VmTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var vm = await host.Manager.CreateAsync(VmTestHost.GuestSpec("rebooted"), ct);
        await vm.StartAsync(ct);
        await VmTestHost.WaitForSerialAsync(vm, TestGuest.ReadyMarker);

        await vm.RebootAsync(ct);

        await VmTestHost.WaitForSerialAsync(vm, TestGuest.ReadyMarker, occurrences: 2);
        Assert.Equal(VmState.Running, (await vm.GetStatusAsync(ct)).State);
        await vm.ShutdownAsync(TimeSpan.FromSeconds(60), killAfterTimeout: true, ct);
    }

    [Fact(Timeout = 180_000)]
    public async Task A_guest_kernel_panic_is_a_crash_with_its_reason()
    {
        await using var host = VmTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        // The script goes in as an allowed extra argument (fw_cfg string=; file= would read a host file).
        var vm = await host.Manager.CreateAsync(VmTestHost.GuestSpec("panicky") with { ExtraArguments = ["-fw_cfg", "name=opt/virt/script,string=echo c > /proc/sysrq-trigger"] }, ct);
        var stoppedEvent = FirstEventAsync(vm, VmEventKind.Stopped, ct);
        var crashedEvent = FirstEventAsync(vm, VmEventKind.Crashed, ct);
        await Task.Delay(50, ct);

        await vm.StartAsync(ct);

        var crashed = await crashedEvent.WaitAsync(TimeSpan.FromSeconds(120), ct);
        var stopped = await stoppedEvent.WaitAsync(TimeSpan.FromSeconds(30), ct);
        Assert.Equal("guest kernel panic", crashed.Reason);
        Assert.Equal("guest kernel panic", stopped.Reason);
        Assert.Equal(1, stopped.ExitCode);
        Assert.Equal(VmState.Crashed, (await vm.GetStatusAsync(ct)).State);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_start_failure_carries_QEMUs_exit_code_and_stderr_and_leaves_nothing_behind()
    {
        await using var host = VmTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var badBios = Path.Combine(host.StateDirectory, "bad-bios.rom");
        await File.WriteAllBytesAsync(badBios, new byte[100], ct);
        var vm = await host.Manager.CreateAsync(VmTestHost.GuestSpec("badfw") with { Firmware = VmTestHost.GuestSpec("x").Firmware with { BiosPath = badBios } }, ct);

        var error = await Assert.ThrowsAsync<VmStartException>(() => vm.StartAsync(ct));

        Assert.Equal(1, error.ExitCode);
        Assert.Contains("BIOS", error.LogTail, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("badfw", error.Message, StringComparison.Ordinal);
        Assert.Equal(VmState.Stopped, (await vm.GetStatusAsync(ct)).State);
        var left = Directory.GetFileSystemEntries(Path.Combine(host.StateDirectory, "badfw")).Select(Path.GetFileName).ToArray();
        Assert.DoesNotContain(left, name => name!.EndsWith(".sock", StringComparison.Ordinal) || name is "runtime.json" or "qemu.pid");
        Assert.Contains("spec.json", left);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_missing_file_is_refused_before_QEMU_starts()
    {
        await using var host = VmTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var vm = await host.Manager.CreateAsync(VmTestHost.GuestSpec("nodisk") with { Disks = [new VmDisk("data", "/nonexistent/data.qcow2")] }, ct);

        var error = await Assert.ThrowsAsync<VmStartException>(() => vm.StartAsync(ct));

        Assert.Contains("disk 'data' '/nonexistent/data.qcow2' does not exist", error.Message, StringComparison.Ordinal);
        Assert.Null(error.ExitCode);
    }

    [Fact(Timeout = 60_000)]
    public async Task Invalid_specs_busy_names_and_running_deletes_are_refused_clearly()
    {
        await using var host = VmTestHost.Create();
        var ct = TestContext.Current.CancellationToken;

        var invalid = await Assert.ThrowsAsync<InvalidVmSpecException>(() => host.Manager.CreateAsync(new VmSpec("../escape") { Nics = [new VmNic("n0") { MacAddress = "01:00:5e:00:00:01" }] }, ct));
        Assert.Equal(["Name", "Nics[0].MacAddress"], invalid.Problems.Select(p => p.Field).ToArray());
        Assert.Empty(Directory.GetFileSystemEntries(host.StateDirectory));

        var vm = await host.Manager.CreateAsync(VmTestHost.GuestSpec("busy"), ct);
        await Assert.ThrowsAsync<VmAlreadyExistsException>(() => host.Manager.CreateAsync(VmTestHost.GuestSpec("busy"), ct));
        await vm.StartAsync(ct);
        var running = await Assert.ThrowsAsync<VmStateException>(() => host.Manager.DeleteAsync("busy", cancellationToken: ct));
        Assert.Contains("force", running.Message, StringComparison.Ordinal);
        var pid = (await vm.GetStatusAsync(ct)).Pid;

        await host.Manager.DeleteAsync("busy", force: true, ct);

        Assert.False(Directory.Exists(Path.Combine(host.StateDirectory, "busy")));
        Assert.True(Native.HasEnded(pid!.Value));
        await Assert.ThrowsAsync<VmNotFoundException>(() => host.Manager.GetAsync("busy", ct));
    }

    private static async Task<VmEvent> FirstEventAsync(IVirtualMachine vm, VmEventKind kind, CancellationToken cancellationToken)
    {
        await foreach (var e in vm.WatchAsync(cancellationToken))
        {
            if (e.Kind == kind)
            {
                return e;
            }
        }

        throw new InvalidOperationException("the event stream ended");
    }
}
