using Virt.Kvm.IntegrationTests.Infrastructure;
using Virt.Processes;
using Virt.VirtualMachines;

namespace Virt.Kvm.IntegrationTests.Kvm;

/// <summary>Live migration on this host between two QEMU processes, over a unix socket and over TCP on 127.0.0.1.</summary>
[Collection(TestGuestCollection.Name)]
public sealed class MigrationTests
{
    [Fact(Timeout = 300_000)]
    public async Task The_guest_keeps_its_boot_id_and_RAM_while_a_new_QEMU_takes_over_and_the_old_one_ends()
    {
        await using var host = VmTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var image = Path.Combine(host.StateDirectory, "shared.qcow2");
        (await new ProcessRunner().RunAsync(new ProcessSpec("qemu-img", ["create", "-q", "-f", "qcow2", image, "64M"]), ct)).EnsureSuccess();
        var vm = await host.Manager.CreateAsync(VmTestHost.GuestSpec("mig") with { Disks = [new VmDisk("shared", image)], Nics = [new VmNic("net0")] }, ct);
        await vm.StartAsync(ct);
        await VmTestHost.WaitForSerialAsync(vm, TestGuest.ReadyMarker);
        await GuestWait.ForAgentAsync(vm.Guest);
        var bootId = (await vm.Guest.ExecAsync("/bin/cat", ["/proc/sys/kernel/random/boot_id"], cancellationToken: ct)).StandardOutputText;
        await vm.Guest.ExecAsync("/bin/sh", ["-c", "echo in-ram > /tmp/marker"], cancellationToken: ct);

        foreach (var tcp in new[] { false, true })
        {
            var before = (await vm.GetStatusAsync(ct)).Pid!.Value;
            var reports = new List<VmMigrationProgress>();
            await foreach (var progress in vm.Migration.MigrateAsync(new VmMigrationOptions { UseTcpLocally = tcp, DowntimeLimit = TimeSpan.FromMilliseconds(500) }, ct))
            {
                reports.Add(progress);
            }

            var after = await vm.GetStatusAsync(ct);
            await GuestWait.ForAgentAsync(vm.Guest);
            var last = reports[^1];
            Assert.True(last.Completed, string.Join(", ", reports.Select(r => r.Status)));
            Assert.NotNull(last.Downtime);
            Assert.True(last.TotalBytes >= 256L * 1024 * 1024, $"total {last.TotalBytes}");
            Assert.Equal(VmState.Running, after.State);
            Assert.NotEqual(before, after.Pid);
            Assert.True(Native.HasEnded(before), $"the source QEMU (pid {before}) still runs");
            Assert.Equal(bootId, (await vm.Guest.ExecAsync("/bin/cat", ["/proc/sys/kernel/random/boot_id"], cancellationToken: ct)).StandardOutputText);
            Assert.Equal("in-ram\n", (await vm.Guest.ExecAsync("/bin/cat", ["/tmp/marker"], cancellationToken: ct)).StandardOutputText);
            Assert.Contains($"\"Pid\": {after.Pid}", await File.ReadAllTextAsync(Path.Combine(host.StateDirectory, "mig", "runtime.json"), ct), StringComparison.Ordinal);
            Assert.Empty(Directory.GetDirectories(Path.Combine(host.StateDirectory, "mig"), "migrate-in*"));
            TestContext.Current.TestOutputHelper?.WriteLine($"migration over {(tcp ? "tcp" : "unix")}: total {last.Elapsed.TotalMilliseconds:0} ms, downtime {last.Downtime!.Value.TotalMilliseconds:0} ms");
        }

        // A new manager (as after an application restart) finds the migrated VM and re-attaches.
        await host.RestartManagerAsync();
        var found = await host.Manager.GetAsync("mig", ct);
        Assert.Equal(VmState.Running, (await found.GetStatusAsync(ct)).State);
        await found.ShutdownAsync(TimeSpan.FromSeconds(60), killAfterTimeout: true, cancellationToken: ct);
    }

