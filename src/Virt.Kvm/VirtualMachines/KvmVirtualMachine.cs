using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Virt.IO;
using Virt.Kvm.CloudInit;
using Virt.Kvm.Host;
using Virt.Kvm.Interop;
using Virt.Kvm.Qmp;
using Virt.Kvm.Qmp.Api;
using Virt.Kvm.VirtualMachines.Hotplug;
using Virt.Kvm.VirtualMachines.Snapshots;
using Virt.Kvm.VirtualMachines.Tpm;
using Virt.VirtualMachines;

namespace Virt.Kvm.VirtualMachines;

/// <summary>One VM run by QEMU: start, stop, watch, and re-attach after the application restarts.</summary>
internal sealed partial class KvmVirtualMachine : IVirtualMachine
{
    private const int LogTailBytes = 4096;

    private readonly VmEnvironment _environment;
    private readonly VmLock _lock;
    private readonly VmEventBroadcaster _events = new();
    private readonly ILogger _logger;
    private volatile RunningQemu? _running;
    private volatile VmState _state = VmState.Stopped;
    private volatile VmExitInfo? _lastExit;
    private readonly KvmVmGuest _guest;
    private volatile VmSpec _spec;

    public KvmVirtualMachine(VmSpec spec, VmFiles files, VmEnvironment environment)
    {
        _spec = spec;
        Files = files;
        _environment = environment;
        _lock = new VmLock(spec.Name, files.OperationLock, environment.Options.LockTimeout, environment.Time);
        _specWrittenAt = environment.FileSystem.File.GetLastWriteTimeUtc(files.Spec);
        _logger = environment.LoggerFactory.CreateLogger<KvmVirtualMachine>();
        _guest = new KvmVmGuest(this, environment.Options.GuestAgent with { TimeProvider = environment.Time }, new VmLock(spec.Name, files.AgentLock, environment.Options.LockTimeout, environment.Time), environment.LoggerFactory);
    }

    public string Name => Spec.Name;

    /// <summary>The stored spec; hotplug replaces it (and spec.json) once a change really happened.</summary>
    public VmSpec Spec => _spec;

    public VmFiles Files { get; }

    public VmEndpoints Endpoints => new(
        Files.SerialLog,
        Spec.SerialConsole ? Files.SerialSocket : null,
        Files.QmpSocket,
        Spec.GuestAgent ? Files.AgentSocket : null,
        Spec.Vnc is null ? null : Spec.Vnc.UnixSocket ? $"unix:{Files.VncSocket}" : $"127.0.0.1:{5900 + Spec.Vnc.Display}",
        Files.Log);

    public bool IsRunning => _running is not null;

    /// <summary>The guest agent of this VM.</summary>
    public IVmGuest Guest => _guest;

    /// <summary>The current run of QEMU, or null while stopped.</summary>
    internal RunningQemu? CurrentRun => _running;

    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        using var held = await _lock.AcquireAsync("start", cancellationToken).ConfigureAwait(false);
        await RefreshAsync(cancellationToken).ConfigureAwait(false);

        // QEMU is gone and its cleanup is under way (a kill from outside, a guest shutdown): the caller may
        // already see its effects (the host device given back), so a start waits for the rest instead of refusing.
        if (_running is { Ending: true } ending)
        {
            try
            {
                await ending.Exited.Task.WaitAsync(EndingCleanupWait, _environment.Time, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                throw new VmStateException(Name, "start", _state, $"QEMU has exited but the cleanup after it (taps, volumes, host devices) did not finish within {((int)EndingCleanupWait.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture)} s; see the log and try again");
            }
        }

        if (_running is not null)
        {
            throw new VmStateException(Name, "start", _state, "it is already running; shut it down first");
        }

        RefuseStartOfUnfinishedReceive();

        // A clustered VM starts only on its owner node while that node holds its lease (the gate says why not).
        if (_environment.StartGate is { } gate)
        {
            await gate.CheckStartAsync(Virt.Clustering.ClusterGuestKind.VirtualMachine, Name, cancellationToken).ConfigureAwait(false);
        }

        // The process that starts QEMU owns the run. The lock is free unless another process is just
        // finishing its cleanup after the previous run, or checking on it.
        _ownership = await VmFileLock.AcquireAsync(Files.OwnerLock, OwnerHolder, _environment.Options.LockTimeout, _environment.Time, cancellationToken).ConfigureAwait(false)
            ?? throw new VmLockTimeoutException(Name, "start", $"process {VmFileLock.DescribeHolder(Files.OwnerLock)}", _environment.Options.LockTimeout);
        try
        {
            await StartOwnedAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            ReleaseOwnership();
            throw;
        }
    }

