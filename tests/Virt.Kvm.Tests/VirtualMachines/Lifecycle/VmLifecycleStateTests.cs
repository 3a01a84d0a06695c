using System.IO.Abstractions.TestingHelpers;
using System.Text.Json;
using Moq;
using Virt.Kvm.Host;
using Virt.Kvm.Hosting;
using Virt.Kvm.VirtualMachines;
using Virt.Processes;
using Virt.VirtualMachines;

namespace Virt.Kvm.Tests.VirtualMachines.Lifecycle;

/// <summary>
/// The VM lifecycle's state handling on fakes: the VM's files in a <see cref="MockFileSystem"/>, QEMU as a
/// <see cref="FakeQemuHost"/> whose monitor is the fake QMP server. Only the VM's locks (flock needs a real
/// descriptor) and its monitor socket links live in a real temporary directory at the same paths.
/// </summary>
public sealed class VmLifecycleStateTests : IAsyncDisposable
{
    private const string Disk = "/images/root.qcow2";

    private readonly string _realDirectory = Directory.CreateTempSubdirectory("virt-kvm-life-").FullName;
    private readonly ModeKeepingFileSystem _files = new();
    private readonly FakeQemuHost _qemu;
    private readonly KvmOptions _options;
    private readonly List<KvmVirtualMachineManager> _managers = [];
    private readonly CancellationToken _ct = TestContext.Current.CancellationToken;

    public VmLifecycleStateTests()
    {
        _qemu = new FakeQemuHost(_files);
        _options = new KvmOptions { StateDirectory = Path.Combine(_realDirectory, "vms"), AllowResourcesBeyondHost = true };
        _files.AddFile(_options.QemuBinary, new MockFileData("ELF"));
        _files.AddFile(Disk, new MockFileData("QFI"));
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var manager in _managers)
        {
            await manager.DisposeAsync();
        }