    [Fact(Timeout = 300_000)]
    public async Task A_guest_that_keeps_rewriting_its_memory_converges_under_the_adaptive_downtime_limit()
    {
        await using var host = VmTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var vm = await host.Manager.CreateAsync(VmTestHost.GuestSpec("churn"), ct);
        await vm.StartAsync(ct);
        await VmTestHost.WaitForSerialAsync(vm, TestGuest.ReadyMarker);
        await GuestWait.ForAgentAsync(vm.Guest);

        // 32 MiB of page cache rewritten over and over (the guest's RAM, not zero pages), while the migration runs.
        await vm.Guest.ExecAsync("/bin/sh", ["-c", "(while :; do yes churn | head -c 33554432 > /tmp/churn; done) >/dev/null 2>&1 </dev/null &"], cancellationToken: ct);
        var reports = new List<VmMigrationProgress>();
        await foreach (var progress in vm.Migration.MigrateAsync(new VmMigrationOptions(), ct))
        {
            reports.Add(progress);
        }

        var last = reports[^1];
        TestContext.Current.TestOutputHelper?.WriteLine(string.Join(Environment.NewLine, reports.Select(r => $"{r.Status} {r.TransferredBytes} remaining {r.RemainingBytes} limit {r.DowntimeLimit?.TotalMilliseconds} ms downtime {r.Downtime?.TotalMilliseconds}")));
        Assert.True(last.Completed, string.Join(", ", reports.Select(r => r.Status)));

        // The limit starts at 5 ms under KVM (at QEMU's 300 ms under TCG: see AdaptiveDowntime) and only rises, never past QEMU's own default.
        var limits = reports.Select(r => r.DowntimeLimit!.Value.TotalMilliseconds).ToList();
        Assert.Equal((await vm.GetStatusAsync(ct)).Accelerator == "kvm" ? 5 : 300, limits[0]);
        Assert.Equal(limits.Order(), limits);
        Assert.InRange(limits[^1], 5, 300);
        Assert.Equal("churn\n", (await vm.Guest.ExecAsync("/bin/sh", ["-c", "head -n 1 /tmp/churn"], cancellationToken: ct)).StandardOutputText);
        await vm.ShutdownAsync(TimeSpan.FromSeconds(60), killAfterTimeout: true, cancellationToken: ct);
    }

    [Fact(Timeout = 180_000)]
    public async Task A_destination_that_would_run_a_command_or_write_a_host_file_is_refused_and_the_VM_keeps_running()
    {
        await using var host = VmTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var vm = await host.Manager.CreateAsync(VmTestHost.GuestSpec("mig-exec"), ct);
        await vm.StartAsync(ct);
        var pid = (await vm.GetStatusAsync(ct)).Pid!.Value;
        var marker = Path.Combine(host.StateDirectory, "exec-ran");
        var victim = Path.Combine(host.StateDirectory, "victim");
        await File.WriteAllTextAsync(victim, "host data", ct);

        // QEMU would run the first with /bin/sh as root and write the guest's RAM over the second.
        foreach (var destination in new[] { $"exec:touch {marker}", $"file:{victim}", "fd:3", "tcp:127.0.0.1:4444,exec:x", $"unix:{victim},x", "rdma:127.0.0.1:4444" })
        {
            var refused = await Assert.ThrowsAsync<ArgumentException>(async () =>
            {
                await foreach (var _ in vm.Migration.MigrateAsync(new VmMigrationOptions { DestinationUri = destination }, ct))
                {
                }
            });
            Assert.Contains("tcp:HOST:PORT or unix:/absolute/path", refused.Message, StringComparison.Ordinal);
        }

        Assert.False(File.Exists(marker), "exec: ran a command on the host");
        Assert.Equal("host data", await File.ReadAllTextAsync(victim, ct));
        var status = await vm.GetStatusAsync(ct);
        Assert.Equal((VmState.Running, pid), (status.State, status.Pid!.Value));
        await vm.KillAsync(ct);
    }