    /// <summary>Starts QEMU for this VM; with <paramref name="incoming"/>, one that waits for the VM's state from another host instead of booting.</summary>
    private async Task StartOwnedAsync(CancellationToken cancellationToken, IncomingSetup? incoming = null)
    {
        VmSpecValidator.Validate(Spec);
        RequireNetworkBackend(Spec.Nics, StartFailure);
        var options = _environment.Options;
        if (!options.AllowResourcesBeyondHost)
        {
            HostResources.Read(_environment.FileSystem).Check(Spec);
        }

        var capabilities = await _environment.Capabilities.GetAsync(options.QemuBinary, options.QemuDataDirectory, cancellationToken).ConfigureAwait(false);
        var accelerator = ChooseAccelerator(capabilities);
        var (launch, rbdDisks) = await ResolveVolumesAsync(incoming?.VolumeOptions, cancellationToken).ConfigureAwait(false);
        IReadOnlyList<Virt.Passthrough.PciAddress> hostFunctions;
        try
        {
            CheckFilesExist(launch with { Disks = launch.Disks.Where(disk => !rbdDisks.ContainsKey(disk.Id)).ToList() });
            hostFunctions = await BindHostDevicesAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await ReleaseVolumesAsync().ConfigureAwait(false);
            throw;
        }

        var nicMtus = await NetworkMtusAsync(Spec.Nics, cancellationToken).ConfigureAwait(false);
        var arguments = QemuCommandLine.Build(launch, new QemuLaunchContext(capabilities, accelerator, Files.Directory) { RunAsUser = options.RunAsUser, DataDirectory = options.QemuDataDirectory, RbdDisks = rbdDisks, HostFunctions = hostFunctions, NicMtus = nicMtus });
        if (incoming is not null)
        {
            incoming.SharedDisks = rbdDisks.Keys.ToList();
            arguments = [.. arguments, "-incoming", "defer"];
        }

        RemoveRunFiles();
        PrepareFirmware();
        if (Spec.SerialConsole)
        {
            SerialLogFile.PrepareForStart(_environment.FileSystem, Files.SerialLog, options.SerialLogMaxBytes);
        }

        _state = VmState.Starting;
        var logStart = _environment.FileSystem.File.Exists(Files.Log) ? _environment.FileSystem.FileInfo.New(Files.Log).Length : 0;
        IReadOnlyList<string> taps = [];
        int? pid = null;
        int? tpmPid = null;
        long? tpmStartTicks = null;
        PidFd? process = null;
        QmpClient? qmp = null;
        Task<VmRuntimeRecord>? recordWritten = null;
        Task<bool>? networkReady = null;
        try
        {
            // A port left by a start this process did not live to finish is released first; nothing else uses it (this process owns the VM).
            await ReleaseNetworkPortsAsync().ConfigureAwait(false);
            await CheckNetworkPortsAsync(Spec.Nics, StartFailure, cancellationToken).ConfigureAwait(false);
            taps = await _environment.Taps.CreateAsync(Spec, cancellationToken).ConfigureAwait(false);

            // The ports' firewall rules and bridges are put in place while QEMU builds its machine (the guest is held
            // paused until cont, which waits for them), so a managed NIC adds next to nothing to the start.
            var managedNics = Spec.Nics.Where(nic => nic.Network is not null).ToList();
            if (managedNics.Count > 0)
            {
                networkReady = Task.Run(() => ReadyNetworkPortsAsync(managedNics, StartFailure, cancellationToken), cancellationToken);
            }

            if (Spec.Tpm)
            {
                tpmPid = await SwtpmProcess.StartAsync(_environment.FileSystem, options.SwtpmBinary, Files, Name, _environment.Time, cancellationToken).ConfigureAwait(false);
                tpmStartTicks = ProcessIdentity.StartTicks(tpmPid.Value);
            }

            pid = _environment.Qemu.Spawn(options.QemuBinary, arguments, Files);

            // Our unreaped child: the pid is QEMU's until we collect it, so this descriptor is QEMU's.
            process = _environment.Qemu.TryOpen(pid.Value);

            Log.VmSpawned(_logger, Name, pid.Value);
            if (_logger.IsEnabled(LogLevel.Debug))
            {
                Log.VmCommandLine(_logger, Name, pid.Value, QemuArgumentMasker.Describe(arguments));
            }

            // QEMU answers on its monitor only once it has built the machine: the run's record is
            // written (two fsyncs) meanwhile, and awaited before cont, so it exists before the guest runs.
            var spawned = pid.Value;
            var startedAt = _environment.Time.GetUtcNow();
            recordWritten = Task.Run(() => WriteRunRecordAsync(new VmRuntimeRecord(spawned, _environment.Qemu.StartTicks(spawned) ?? 0, startedAt, options.QemuBinary, capabilities.Version.ToString(), accelerator, taps, tpmPid, tpmStartTicks), cancellationToken), cancellationToken);
            qmp = await ConnectWhileAliveAsync(pid.Value, logStart, cancellationToken).ConfigureAwait(false);
            var subscription = qmp.Subscribe(new QmpSubscriptionOptions { Capacity = 1024 });
            var record = await recordWritten.ConfigureAwait(false);
            if (networkReady is not null && await networkReady.ConfigureAwait(false))
            {
                await _environment.Taps.ConnectManagedAsync(Name, Spec.Nics, cancellationToken).ConfigureAwait(false);
            }

            await ConfirmVolumesOpenedAsync(rbdDisks, cancellationToken).ConfigureAwait(false);
            if (incoming is null)
            {
                await qmp.ContAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            else
            {
                // The guest resumes only once its state has arrived (IncomingMigration); until then QEMU waits.
                await incoming.ConfigureAsync(qmp, cancellationToken).ConfigureAwait(false);
            }

            RestrictSockets();

            var running = new RunningQemu(record, qmp, isChild: true, process) { AwaitingStartResume = true };
            _running = running;
            _state = incoming is null ? VmState.Running : VmState.Incoming;
            _background.Run(() => WatchAsync(running, subscription));
            _background.Run(() => TrimSerialLogAsync(running));
            if (incoming is null)
            {
                _events.Publish(new VmEvent(Name, VmEventKind.Started, _environment.Time.GetUtcNow(), $"pid {pid}, {accelerator}"));
            }
        }
        catch (Exception ex)
        {
            _state = VmState.Stopped;
            int? exitCode = null;
            if (qmp is not null)
            {
                await qmp.DisposeAsync().ConfigureAwait(false);
            }

            if (pid is { } spawned)
            {
                exitCode = await KillAndReapAsync(spawned).ConfigureAwait(false);
            }

            process?.Dispose();
            if (recordWritten is not null)
            {
                // Finished (or failed) before the run's files are removed, so none is left behind.
                await ((Task)recordWritten).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }

            if (networkReady is not null)
            {
                // Its ports are released below only once it has stopped making them.
                await ((Task)networkReady).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }

            await _environment.Taps.DeleteAsync(taps, CancellationToken.None).ConfigureAwait(false);
            await ReleaseNetworkPortsAsync().ConfigureAwait(false);
            await ReleaseVolumesAsync().ConfigureAwait(false);
            await ReleaseHostDevicesAsync().ConfigureAwait(false);
            if (tpmPid is { } swtpm)
            {
                SwtpmProcess.Stop(swtpm, tpmStartTicks);
            }

            RemoveRunFiles();
            if (ex is VirtException or OperationCanceledException)
            {
                throw;
            }

            var tail = ReadLogTail(logStart);
            throw new VmStartException(Name, $"cannot start VM '{Name}': {ex.Message}; QEMU said: {tail}", exitCode, tail, ex);
        }
    }

    private VmStartException StartFailure(string reason, Exception? innerException) =>
        new(Name, $"cannot start VM '{Name}': {reason}", null, string.Empty, innerException);

    /// <summary>Writes runtime.json and the pidfile of a run that is starting (crash-safely, each with its fsync).</summary>
    private async Task<VmRuntimeRecord> WriteRunRecordAsync(VmRuntimeRecord record, CancellationToken cancellationToken)
    {
        await StateFile.WriteAsync(_environment.FileSystem, Files.Runtime, JsonSerializer.SerializeToUtf8Bytes(record, KvmJsonContext.Default.VmRuntimeRecord), OwnerOnly.FileMode, cancellationToken).ConfigureAwait(false);
        await StateFile.WriteAsync(_environment.FileSystem, Files.PidFile, Encoding.ASCII.GetBytes(record.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture)), OwnerOnly.FileMode, cancellationToken).ConfigureAwait(false);
        return record;
    }