        await _qemu.DisposeAsync();
        Directory.Delete(_realDirectory, recursive: true);
    }

    [Fact]
    public async Task Create_writes_the_spec_through_the_state_file_writer_and_a_second_create_conflicts()
    {
        var manager = NewManager();

        await CreateAsync(manager, "web");

        var files = FilesOf("web");
        var stored = JsonSerializer.Deserialize(await _files.File.ReadAllBytesAsync(files.Spec, _ct), KvmJsonContext.Default.VmSpec);
        Assert.Equal(Spec("web").Disks.Single().Path, stored!.Disks.Single().Path);
        Assert.Equal(["spec.json"], _files.Directory.GetFiles(files.Directory).Select(Path.GetFileName));
        var again = await Assert.ThrowsAsync<VmAlreadyExistsException>(() => manager.CreateAsync(Spec("web"), _ct));
        Assert.Equal(VirtErrorKind.Conflict, again.ErrorKind);
    }

    [Fact]
    public async Task A_start_the_cluster_gate_refuses_never_spawns_QEMU_and_one_it_lets_through_runs()
    {
        var gate = new Mock<Virt.Clustering.IGuestStartGate>();
        gate.Setup(g => g.CheckStartAsync(Virt.Clustering.ClusterGuestKind.VirtualMachine, "web", It.IsAny<CancellationToken>()))
            .ThrowsAsync(new VirtException(VirtErrorKind.Refused, "node node-b may not start VirtualMachine web: node node-a owns it"));
        var vm = await CreateAsync(NewManager(gate.Object), "web");

        var refused = await Assert.ThrowsAsync<VirtException>(() => vm.StartAsync(_ct));
        Assert.Equal(VirtErrorKind.Refused, refused.ErrorKind);
        Assert.Contains("node node-a owns it", refused.Message, StringComparison.Ordinal);
        Assert.Empty(_qemu.Processes);
        Assert.Equal(VmState.Stopped, (await vm.GetStatusAsync(_ct)).State);

        gate.Setup(g => g.CheckStartAsync(Virt.Clustering.ClusterGuestKind.VirtualMachine, "web", It.IsAny<CancellationToken>())).Returns(Task.CompletedTask);
        await vm.StartAsync(_ct);
        Assert.Single(_qemu.Processes);
        Assert.Equal(VmState.Running, (await vm.GetStatusAsync(_ct)).State);
    }

    [Fact]
    public async Task Start_runs_QEMU_resumes_it_publishes_Started_and_persists_the_runtime_state()
    {
        var vm = await CreateAsync(NewManager(), "web");
        await using var events = VmEventLog.Watch(vm, _ct);

        await vm.StartAsync(_ct);

        var (started, _) = await events.WaitForAsync(VmEventKind.Started);
        var qemu = _qemu.Processes.Single();
        var status = await vm.GetStatusAsync(_ct);
        Assert.Equal(VmState.Running, status.State);
        Assert.Equal(qemu.Pid, status.Pid);
        Assert.Contains($"pid {qemu.Pid}", started.Reason, StringComparison.Ordinal);
        var files = FilesOf("web");
        var record = JsonSerializer.Deserialize(await _files.File.ReadAllBytesAsync(files.Runtime, _ct), KvmJsonContext.Default.VmRuntimeRecord)!;
        Assert.Equal((qemu.Pid, qemu.StartTicks, "tcg"), (record.Pid, record.ProcessStartTicks, record.Accelerator));
        Assert.Equal(qemu.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture), await _files.File.ReadAllTextAsync(files.PidFile, _ct));
        Assert.True(_files.File.Exists(files.SerialLog));
        Assert.Contains((await qemu.Monitor.FirstConnection).Received, command => command["execute"]?.GetValue<string>() == "cont");
    }

    [Fact]
    public async Task Pause_and_resume_change_the_state_and_publish_Paused_and_Resumed()
    {
        var vm = await StartedAsync(NewManager(), "web");
        await using var events = VmEventLog.Watch(vm, _ct);

        await vm.PauseAsync(_ct);
        await events.WaitForAsync(VmEventKind.Paused);
        Assert.Equal(VmState.Paused, (await vm.GetStatusAsync(_ct)).State);

        await vm.ResumeAsync(_ct);
        await events.WaitForAsync(VmEventKind.Resumed);
        Assert.Equal(VmState.Running, (await vm.GetStatusAsync(_ct)).State);
    }

    [Fact]
    public async Task Shutdown_ends_in_Stopped_with_the_guests_reason_and_removes_the_runs_files()
    {
        var vm = await StartedAsync(NewManager(), "web");
        await using var events = VmEventLog.Watch(vm, _ct);

        await vm.ShutdownAsync(TimeSpan.FromMinutes(1), cancellationToken: _ct);

        var (stopped, before) = await events.WaitForAsync(VmEventKind.Stopped);
        Assert.Equal([VmEventKind.GuestShutdown], before);
        Assert.Equal("guest shut down", stopped.Reason);
        Assert.Equal(0, stopped.ExitCode);
        AssertStoppedAndCleanedUp(await vm.GetStatusAsync(_ct), "web");
    }

    [Fact]
    public async Task QEMU_exiting_on_its_own_is_observed_as_Stopped_with_its_exit_code_and_cleaned_up()
    {
        var vm = await StartedAsync(NewManager(), "web");
        await using var events = VmEventLog.Watch(vm, _ct);

        _qemu.Processes.Single().Exit(1);

        var (stopped, _) = await events.WaitForAsync(VmEventKind.Stopped);
        Assert.Equal(1, stopped.ExitCode);
        Assert.Contains("exit code 1", stopped.Reason, StringComparison.Ordinal);
        AssertStoppedAndCleanedUp(await vm.GetStatusAsync(_ct), "web");
    }

    [Fact]
    public async Task A_guest_panic_ends_in_Crashed()
    {
        var vm = await StartedAsync(NewManager(), "web");
        await using var events = VmEventLog.Watch(vm, _ct);
        var qemu = _qemu.Processes.Single();

        await qemu.EventAsync("GUEST_PANICKED", new() { ["action"] = "pause" });
        await qemu.EventAsync("SHUTDOWN", new() { ["guest"] = true, ["reason"] = "guest-panic" });
        qemu.Exit(1);

        var (stopped, before) = await events.WaitForAsync(VmEventKind.Stopped);
        Assert.Contains(VmEventKind.Crashed, before);
        Assert.Equal("guest kernel panic", stopped.Reason);
        var status = await vm.GetStatusAsync(_ct);
        Assert.Equal(VmState.Crashed, status.State);
        Assert.False(_files.File.Exists(FilesOf("web").Runtime));
    }

    [Fact]
    public async Task Kill_ends_in_Stopped_reported_as_killed()
    {
        var vm = await StartedAsync(NewManager(), "web");

        await vm.KillAsync(_ct);

        var status = await vm.GetStatusAsync(_ct);
        Assert.Equal("killed", status.LastExit?.Reason);
        AssertStoppedAndCleanedUp(status, "web");
        Assert.False(_qemu.Processes.Single().IsAlive);
    }

    [Fact]
    public async Task A_new_manager_reattaches_to_a_QEMU_that_still_runs_and_can_drive_it()
    {
        var first = NewManager();
        var pid = (await (await StartedAsync(first, "web")).GetStatusAsync(_ct)).Pid;
        await first.DisposeAsync();

        var vm = await NewManager().GetAsync("web", _ct);

        var status = await vm.GetStatusAsync(_ct);
        Assert.Equal((VmState.Running, pid), (status.State, status.Pid));
        await using var events = VmEventLog.Watch(vm, _ct);
        await vm.PauseAsync(_ct);
        await events.WaitForAsync(VmEventKind.Paused);
        Assert.True(_qemu.Processes.Single().IsAlive);
    }

    [Fact]
    public async Task A_new_manager_finds_a_QEMU_that_died_unwatched_stopped_and_removes_its_stale_runtime_state()
    {
        var first = NewManager();
        await StartedAsync(first, "web");
        await first.DisposeAsync();
        _qemu.Processes.Single().Exit(0);

        var vm = await NewManager().GetAsync("web", _ct);

        var status = await vm.GetStatusAsync(_ct);
        Assert.Contains("while no manager was watching", status.LastExit?.Reason, StringComparison.Ordinal);
        AssertStoppedAndCleanedUp(status, "web");
    }

    [Fact]
    public async Task Delete_refuses_a_running_VM_as_a_conflict_and_removes_a_stopped_one_entirely()
    {
        var manager = NewManager();
        var vm = await StartedAsync(manager, "web");

        var refused = await Assert.ThrowsAsync<VmStateException>(() => manager.DeleteAsync("web", cancellationToken: _ct));
        Assert.Equal(VirtErrorKind.Conflict, refused.ErrorKind);
        Assert.Contains("'web'", refused.Message, StringComparison.Ordinal);
        Assert.True(_files.File.Exists(FilesOf("web").Spec));

        await vm.KillAsync(_ct);
        await manager.DeleteAsync("web", cancellationToken: _ct);

        Assert.False(_files.Directory.Exists(FilesOf("web").Directory));
        var missing = await Assert.ThrowsAsync<VmNotFoundException>(() => manager.GetAsync("web", _ct));
        Assert.Equal(VirtErrorKind.NotFound, missing.ErrorKind);
    }

    [Fact]
    public async Task A_start_that_fails_midway_leaves_the_VM_stopped_with_no_run_files_and_an_error_naming_the_VM_and_the_fix()
    {
        var vm = await CreateAsync(NewManager(), "web");
        _qemu.FailNextSpawnWith = $"qemu-system-x86_64: -blockdev driver=file,filename={Disk}: Could not open '{Disk}': Permission denied";

        var error = await Assert.ThrowsAsync<VmStartException>(() => vm.StartAsync(_ct));

        Assert.Contains("VM 'web'", error.Message, StringComparison.Ordinal);
        Assert.Contains("Permission denied", error.Message, StringComparison.Ordinal);
        Assert.Contains("fix the spec or the host", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, error.ExitCode);
        AssertStoppedAndCleanedUp(await vm.GetStatusAsync(_ct), "web");
        Assert.True(_files.File.Exists(FilesOf("web").Spec));

        // Nothing half-made stays in the way: the next start succeeds.
        await vm.StartAsync(_ct);
        Assert.Equal(VmState.Running, (await vm.GetStatusAsync(_ct)).State);
    }

    private void AssertStoppedAndCleanedUp(VmStatus status, string name)
    {
        Assert.Equal(VmState.Stopped, status.State);
        Assert.Null(status.Pid);
        var files = FilesOf(name);
        Assert.False(_files.File.Exists(files.Runtime), "runtime.json stays after the run ended");
        Assert.False(_files.File.Exists(files.PidFile), "qemu.pid stays after the run ended");
    }

    private KvmVirtualMachineManager NewManager(Virt.Clustering.IGuestStartGate? gate = null)
    {
        var runner = new Mock<IProcessRunner>();
        runner.Setup(r => r.RunAsync(It.IsAny<ProcessSpec>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync((ProcessSpec spec, CancellationToken _) => new ProcessResult(spec, 0, spec.Arguments[^1] switch
            {
                "-version" => "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18)\n",
                "help" when spec.Arguments[0] == "-machine" => "Supported machines are:\nq35                  Standard PC (Q35 + ICH9, 2009)\npc                   Standard PC (i440FX + PIIX, 1996)\n",
                _ => "Accelerators supported in QEMU binary:\ntcg\n",
            }, string.Empty, TimeSpan.Zero));
        var manager = new KvmVirtualMachineManager(_options, runner.Object, new QemuCapabilityProbe(runner.Object, _files), new AcceleratorProbe(_files), TimeProvider.System, null, null, null, _files, _qemu, startGate: gate);
        _managers.Add(manager);
        return manager;
    }

    private static VmSpec Spec(string name) => new(name) { Disks = [new VmDisk("root", Disk)], GuestAgent = false };

    private VmFiles FilesOf(string name) => new(Path.Combine(_options.StateDirectory, name));

    private async Task<IVirtualMachine> CreateAsync(KvmVirtualMachineManager manager, string name)
    {
        // The VM's lock files are real (flock): their directory exists on the real file system too.
        Directory.CreateDirectory(FilesOf(name).Directory);
        return await manager.CreateAsync(Spec(name), _ct);
    }

    private async Task<IVirtualMachine> StartedAsync(KvmVirtualMachineManager manager, string name)
    {
        var vm = await CreateAsync(manager, name);
        await vm.StartAsync(_ct);
        return vm;
    }
}