    [Fact(Timeout = 180_000)]
    public async Task A_cancelled_migration_leaves_the_VM_running_where_it_was_and_nothing_else()
    {
        await using var host = VmTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var vm = await host.Manager.CreateAsync(VmTestHost.GuestSpec("mig-cancel"), ct);
        await vm.StartAsync(ct);
        await VmTestHost.WaitForSerialAsync(vm, TestGuest.ReadyMarker);
        var pid = (await vm.GetStatusAsync(ct)).Pid!.Value;
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(ct);

        // 1 MiB/s cannot move 256 MiB quickly: cancel after the first report.
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var _ in vm.Migration.MigrateAsync(new VmMigrationOptions { MaxBandwidth = 1024 * 1024 }, cancel.Token))
            {
                await cancel.CancelAsync();
            }
        });

        var status = await vm.GetStatusAsync(ct);
        Assert.Equal(VmState.Running, status.State);
        Assert.Equal(pid, status.Pid);
        Assert.Empty(Directory.GetDirectories(Path.Combine(host.StateDirectory, "mig-cancel"), "migrate-in*"));
        var tooBusy = await Assert.ThrowsAsync<VmMigrationException>(async () =>
        {
            await foreach (var _ in vm.Migration.MigrateAsync(new VmMigrationOptions { MaxBandwidth = 1024 * 1024, Timeout = TimeSpan.FromSeconds(1) }, ct))
            {
            }
        });
        Assert.Contains("did not complete", tooBusy.Message, StringComparison.Ordinal);
        Assert.Equal(pid, (await vm.GetStatusAsync(ct)).Pid);
        await vm.KillAsync(ct);
    }

    [Fact(Timeout = 240_000)]
    public async Task A_VM_sent_to_a_QEMU_waiting_at_an_address_runs_on_there_and_stops_here()
    {
        await using var host = VmTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var spec = VmTestHost.GuestSpec("mig-away");
        var vm = await host.Manager.CreateAsync(spec, ct);
        await vm.StartAsync(ct);
        await VmTestHost.WaitForSerialAsync(vm, TestGuest.ReadyMarker);
        await GuestWait.ForAgentAsync(vm.Guest);
        var bootId = (await vm.Guest.ExecAsync("/bin/cat", ["/proc/sys/kernel/random/boot_id"], cancellationToken: ct)).StandardOutputText;

        // "Another host": QEMU started by hand with the VM's own argv (as that host would build it) plus
        // -incoming on a port; its monitor is the helper's, not the SDK's fd-passed one.
        var capabilities = await new Virt.Kvm.VirtualMachines.QemuCapabilityProbe(new ProcessRunner()).GetAsync(QemuBinary.Path, null, ct);
        var argv = Virt.Kvm.VirtualMachines.QemuCommandLine.Build(spec, new Virt.Kvm.VirtualMachines.QemuLaunchContext(capabilities, "tcg", "{dir}"));
        var withoutMonitor = new List<string>();
        for (var i = 0; i < argv.Count; i++)
        {
            if ((argv[i] is "-chardev" && argv[i + 1].Contains("id=virt-qmp", StringComparison.Ordinal)) || (argv[i] is "-mon" && argv[i + 1].Contains("virt-qmp", StringComparison.Ordinal)))
            {
                i++;
                continue;
            }

            withoutMonitor.Add(argv[i]);
        }

        var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        var port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        await using var remote = await QemuProcess.StartAsync([.. withoutMonitor, "-incoming", $"tcp:127.0.0.1:{port}"]);
        await using var remoteQmp = await Virt.Kvm.Qmp.QmpClient.ConnectAsync(remote.QmpSocket, cancellationToken: ct);
        var stopped = VmTestHost.WaitForEventAsync(vm, VmEventKind.Stopped, ct);

        VmMigrationProgress? last = null;
        await foreach (var progress in vm.Migration.MigrateAsync(new VmMigrationOptions { DestinationUri = $"tcp:127.0.0.1:{port}" }, ct))
        {
            last = progress;
        }

        await stopped.WaitAsync(TimeSpan.FromSeconds(30), ct);
        await Virt.Kvm.Qmp.QmpCommands.ContAsync(remoteQmp, ct);
        await using var agent = await Virt.Kvm.GuestAgent.GuestAgentClient.ConnectAsync(Path.Combine(remote.Directory, "qga.sock"), cancellationToken: ct);
        await agent.WaitForReadyAsync(TimeSpan.FromSeconds(30), ct);
        var remoteBootId = (await agent.ExecAsync("/bin/cat", ["/proc/sys/kernel/random/boot_id"], cancellationToken: ct)).StandardOutputText;

        Assert.True(last!.Completed);
        Assert.Equal(VmState.Stopped, (await vm.GetStatusAsync(ct)).State);
        Assert.Equal(bootId, remoteBootId);
        Assert.True((await Virt.Kvm.Qmp.QmpCommands.QueryStatusAsync(remoteQmp, ct)).Running);
    }

    [Fact(Timeout = 240_000)]
    public async Task Storage_migration_copies_a_disk_to_a_new_image_while_the_guest_runs()
    {
        await using var host = VmTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var runner = new ProcessRunner();
        var image = Path.Combine(host.StateDirectory, "old.qcow2");
        var moved = Path.Combine(host.StateDirectory, "new.qcow2");
        (await runner.RunAsync(new ProcessSpec("qemu-img", ["create", "-q", "-f", "qcow2", image, "64M"]), ct)).EnsureSuccess();
        var vm = await host.Manager.CreateAsync(VmTestHost.GuestSpec("mig-storage") with { Disks = [new VmDisk("data", image)] }, ct);
        await vm.StartAsync(ct);
        await VmTestHost.WaitForSerialAsync(vm, TestGuest.ReadyMarker);
        await GuestWait.ForAgentAsync(vm.Guest);
        Assert.Equal(0, (await vm.Guest.ExecAsync("/bin/sh", ["-c", $"printf '{new string('C', 512)}' | dd of=/dev/vda bs=512 count=1 conv=fsync 2>/dev/null"], cancellationToken: ct)).ExitCode);
        var bootId = (await vm.Guest.ExecAsync("/bin/cat", ["/proc/sys/kernel/random/boot_id"], cancellationToken: ct)).StandardOutputText;

        VmMigrationProgress? last = null;
        await foreach (var progress in vm.Migration.MigrateAsync(new VmMigrationOptions { MoveDisks = new Dictionary<string, string> { ["data"] = moved } }, ct))
        {
            last = progress;
        }

        await GuestWait.ForAgentAsync(vm.Guest);
        Assert.True(last!.Completed);
        Assert.Equal(moved, vm.Spec.Disks.Single().Path);
        Assert.Equal(bootId, (await vm.Guest.ExecAsync("/bin/cat", ["/proc/sys/kernel/random/boot_id"], cancellationToken: ct)).StandardOutputText);
        Assert.Equal("C", (await vm.Guest.ExecAsync("/bin/sh", ["-c", "dd if=/dev/vda bs=1 count=1 2>/dev/null"], cancellationToken: ct)).StandardOutputText);
        var read = await runner.RunAsync(new ProcessSpec("qemu-io", ["-r", "-U", "-f", "qcow2", "-c", "read -P 0x43 0 512", moved]), ct);
        Assert.True(read.ExitCode == 0 && !read.StandardOutput.Contains("failed", StringComparison.OrdinalIgnoreCase), read.StandardOutput);
        Assert.Contains("new.qcow2", await File.ReadAllTextAsync($"/proc/{(await vm.GetStatusAsync(ct)).Pid}/cmdline", ct), StringComparison.Ordinal);
        await vm.KillAsync(ct);
    }
}