    public async Task ShutdownAsync(TimeSpan timeout, bool killAfterTimeout = false, CancellationToken cancellationToken = default)
    {
        using var held = await _lock.AcquireAsync("shut down", cancellationToken).ConfigureAwait(false);
        await RefreshAsync(cancellationToken).ConfigureAwait(false);
        if (_running is not { } running)
        {
            return;
        }

        try
        {
            var monitor = await LeaseMonitorAsync(running, "shut down", cancellationToken).ConfigureAwait(false);
            await using var leased = monitor.ConfigureAwait(false);
            await monitor.Client.SystemPowerdownAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (QmpConnectionException)
        {
            // QEMU is already on its way out.
        }

        try
        {
            await running.Exited.Task.WaitAsync(timeout, _environment.Time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException) when (killAfterTimeout)
        {
            await KillRunningAsync(running, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"VM '{Name}' did not shut down within {timeout.TotalSeconds:0.#} s of the ACPI power button: the guest ignores it (no acpid?); call KillAsync, or pass killAfterTimeout: true");
        }
    }

    public async Task KillAsync(CancellationToken cancellationToken = default)
    {
        using var held = await _lock.AcquireAsync("kill", cancellationToken).ConfigureAwait(false);
        await RefreshAsync(cancellationToken).ConfigureAwait(false);
        if (_running is { } running)
        {
            await KillRunningAsync(running, cancellationToken).ConfigureAwait(false);
        }
    }

    public Task RebootAsync(CancellationToken cancellationToken = default) => RunCommandAsync("reboot", (qmp, ct) => qmp.SystemResetAsync(cancellationToken: ct), cancellationToken);

    public Task PauseAsync(CancellationToken cancellationToken = default) => RunCommandAsync("pause", async (qmp, ct) =>
    {
        await qmp.StopAsync(cancellationToken: ct).ConfigureAwait(false);
        _state = VmState.Paused;
    }, cancellationToken);

    public Task ResumeAsync(CancellationToken cancellationToken = default) => RunCommandAsync("resume", async (qmp, ct) =>
    {
        await qmp.ContAsync(cancellationToken: ct).ConfigureAwait(false);
        _state = VmState.Running;
    }, cancellationToken);

    public async Task<VmStatus> GetStatusAsync(CancellationToken cancellationToken = default)
    {
        // The owner learns every change from QEMU's events; a follower asks QEMU (when no operation holds the VM).
        await RefreshAsync(cancellationToken).ConfigureAwait(false);
        if (await AskStateThroughControlAsync(cancellationToken).ConfigureAwait(false) is { } asked && _running is { IsOwner: false })
        {
            _state = asked;
        }

        var running = _running;
        return running is null
            ? new VmStatus(Name, _state, null, null, null, null, _lastExit)
            : new VmStatus(Name, _state, running.Record.Pid, _environment.Time.GetUtcNow() - running.Record.StartedAt, running.Record.QemuVersion, running.Record.Accelerator, _lastExit);
    }

    public IAsyncEnumerable<VmEvent> WatchAsync(CancellationToken cancellationToken = default) => _events.WatchAsync(cancellationToken);

    /// <summary>
    /// Finds this VM's QEMU again after a restart, or in a second process: owns it when no process does
    /// (re-connects its monitor when it runs, cleans up after it when it does not), follows it otherwise.
    /// </summary>
    public async Task ReattachAsync(CancellationToken cancellationToken)
    {
        await _refreshGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await AttachAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _refreshGate.Release();
        }
    }

    private async Task AttachAsync(CancellationToken cancellationToken)
    {
        var ownership = VmFileLock.TryAcquire(Files.OwnerLock, OwnerHolder);
        var record = await ReadRecordAsync(cancellationToken).ConfigureAwait(false);
        if (ownership is not null && UnarrivedBeforeHandOver() && (record is null || !_environment.Qemu.IsSameQemu(record, Name, out _)))
        {
            _ownership = ownership;
            try
            {
                await DiscardUnarrivedAsync(record, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                ReleaseOwnership();
            }

            return;
        }

        if (record is null || ownership is null)
        {
            ownership?.Dispose();
            if (record is not null)
            {
                await FollowAsync(record, cancellationToken).ConfigureAwait(false);
            }

            return;
        }

        _ownership = ownership;
        try
        {
            if (!_environment.Qemu.IsSameQemu(record, Name, out var process))
            {
                _lastExit = await CleanUpAfterDeadQemuAsync(record, "while no manager was watching", cancellationToken).ConfigureAwait(false);
                _state = VmState.Stopped;
                ReleaseOwnership();
                return;
            }

            var (qmp, subscription, paused) = await ConnectEventMonitorAsync(record.Pid, cancellationToken).ConfigureAwait(false);

            // A QEMU this very process spawned (an earlier manager in it) can still be reaped with waitpid.
            var running = new RunningQemu(record, qmp, isChild: _environment.Qemu.ParentPid(record.Pid) == Environment.ProcessId, process);
            _running = running;
            _state = paused ? VmState.Paused : VmState.Running;
            if (qmp is not null && _environment.FileSystem.File.Exists(Files.Incoming))
            {
                _state = await SettleIncomingAfterRestartAsync(qmp, cancellationToken).ConfigureAwait(false);
                if (_state == VmState.Incoming)
                {
                    _background.Run(() => FollowUnwatchedReceiveAsync(running));
                }
            }

            _background.Run(() => WatchAsync(running, subscription));
            _background.Run(() => TrimSerialLogAsync(running));
            Log.VmReattached(_logger, Name, record.Pid);
        }
        catch
        {
            if (_running is null)
            {
                ReleaseOwnership();
            }

            throw;
        }
    }

    /// <summary>
    /// Cleans up after a recorded QEMU that is no longer running (the caller owns the VM): waits until it
    /// has really let go of its descriptors, collects its zombie if it is ours, gives back taps, volumes,
    /// host devices and swtpm, and removes the run's files.
    /// </summary>
    private async Task<VmExitInfo> CleanUpAfterDeadQemuAsync(VmRuntimeRecord record, string when, CancellationToken cancellationToken)
    {
        // A QEMU that is exiting loses its command line (its memory goes first) but still holds
        // its descriptors (VFIO devices, taps, disks) until it turns into a zombie: wait for
        // that, so nothing is given back while QEMU still has it open.
        await _environment.Qemu.WaitUntilExitedAsync(record, Name, _environment.Time, cancellationToken).ConfigureAwait(false);

        // The recorded pid is not this VM's QEMU any more: it exited, and the pid may belong to
        // another process now, which is never signalled. Collect QEMU's own zombie if it is ours
        // (our child, or we are a subreaper) — only that zombie, never another child of ours.
        if (_environment.Qemu.IsZombieOf(record.Pid, record.ProcessStartTicks))
        {
            _ = TryReap(record.Pid, out _);
        }

        await _environment.Taps.DeleteAsync(record.Taps, cancellationToken).ConfigureAwait(false);
        await ReleaseNetworkPortsAsync().ConfigureAwait(false);
        await ReleaseVolumesAsync().ConfigureAwait(false);
        await ReleaseHostDevicesAsync().ConfigureAwait(false);
        if (record.TpmPid is { } swtpm)
        {
            SwtpmProcess.Stop(swtpm, record.TpmStartTicks);
        }

        var tail = ReadLogTail(0);
        var migrated = MigratedAway(record.Pid);
        var exit = new VmExitInfo(
            migrated is not null
                ? $"migrated to {migrated.Destination}; QEMU (pid {record.Pid}) ended {when}"
                : $"QEMU (pid {record.Pid}) exited {when} (the recorded pid is no longer this VM's QEMU; the stale record was removed and nothing was signalled); its log ends: {tail}",
            null,
            _environment.Time.GetUtcNow());

        // For the processes that follow the run: how it ended, recorded before runtime.json goes.
        await JournalAsync(record.Pid, new VmEvent(Name, VmEventKind.Stopped, exit.At, exit.Reason)).ConfigureAwait(false);
        UndefineIfLeftHost(migrated);
        RemoveRunFiles();
        Log.VmFoundDead(_logger, Name, record.Pid);
        return exit;
    }

    public Task AttachDiskAsync(VmDisk disk, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(disk);
        return HotplugAsync("attach disk", disk.Id, spec => spec with { Disks = [.. spec.Disks, disk] }, (qmp, _, ct) => DiskHotplug.AttachAsync(_environment.FileSystem, qmp, Name, disk, ct), cancellationToken);
    }

    public Task DetachDiskAsync(string diskId, CancellationToken cancellationToken = default)
    {
        var disk = Spec.Disks.FirstOrDefault(d => d.Id == diskId) ?? throw new VmHotplugException(Name, "detach disk", diskId, $"the VM has no such disk (it has: {string.Join(", ", Spec.Disks.Select(d => d.Id))})");
        return HotplugAsync("detach disk", diskId, spec => spec with { Disks = spec.Disks.Where(d => d.Id != diskId).ToList() }, (qmp, _, ct) => DiskHotplug.DetachAsync(qmp, Name, disk.Id, _environment.Options.UnplugTimeout, _environment.Time, ct), cancellationToken);
    }

    public Task AttachNicAsync(VmNic nic, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(nic);
        return HotplugAsync("attach NIC", nic.Id, spec => spec with { Nics = [.. spec.Nics, nic] }, async (qmp, running, ct) =>
        {
            // The same path as a start: the port first (its firewall in force), then the tap, connected to the network.
            var prepared = await PrepareNetworkPortsAsync([nic], (reason, inner) => new VmHotplugException(Name, "attach NIC", nic.Id, reason, inner), ct).ConfigureAwait(false);
            var mtus = prepared.ToDictionary(port => port.Request.NicId, port => port.Mtu, StringComparer.Ordinal);
            string? tap = null;
            try
            {
                if (nic.Backend == VmNicBackend.Bridge)
                {
                    tap = (await _environment.Taps.CreateAsync(Spec with { Nics = [nic] }, ct).ConfigureAwait(false)).Single();
                    await RecordTapsAsync(running, [.. running.Record.Taps, tap]).ConfigureAwait(false);
                }

                await NicHotplug.AttachAsync(qmp, Name, nic, nic.MacAddress ?? MacAddresses.Derive(Name, nic.Id), tap, mtus, ct).ConfigureAwait(false);
                await _environment.Taps.ConnectManagedAsync(Name, [nic], ct).ConfigureAwait(false);
            }
            catch when (tap is not null || nic.Network is not null)
            {
                if (tap is not null)
                {
                    await _environment.Taps.DeleteAsync([tap], CancellationToken.None).ConfigureAwait(false);
                    await RecordTapsAsync(running, running.Record.Taps.Where(t => t != tap).ToList()).ConfigureAwait(false);
                }

                if (nic.Network is not null)
                {
                    await ReleaseNetworkPortsAsync(nic.Id).ConfigureAwait(false);
                }

                throw;
            }
        }, cancellationToken);
    }

    public Task DetachNicAsync(string nicId, CancellationToken cancellationToken = default)
    {
        var nic = Spec.Nics.FirstOrDefault(n => n.Id == nicId) ?? throw new VmHotplugException(Name, "detach NIC", nicId, $"the VM has no such NIC (it has: {string.Join(", ", Spec.Nics.Select(n => n.Id))})");
        return HotplugAsync("detach NIC", nicId, spec => spec with { Nics = spec.Nics.Where(n => n.Id != nicId).ToList() }, async (qmp, running, ct) =>
        {
            await NicHotplug.DetachAsync(qmp, Name, nic.Id, _environment.Options.UnplugTimeout, _environment.Time, ct).ConfigureAwait(false);
            if (nic.Backend == VmNicBackend.Bridge)
            {
                var tap = MacAddresses.TapName(Name, nic.Id);
                await _environment.Taps.DeleteAsync([tap], CancellationToken.None).ConfigureAwait(false);
                await RecordTapsAsync(running, running.Record.Taps.Where(t => t != tap).ToList()).ConfigureAwait(false);
            }

            if (nic.Network is not null)
            {
                await ReleaseNetworkPortsAsync(nic.Id).ConfigureAwait(false);
            }
        }, cancellationToken);
    }

    public async Task SetCpuCountAsync(int count, CancellationToken cancellationToken = default)
    {
        var cpu = Spec.Cpu;
        if (cpu.MaxCount is not { } max || count > max || count <= cpu.Count || count % (cpu.Cores * cpu.Threads) != 0)
        {
            throw new VmHotplugException(Name, "add vCPUs", "cpu", cpu.MaxCount is null
                ? "the spec allows no vCPU hotplug: set Cpu.MaxCount (takes effect at the next start)"
                : $"{count} must be more than the {cpu.Count} present, at most Cpu.MaxCount ({cpu.MaxCount}), and whole sockets of {cpu.Cores * cpu.Threads}");
        }

        var sockets = count / (cpu.Cores * cpu.Threads);
        await HotplugAsync("add vCPUs", "cpu", spec => spec with { Cpu = spec.Cpu with { Sockets = sockets } }, async (qmp, _, ct) =>
        {
            var present = await CpuHotplug.AddAsync(qmp, Name, count, ct).ConfigureAwait(false);
            if (present < count)
            {
                throw new VmHotplugException(Name, "add vCPUs", "cpu", $"QEMU offers slots for only {present} vCPUs");
            }
        }, cancellationToken).ConfigureAwait(false);
    }

    public Task AddMemoryAsync(int sizeMiB, CancellationToken cancellationToken = default)
    {
        var memory = Spec.Memory;
        if (memory.MaxSizeMiB is not { } max || sizeMiB <= 0 || sizeMiB % 2 != 0 || memory.SizeMiB + sizeMiB >= max)
        {
            throw new VmHotplugException(Name, "add memory", "dimm", memory.MaxSizeMiB is null
                ? "the spec allows no memory hotplug: set Memory.MaxSizeMiB (takes effect at the next start)"
                : $"{sizeMiB} MiB must be positive, even, and stay below Memory.MaxSizeMiB ({memory.MaxSizeMiB}) with the {memory.SizeMiB} MiB present");
        }

        return HotplugAsync("add memory", "dimm", spec => spec with { Memory = spec.Memory with { SizeMiB = spec.Memory.SizeMiB + sizeMiB } }, (qmp, _, ct) => MemoryHotplug.AddAsync(qmp, Name, sizeMiB, ct), cancellationToken);
    }

    public async Task<VmSnapshot> CreateSnapshotAsync(string name, CancellationToken cancellationToken = default)
    {
        InternalSnapshots.ValidateName(Name, "save", name);
        var devices = InternalSnapshots.Devices(Spec, "save", name);
        VmSnapshot? created = null;
        await RunCommandAsync("save snapshot", async (qmp, ct) =>
        {
            await InternalSnapshots.SaveAsync(qmp, Name, name, devices, _environment.Options.SnapshotTimeout, ct).ConfigureAwait(false);
            created = (await InternalSnapshots.ListAsync(qmp, devices, ct).ConfigureAwait(false)).Single(s => s.Name == name);
        }, cancellationToken).ConfigureAwait(false);
        return created!;
    }

    public async Task<IReadOnlyList<VmSnapshot>> ListSnapshotsAsync(CancellationToken cancellationToken = default)
    {
        var devices = InternalSnapshots.Devices(Spec, "list", "*");
        IReadOnlyList<VmSnapshot> snapshots = [];
        await RunCommandAsync("list snapshots", async (qmp, ct) => snapshots = await InternalSnapshots.ListAsync(qmp, devices, ct).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
        return snapshots;
    }

    public Task RestoreSnapshotAsync(string name, CancellationToken cancellationToken = default)
    {
        InternalSnapshots.ValidateName(Name, "restore", name);
        var devices = InternalSnapshots.Devices(Spec, "restore", name);
        return RunCommandAsync("restore snapshot", async (qmp, ct) =>
        {
            var wasRunning = (await qmp.QueryStatusAsync(ct).ConfigureAwait(false)).Running;
            await InternalSnapshots.LoadAsync(qmp, Name, name, devices, _environment.Options.SnapshotTimeout, ct).ConfigureAwait(false);
            if (wasRunning && !(await qmp.QueryStatusAsync(ct).ConfigureAwait(false)).Running)
            {
                await qmp.ContAsync(cancellationToken: ct).ConfigureAwait(false);
            }
        }, cancellationToken);
    }

    public Task DeleteSnapshotAsync(string name, CancellationToken cancellationToken = default)
    {
        InternalSnapshots.ValidateName(Name, "delete", name);
        var devices = InternalSnapshots.Devices(Spec, "delete", name);
        return RunCommandAsync("delete snapshot", (qmp, ct) => InternalSnapshots.DeleteAsync(qmp, Name, name, devices, _environment.Options.SnapshotTimeout, ct), cancellationToken);
    }

    /// <summary>Lets go of the VM without stopping it (the manager is being disposed).</summary>
    public async Task DetachAsync()
    {
        if (_running is { } running)
        {
            running.BeginDetach();
            if (running.Qmp is { } qmp)
            {
                await qmp.DisposeAsync().ConfigureAwait(false);
            }
        }

        // The loops end once they see the detach; then another process may take the VM over.
        await _background.WhenAllAsync().ConfigureAwait(false);
        ReleaseOwnership();
    }

    /// <summary>
    /// Runs a hotplug change under the VM's lock: the new spec is validated first, the change is made
    /// in QEMU, and only then is the spec stored (spec.json, atomically).
    /// </summary>
    private async Task HotplugAsync(string operation, string deviceId, Func<VmSpec, VmSpec> change, Func<QmpClient, RunningQemu, CancellationToken, Task> apply, CancellationToken cancellationToken)
    {
        using var held = await _lock.AcquireAsync(operation, cancellationToken).ConfigureAwait(false);
        await RefreshAsync(cancellationToken).ConfigureAwait(false);
        if (_running is not { } running)
        {
            throw new VmStateException(Name, operation, _state, "hotplug needs a running VM; change the spec while it is stopped instead");
        }

        if (Spec.Machine != VmMachineType.Q35)
        {
            throw new VmHotplugException(Name, operation, deviceId, $"hotplug is supported on q35 machines, not {Spec.Machine}");
        }

        var updated = change(Spec);
        VmSpecValidator.Validate(updated);
        var monitor = await LeaseMonitorAsync(running, operation, cancellationToken).ConfigureAwait(false);
        await using (monitor.ConfigureAwait(false))
        {
            await apply(monitor.Client, running, cancellationToken).ConfigureAwait(false);
        }

        await StoreSpecAsync(updated).ConfigureAwait(false);
    }

    /// <summary>Stores a changed spec (spec.json, atomically) after QEMU made the change.</summary>
    private async Task StoreSpecAsync(VmSpec updated)
    {
        await StateFile.WriteAsync(_environment.FileSystem, Files.Spec, JsonSerializer.SerializeToUtf8Bytes(updated, KvmJsonContext.Default.VmSpec), OwnerOnly.FileMode, CancellationToken.None).ConfigureAwait(false);
        _spec = updated;
        _specWrittenAt = _environment.FileSystem.File.GetLastWriteTimeUtc(Files.Spec);
    }

    private async Task RecordTapsAsync(RunningQemu running, IReadOnlyList<string> taps)
    {
        running.Record = running.Record with { Taps = taps };
        await StateFile.WriteAsync(_environment.FileSystem, Files.Runtime, JsonSerializer.SerializeToUtf8Bytes(running.Record, KvmJsonContext.Default.VmRuntimeRecord), OwnerOnly.FileMode, CancellationToken.None).ConfigureAwait(false);
    }

    private async Task RunCommandAsync(string operation, Func<QmpClient, CancellationToken, Task> command, CancellationToken cancellationToken)
    {
        using var held = await _lock.AcquireAsync(operation, cancellationToken).ConfigureAwait(false);
        await RefreshAsync(cancellationToken).ConfigureAwait(false);
        if (_running is not { } running)
        {
            throw new VmStateException(Name, operation, _state, "start it first");
        }

        var monitor = await LeaseMonitorAsync(running, operation, cancellationToken).ConfigureAwait(false);
        await using var leased = monitor.ConfigureAwait(false);
        await command(monitor.Client, cancellationToken).ConfigureAwait(false);
    }

    private async Task KillRunningAsync(RunningQemu running, CancellationToken cancellationToken)
    {
        running.KilledByUs = true;
        SignalQemu(running, LibC.SigKill);
        await running.Exited.Task.WaitAsync(TimeSpan.FromSeconds(30), _environment.Time, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Follows QEMU's events until its monitor closes, then records how and why it ended.</summary>
    private async Task WatchAsync(RunningQemu running, QmpEventSubscription? subscription)
    {
        string? shutdownReason = null;
        MigratedAwayRecord? migrated = null;
        var panicked = false;
        try
        {
            while (true)
            {
                await foreach (var qmpEvent in (subscription ?? EmptyEvents()).ConfigureAwait(false))
                {
                    var now = _environment.Time.GetUtcNow();
                    switch (qmpEvent.Name)
                    {
                        case "STOP" when shutdownReason is null:
                            _state = VmState.Paused;
                            await PublishSharedAsync(running, new VmEvent(Name, VmEventKind.Paused, now)).ConfigureAwait(false);
                            break;
                        case "RESUME" when running.AwaitingStartResume:
                            running.AwaitingStartResume = false;
                            break;
                        case "RESUME":
                            _state = VmState.Running;
                            await PublishSharedAsync(running, new VmEvent(Name, VmEventKind.Resumed, now)).ConfigureAwait(false);
                            break;
                        case "RESET":
                            await PublishSharedAsync(running, new VmEvent(Name, VmEventKind.Reset, now, qmpEvent.GetString("reason"))).ConfigureAwait(false);
                            break;
                        case "GUEST_PANICKED":
                            panicked = true;
                            await PublishSharedAsync(running, new VmEvent(Name, VmEventKind.Crashed, now, "guest kernel panic")).ConfigureAwait(false);
                            break;
                        case "SHUTDOWN":
                            shutdownReason = qmpEvent.GetString("reason");
                            if (shutdownReason == "guest-panic")
                            {
                                break;
                            }

                            if (shutdownReason == "host-qmp-quit" && MigratedAway(running.Record.Pid) is { } migration)
                            {
                                // Quit by the process that migrated it (this one or another): the guest runs on elsewhere.
                                migrated = migration;
                                await PublishSharedAsync(running, new VmEvent(Name, VmEventKind.Migrated, now, $"to {migration.Destination}")).ConfigureAwait(false);
                                break;
                            }

                            var byGuest = qmpEvent.Data is { } data && data.TryGetProperty("guest", out var guest) && guest.ValueKind == JsonValueKind.True;
                            await PublishSharedAsync(running, new VmEvent(Name, byGuest ? VmEventKind.GuestShutdown : VmEventKind.HostShutdown, now, shutdownReason)).ConfigureAwait(false);
                            break;
                    }
                }

                if (running.Detaching)
                {
                    return;
                }

                // The monitor closed. Normally QEMU is exiting; if it still runs (a broken
                // connection), connect again and keep watching.
                if (!await WaitForExitOrReconnectAsync(running).ConfigureAwait(false))
                {
                    break;
                }

                if (running.Detaching)
                {
                    return;
                }

                subscription = running.Qmp!.Subscribe(new QmpSubscriptionOptions { Capacity = 1024 });
            }
        }
        catch (Exception ex)
        {
            Log.VmWatchFailed(_logger, Name, ex.Message);
        }

        running.Ending = !running.Detaching;
        var exitCode = running.IsChild ? await ReapAsync(running).ConfigureAwait(false) : null;
        if (migrated is null && MigratedAway(running.Record.Pid) is { } unseen)
        {
            // Its SHUTDOWN event did not reach this process (the monitor was reconnecting): the marker tells all the same.
            migrated = unseen;
            await PublishSharedAsync(running, new VmEvent(Name, VmEventKind.Migrated, _environment.Time.GetUtcNow(), $"to {unseen.Destination}")).ConfigureAwait(false);
        }

        var reason = panicked || shutdownReason == "guest-panic" ? "guest kernel panic"
            : running.KilledByUs ? "killed"
            : migrated is not null ? $"migrated to {migrated.Destination}"
            : shutdownReason switch
            {
                "guest-shutdown" => "guest shut down",
                "host-qmp-quit" => "quit through QMP",
                "host-qmp-system-reset" or "guest-reset" => "reset with -no-reboot",
                "host-signal" => "QEMU was signalled to exit",
                null when exitCode is 0 => "QEMU exited",
                null => $"QEMU exited unexpectedly (exit code {exitCode?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unknown"}); its log ends: {ReadLogTail(0)}",
                _ => shutdownReason,
            };
        // Another process may have hotplugged a NIC (and recorded its tap) since this run began.
        var taps = (await ReadRecordAsync(CancellationToken.None).ConfigureAwait(false))?.Taps ?? running.Record.Taps;
        await _environment.Taps.DeleteAsync(taps, CancellationToken.None).ConfigureAwait(false);
        await ReleaseNetworkPortsAsync().ConfigureAwait(false);
        await ReleaseVolumesAsync().ConfigureAwait(false);
        await ReleaseHostDevicesAsync().ConfigureAwait(false);
        if (running.Record.TpmPid is { } swtpm)
        {
            SwtpmProcess.Stop(swtpm, running.Record.TpmStartTicks);
        }

        running.Process?.Dispose();
        var exit = new VmExitInfo(reason, exitCode, _environment.Time.GetUtcNow());

        // Recorded before runtime.json goes, so a process that follows the run finds how it ended once it sees that.
        await JournalAsync(running, new VmEvent(Name, VmEventKind.Stopped, exit.At, reason, exitCode)).ConfigureAwait(false);
        UndefineIfLeftHost(migrated);
        RemoveRunFiles();
        _lastExit = exit;
        _state = panicked || shutdownReason == "guest-panic" ? VmState.Crashed : VmState.Stopped;
        _running = null;

        // Cleaned up: another process may start the VM (and own it) from here on.
        ReleaseOwnership();
        if (running.Qmp is { } monitor)
        {
            await monitor.DisposeAsync().ConfigureAwait(false);
        }

        Log.VmStopped(_logger, Name, reason);
        _events.Publish(new VmEvent(Name, VmEventKind.Stopped, exit.At, reason, exitCode));
        running.Exited.TrySetResult(exit);
    }

    /// <summary>After the monitor closed: true when QEMU still runs and a new connection was made (or the manager lets go of the VM).</summary>
    private async Task<bool> WaitForExitOrReconnectAsync(RunningQemu running)
    {
        if (running.Qmp is { } closed)
        {
            await closed.DisposeAsync().ConfigureAwait(false);
        }

        running.Qmp = null;
        while (true)
        {
            for (var i = 0; i < 100; i++)
            {
                if (running.Detaching)
                {
                    return true;
                }

                if (!IsAlive(running))
                {
                    return false;
                }

                await Task.Delay(TimeSpan.FromMilliseconds(20), _environment.Time).ConfigureAwait(false);
            }

            try
            {
                running.Qmp = await QmpClient.ConnectAsync(Files.QmpSocket, QmpOptionsFor(running.Record.Pid), _environment.LoggerFactory.CreateLogger<QmpClient>()).ConfigureAwait(false);
                return true;
            }
            catch (Exception ex) when (ex is VirtException or TimeoutException)
            {
                Log.VmWatchFailed(_logger, Name, $"QEMU runs but its monitor does not answer ({ex.Message}); retrying");
            }
        }
    }

    private static async IAsyncEnumerable<QmpEvent> EmptyEvents()
    {
        await Task.CompletedTask.ConfigureAwait(false);
        yield break;
    }

    private QmpClient MonitorOf(RunningQemu running, string operation) =>
        running.Qmp ?? throw new VmStateException(Name, operation, _state, "QEMU runs but its QMP monitor does not answer; the SDK keeps reconnecting, or call KillAsync");

    /// <summary>Whether QEMU still runs. For a child, waitpid both answers and collects the exit code.</summary>
    private bool IsAlive(RunningQemu running)
    {
        if (!running.IsChild)
        {
            var alive = running.Process is { } process ? !process.HasExited : _environment.Qemu.StartTicks(running.Record.Pid) == running.Record.ProcessStartTicks;
            if (!alive)
            {
                // Reaps it when this process is a subreaper; harmless (ECHILD) otherwise.
                _ = TryReap(running.Record.Pid, out _);
            }

            return alive;
        }

        if (running.ExitCode is not null)
        {
            return false;
        }

        if (TryReap(running.Record.Pid, out var exitCode))
        {
            running.ExitCode = exitCode;
            return false;
        }

        return true;
    }

    /// <summary>Collects a child's exit code; waits up to 10 s for it to exit.</summary>
    private async Task<int?> ReapAsync(RunningQemu running) =>
        running.ExitCode ?? await ReapAsync(running.Record.Pid).ConfigureAwait(false);

    /// <summary>Collects a child's exit code by pid; waits up to 10 s for it to exit.</summary>
    private async Task<int?> ReapAsync(int pid) => (await ExitWithinAsync(pid, TimeSpan.FromSeconds(10)).ConfigureAwait(false)).ExitCode;

    /// <summary>Waits up to <paramref name="limit"/> for a child to exit by itself; its exit code when it did.</summary>
    private async Task<(bool Exited, int? ExitCode)> ExitWithinAsync(int pid, TimeSpan limit)
    {
        var started = _environment.Time.GetTimestamp();
        while (true)
        {
            if (TryReap(pid, out var exitCode))
            {
                return (true, exitCode);
            }

            if (_environment.Time.GetElapsedTime(started) >= limit)
            {
                return (false, null);
            }

            await Task.Delay(TimeSpan.FromMilliseconds(10), _environment.Time).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// One non-blocking waitpid: true once the child has exited (with its exit code) or when it is
    /// not this process's child (exit code unknown); false while it runs.
    /// </summary>
    private bool TryReap(int pid, out int? exitCode) => _environment.Qemu.TryReap(pid, out exitCode);

    /// <summary>
    /// Signals this run's QEMU through its process descriptor, so a process that reused the pid is
    /// never hit; without pidfd (old kernels) the identity is checked right before the signal.
    /// Returns false when QEMU had already exited.
    /// </summary>
    private bool SignalQemu(RunningQemu running, int signal) =>
        running.Process is { } process
            ? process.Signal(signal)
            : _environment.Qemu.IsSameQemu(running.Record, Name) && _environment.Qemu.Kill(running.Record.Pid, signal);

    /// <summary>Kills and collects a QEMU this process spawned and has not collected: an unreaped child's pid cannot be reused.</summary>
    private async Task<int?> KillAndReapAsync(int pid)
    {
        _environment.Qemu.Kill(pid, LibC.SigKill);
        return await ReapAsync(pid).ConfigureAwait(false);
    }

    /// <summary>
    /// Connects to the monitor of a QEMU just spawned; if QEMU exits during start, the error carries its exit code and
    /// log. No timer watches the process meanwhile: QEMU alone holds the monitor's listening socket (the spawner
    /// closed this process's copy), so its exit resets the connection and fails the handshake at once; a QEMU that
    /// hangs instead is caught by the start timeout. Each poll of such a timer was a wake-up on a busy host.
    /// </summary>
    private async Task<QmpClient> ConnectWhileAliveAsync(int pid, long logStart, CancellationToken cancellationToken, VmFiles? files = null)
    {
        files ??= Files;
        var options = _environment.Options;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(options.StartTimeout);
        try
        {
            return await QmpClient.ConnectAsync(files.QmpSocket, QmpOptionsFor(pid) with { HandshakeTimeout = options.StartTimeout }, _environment.LoggerFactory.CreateLogger<QmpClient>(), deadline.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // A reset monitor means QEMU is exiting: its own exit code is awaited briefly. A QEMU still there after
            // that, or one that never answered within the start timeout, is killed and collected.
            var exitCode = ex is QmpConnectionException && await ExitWithinAsync(pid, TimeSpan.FromSeconds(2)).ConfigureAwait(false) is (true, var code)
                ? code
                : await KillAndReapAsync(pid).ConfigureAwait(false);
            var tail = ReadLogTail(logStart, files.Log);
            throw new VmStartException(Name,
                $"QEMU exited while starting VM '{Name}' (exit code {exitCode?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unknown"}): {tail.Trim()}; fix the spec or the host and start again",
                exitCode,
                tail,
                ex);
        }
    }

    private string ChooseAccelerator(QemuCapabilities capabilities)
    {
        switch (Spec.Accelerator)
        {
            case VmAccelerator.Tcg:
                return "tcg";
            case VmAccelerator.Kvm:
                var probed = _environment.Accelerators.Detect();
                if (probed.Kind != AcceleratorKind.Kvm || !capabilities.Accelerators.Contains("kvm"))
                {
                    throw new VmStartException(Name, $"VM '{Name}' asks for KVM, but it does not work here: {probed.Reason}; set Accelerator = Auto or Tcg", null, string.Empty);
                }

                return "kvm";
            default:
                var choice = _environment.Accelerators.Detect();
                return choice.Kind == AcceleratorKind.Kvm && capabilities.Accelerators.Contains("kvm") ? "kvm" : "tcg";
        }
    }

    private void CheckFilesExist(VmSpec spec)
    {
        var firmware = spec.Firmware;
        var required = new List<(string What, string? Path)>
        {
            ("Firmware.BiosPath", firmware.BiosPath),
            ("Firmware.KernelPath", firmware.KernelPath),
            ("Firmware.InitrdPath", firmware.InitrdPath),
        };
        if (firmware.Kind == VmFirmwareKind.Ovmf)
        {
            required.Add(("Firmware.OvmfCodePath", firmware.OvmfCodePath));
            required.Add(("Firmware.OvmfVarsTemplatePath", firmware.OvmfVarsTemplatePath));
        }

        required.AddRange(spec.Disks.Select(d => ($"disk '{d.Id}'", (string?)d.Path)));
        required.AddRange(spec.Cdroms.Select(c => ($"CD-ROM '{c.Id}'", (string?)c.IsoPath)));
        var missing = required.Where(r => r.Path is not null && !_environment.FileSystem.File.Exists(r.Path)).Select(r => $"{r.What} '{r.Path}'").ToList();
        if (missing.Count > 0)
        {
            throw new VmStartException(Name, $"cannot start VM '{Name}': {string.Join(", ", missing)} does not exist; create the file or fix the spec", null, string.Empty);
        }
    }

    private void PrepareFirmware()
    {
        var fileSystem = _environment.FileSystem;
        if (Spec.Firmware.Kind == VmFirmwareKind.Ovmf && !fileSystem.File.Exists(Files.OvmfVars))
        {
            CopyOwnerOnly(fileSystem, Spec.Firmware.OvmfVarsTemplatePath, Files.OvmfVars);
        }

        if (Spec.CloudInit is { } cloudInit)
        {
            // Written from the spec at each start, so the guest always sees the current configuration.
            fileSystem.File.Delete(Files.CloudInitSeed);
            using var seed = OwnerOnly.Open(fileSystem, Files.CloudInitSeed, FileMode.CreateNew, FileAccess.Write);
            seed.Write(NoCloudSeed.BuildIso(Name, cloudInit, _environment.Time.GetUtcNow()));
        }
    }

    /// <summary>How often a running VM's serial log is checked against <c>KvmOptions.SerialLogMaxBytes</c>.</summary>
    private static readonly TimeSpan SerialLogCheckInterval = TimeSpan.FromSeconds(1);

    /// <summary>How long a start waits for the cleanup after a QEMU that has just exited.</summary>
    private static readonly TimeSpan EndingCleanupWait = TimeSpan.FromSeconds(30);

    /// <summary>Keeps the serial log within its cap while this run of QEMU lasts (see <see cref="SerialLogFile"/>).</summary>
    private async Task TrimSerialLogAsync(RunningQemu running)
    {
        var cap = _environment.Options.SerialLogMaxBytes;
        if (cap <= 0 || !Spec.SerialConsole)
        {
            return;
        }

        while (!running.Exited.Task.IsCompleted && !running.Detaching)
        {
            await Task.WhenAny(running.Exited.Task, Task.Delay(SerialLogCheckInterval, _environment.Time, running.DetachToken)).ConfigureAwait(false);
            if (running.Exited.Task.IsCompleted || running.Detaching)
            {
                return;
            }

            try
            {
                // The real file system: trimming cuts the file QEMU keeps open, with fallocate on its real descriptor.
                SerialLogFile.Trim(Files.SerialLog, cap);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                Log.VmWatchFailed(_logger, Name, $"could not trim the serial log '{Files.SerialLog}': {ex.Message}");
            }
        }
    }

    private void RestrictSockets()
    {
        foreach (var socket in new[] { Files.AgentSocket, Files.SerialSocket, Files.VncSocket })
        {
            if (_environment.FileSystem.File.Exists(socket))
            {
                _environment.FileSystem.File.SetUnixFileMode(socket, OwnerOnly.FileMode);
            }
        }
    }

    private void RemoveRunFiles()
    {
        foreach (var file in new[] { Files.Runtime, Files.MigratedAway, Files.PidFile, Files.QmpSocket, Files.ControlSocket, Files.AgentSocket, Files.SerialSocket, Files.VncSocket, Files.TpmSocket })
        {
            _environment.FileSystem.File.Delete(file);
        }
    }

    /// <summary>Copies a file into a new 0600 file (an existing target would keep its own mode, so it must not exist).</summary>
    private static void CopyOwnerOnly(System.IO.Abstractions.IFileSystem fileSystem, string from, string to)
    {
        using var source = fileSystem.FileStream.New(from, FileMode.Open, FileAccess.Read, FileShare.Read);
        using var target = OwnerOnly.Open(fileSystem, to, FileMode.CreateNew, FileAccess.Write);
        source.CopyTo(target);
    }

    private string ReadLogTail(long from, string? path = null)
    {
        try
        {
            using var log = _environment.FileSystem.FileStream.New(path ?? Files.Log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            var start = Math.Max(from, log.Length - LogTailBytes);
            log.Seek(start, SeekOrigin.Begin);
            var buffer = new byte[log.Length - start];
            log.ReadExactly(buffer);
            var text = Encoding.UTF8.GetString(buffer).Trim();
            return text.Length == 0 ? "(nothing in its log)" : text;
        }
        catch (IOException)
        {
            return "(no log)";
        }
    }
}
