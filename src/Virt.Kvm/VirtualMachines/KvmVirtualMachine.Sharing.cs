using System.Text.Json;
using Microsoft.Extensions.Logging;
using Virt.Kvm.Qmp;
using Virt.Kvm.Qmp.Api;
using Virt.VirtualMachines;

namespace Virt.Kvm.VirtualMachines;

/// <summary>
/// Several processes managing one VM (the panel as a service, virtctl in a shell, a user's tool, or two
/// managers in one process), all on one state directory. QEMU serves one client per monitor socket, so:
/// <list type="bullet">
/// <item>The process holding the VM's owner lock (<see cref="VmFiles.OwnerLock"/>) keeps the main monitor:
/// it sees QEMU's events (a pause made by another process arrives as STOP there), reaps QEMU and cleans up
/// after it. Exactly one process holds it; the kernel drops it when that process dies.</item>
/// <item>Every other process follows the run: each operation connects to QEMU's second monitor
/// (<see cref="VmFiles.ControlSocket"/>) for its own length, one process at a time under the operation lock.
/// Its status is asked of QEMU; it notices the run's end when the owner removed runtime.json.</item>
/// <item>Only the owner sees QEMU's events: it records each state event in the VM's event journal
/// (<see cref="VmEventJournal"/>), and followers publish what is new there on their periodic check, so every
/// manager's watchers see every change, whichever process caused it.</item>
/// <item>Guest-agent calls connect per call under the agent lock from any process (see <see cref="KvmVmGuest"/>).</item>
/// <item>When the owner dies, the next process that touches the VM (or a follower's periodic check) takes
/// the owner lock and with it the main monitor, or cleans up when QEMU died too.</item>
/// </list>
/// </summary>
internal sealed partial class KvmVirtualMachine
{
    /// <summary>How often a follower checks whether the run ended or lost its owner.</summary>
    private static readonly TimeSpan FollowInterval = TimeSpan.FromMilliseconds(200);

    private const string OwnerHolder = "owns the VM (watches its QEMU)";

    private readonly SemaphoreSlim _refreshGate = new(1, 1);
    private readonly BackgroundTasks _background = new();
    private VmFileLock? _ownership;
    private DateTime _specWrittenAt;

    /// <summary>A follower's place in the owner's event journal (null while not following).</summary>
    private VmJournalCursor? _journalCursor;

    /// <summary>How the followed run ended, as its owner recorded it in the journal (read before the owner removed runtime.json).</summary>
    private (VmExitInfo Exit, bool Crashed)? _endRecordedByOwner;

    private VmEventJournal Journal => new(_environment.FileSystem, Files.EventJournal);

    /// <summary>Brings this process's view of the VM up to date (for the guest agent, which uses no operation lock).</summary>
    internal Task RefreshViewAsync(CancellationToken cancellationToken) => RefreshAsync(cancellationToken);

    /// <summary>
    /// Brings this process's view up to date with what other processes did: a run started elsewhere is
    /// followed (or owned when nobody owns it), a followed run that ended elsewhere is recorded as stopped,
    /// a spec changed elsewhere (hotplug) is read again.
    /// </summary>
    private async Task RefreshAsync(CancellationToken cancellationToken)
    {
        await _refreshGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await ReloadSpecIfChangedAsync(cancellationToken).ConfigureAwait(false);
            switch (_running)
            {
                case { IsOwner: true }:
                    return;
                case { } followed:
                    await CheckFollowedRunAsync(followed, cancellationToken).ConfigureAwait(false);
                    return;
                default:
                    if (_environment.FileSystem.File.Exists(Files.Runtime))
                    {
                        await AttachAsync(cancellationToken).ConfigureAwait(false);
                    }

                    return;
            }
        }
        finally
        {
            _refreshGate.Release();
        }
    }

    private async Task ReloadSpecIfChangedAsync(CancellationToken cancellationToken)
    {
        var written = _environment.FileSystem.File.GetLastWriteTimeUtc(Files.Spec);
        if (written == _specWrittenAt || !_environment.FileSystem.File.Exists(Files.Spec))
        {
            return;
        }

        if (_specWrittenAt != default && JsonSerializer.Deserialize(await _environment.FileSystem.File.ReadAllBytesAsync(Files.Spec, cancellationToken).ConfigureAwait(false), KvmJsonContext.Default.VmSpec) is { } stored)
        {
            _spec = stored;
        }

        _specWrittenAt = written;
    }

    /// <summary>Follows a run that another process owns: no monitor held, a periodic check for its end or its owner's death.</summary>
    private async Task FollowAsync(VmRuntimeRecord record, CancellationToken cancellationToken)
    {
        if (!_environment.Qemu.IsSameQemu(record, Name, out var process))
        {
            // Exited: its owner is cleaning up after it.
            _state = VmState.Stopped;
            _lastExit = new VmExitInfo($"QEMU (pid {record.Pid}) exited; {DescribeOwner()} cleans up after it", null, _environment.Time.GetUtcNow());
            return;
        }

        var running = new RunningQemu(record, null, isChild: false, process) { IsOwner = false };

        // From here on, what the owner records is news to this process's watchers.
        _journalCursor = await Journal.OpenAtEndAsync(cancellationToken).ConfigureAwait(false);
        _endRecordedByOwner = null;
        _running = running;
        _state = await AskStateThroughControlAsync(cancellationToken).ConfigureAwait(false) ?? VmState.Running;
        _background.Run(() => FollowLoopAsync(running));
        Log.VmFollowed(_logger, Name, record.Pid, DescribeOwner());
    }

    private async Task FollowLoopAsync(RunningQemu running)
    {
        while (!running.Detaching && !running.IsOwner && ReferenceEquals(_running, running))
        {
            try
            {
                await Task.Delay(FollowInterval, _environment.Time, running.DetachToken).ConfigureAwait(false);
                await RefreshAsync(running.DetachToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (running.Detaching)
            {
                return;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or VirtException or TimeoutException or JsonException)
            {
                Log.VmWatchFailed(_logger, Name, $"following the VM owned by {DescribeOwner()} failed ({ex.Message}); trying again");
            }
        }
    }

    /// <summary>A followed run: take it over when its owner is gone, end it here when the owner ended it.</summary>
    private async Task CheckFollowedRunAsync(RunningQemu running, CancellationToken cancellationToken)
    {
        var owner = DescribeOwner();
        if (!_environment.FileSystem.Directory.Exists(Files.Directory))
        {
            // Another process removed the VM (a delete, or the end of a migration to another host) with its journal.
            EndFollowedRun(running, _endRecordedByOwner?.Exit ?? new VmExitInfo($"QEMU (pid {running.Record.Pid}) ended and the VM was removed from this host by another process (deleted, or migrated to another host)", null, _environment.Time.GetUtcNow()), _endRecordedByOwner?.Crashed ?? false);
            return;
        }

        await PublishOwnersEventsAsync(running, cancellationToken).ConfigureAwait(false);
        var ownership = VmFileLock.TryAcquire(Files.OwnerLock, OwnerHolder);
        var record = await ReadRecordAsync(cancellationToken).ConfigureAwait(false);
        if (record is null || record.Pid != running.Record.Pid || record.ProcessStartTicks != running.Record.ProcessStartTicks)
        {
            // The owner cleaned up (or a migration replaced QEMU): this run is over here too. What the owner
            // recorded last (a shutdown, how QEMU ended) was written before runtime.json went.
            ownership?.Dispose();
            await PublishOwnersEventsAsync(running, cancellationToken).ConfigureAwait(false);
            var end = _endRecordedByOwner ?? (new VmExitInfo($"QEMU (pid {running.Record.Pid}) ended; {owner} owned the VM and recorded how", null, _environment.Time.GetUtcNow()), false);
            EndFollowedRun(running, end.Exit, end.Crashed);
            if (record is not null)
            {
                await AttachAsync(cancellationToken).ConfigureAwait(false);
            }

            return;
        }

        if (ownership is null)
        {
            return;
        }

        // The owner is gone and the run is still recorded: this process owns it now.
        _ownership = ownership;
        try
        {
            if (!_environment.Qemu.IsSameQemu(record, Name))
            {
                var exit = await CleanUpAfterDeadQemuAsync(record, "its owner was gone too", cancellationToken).ConfigureAwait(false);
                ReleaseOwnership();
                EndFollowedRun(running, exit, crashed: false);
                return;
            }

            var (qmp, subscription, paused) = await ConnectEventMonitorAsync(record.Pid, cancellationToken).ConfigureAwait(false);
            running.Qmp = qmp;
            running.IsChild = _environment.Qemu.ParentPid(record.Pid) == Environment.ProcessId;
            running.IsOwner = true;
            _journalCursor = null;
            var believed = _state;
            _state = paused ? VmState.Paused : VmState.Running;
            if (qmp is not null && believed != _state)
            {
                // Changed while nobody owned the VM (its events then reached no one): news to every watcher.
                await PublishSharedAsync(running, new VmEvent(Name, paused ? VmEventKind.Paused : VmEventKind.Resumed, _environment.Time.GetUtcNow(), "seen when this process took the VM over")).ConfigureAwait(false);
            }

            _background.Run(() => WatchAsync(running, subscription));
            _background.Run(() => TrimSerialLogAsync(running));
            Log.VmReattached(_logger, Name, record.Pid);
        }
        catch
        {
            if (!running.IsOwner)
            {
                ReleaseOwnership();
            }

            throw;
        }
    }

    private void EndFollowedRun(RunningQemu running, VmExitInfo exit, bool crashed)
    {
        running.Process?.Dispose();
        _lastExit = exit;
        _state = crashed ? VmState.Crashed : VmState.Stopped;
        _running = null;
        _journalCursor = null;
        _events.Publish(new VmEvent(Name, VmEventKind.Stopped, exit.At, exit.Reason, exit.ExitCode));
        running.Exited.TrySetResult(exit);
    }

    /// <summary>The owner: an event for this process's watchers, recorded in the journal for every other process's.</summary>
    private async Task PublishSharedAsync(RunningQemu running, VmEvent vmEvent)
    {
        _events.Publish(vmEvent);
        await JournalAsync(running, vmEvent).ConfigureAwait(false);
    }

    /// <summary>The owner: records an event for the processes that follow the run; a failure to write costs them the event, not the owner its watch.</summary>
    private Task JournalAsync(RunningQemu running, VmEvent vmEvent) => JournalAsync(running.Record.Pid, vmEvent);

    /// <summary>The owner: records an event of the run of QEMU <paramref name="qemuPid"/> for the processes that follow it.</summary>
    private async Task JournalAsync(int qemuPid, VmEvent vmEvent)
    {
        try
        {
            await Journal.AppendAsync(qemuPid, vmEvent, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Log.VmWatchFailed(_logger, Name, $"could not record the {vmEvent.Kind} event in '{Files.EventJournal}' for the other processes that manage the VM: {ex.Message}");
        }
    }

    /// <summary>A follower: publishes the events the owner recorded for this run since the last check, and follows the state they tell.</summary>
    private async Task PublishOwnersEventsAsync(RunningQemu running, CancellationToken cancellationToken)
    {
        if (_journalCursor is not { } cursor)
        {
            return;
        }

        foreach (var entry in await Journal.ReadNewAsync(cursor, cancellationToken).ConfigureAwait(false))
        {
            if (entry.Pid != running.Record.Pid)
            {
                continue;
            }

            switch (entry.Kind)
            {
                case VmEventKind.Stopped:
                    // Published when this process sees the run end (runtime.json removed), with this reason.
                    _endRecordedByOwner = (new VmExitInfo(entry.Reason ?? "QEMU exited", entry.ExitCode, entry.At), _endRecordedByOwner?.Crashed ?? false);
                    continue;
                case VmEventKind.Crashed:
                    _endRecordedByOwner = (_endRecordedByOwner?.Exit ?? new VmExitInfo("guest kernel panic", null, entry.At), true);
                    break;
                case VmEventKind.Paused:
                    _state = VmState.Paused;
                    break;
                case VmEventKind.Resumed:
                    _state = VmState.Running;
                    break;
            }

            _events.Publish(new VmEvent(Name, entry.Kind, entry.At, entry.Reason, entry.ExitCode));
        }
    }

    /// <summary>
    /// The monitor one operation uses: the owner's main monitor; in a follower (or an owner whose main
    /// monitor does not answer) a connection to the control monitor, closed when the operation ends.
    /// Callers hold the operation lock, so one process at a time uses the control monitor.
    /// </summary>
    private async Task<MonitorLease> LeaseMonitorAsync(RunningQemu running, string operation, CancellationToken cancellationToken)
    {
        if (running.IsOwner && running.Qmp is { } main)
        {
            return new MonitorLease(main, closeAfterUse: false);
        }

        if (!_environment.FileSystem.File.Exists(Files.ControlSocket))
        {
            throw new VmStateException(Name, operation, _state, running.IsOwner
                ? "QEMU runs but its QMP monitor does not answer; the SDK keeps reconnecting, or call KillAsync"
                : $"its QEMU was started by an older Virt build that gave it no control monitor, and {DescribeOwner()} holds its only monitor: run '{operation}' from that process, or shut the VM down and start it again with this build so that any process can manage it");
        }

        try
        {
            var control = await QmpClient.ConnectAsync(Files.ControlSocket, QmpOptionsFor(running.Record.Pid), _environment.LoggerFactory.CreateLogger<QmpClient>(), cancellationToken).ConfigureAwait(false);
            return new MonitorLease(control, closeAfterUse: true);
        }
        catch (Exception ex) when (ex is VirtException or TimeoutException)
        {
            throw new VmStateException(Name, operation, _state, $"QEMU runs but its QMP monitor does not answer (nor does its control monitor '{Files.ControlSocket}': {ex.Message}); try again, or call KillAsync");
        }
    }

    /// <summary>A follower's view of the state, asked of QEMU; null when another operation holds the VM (the last known state stands).</summary>
    private async Task<VmState?> AskStateThroughControlAsync(CancellationToken cancellationToken)
    {
        if (_running is not { IsOwner: false } running || !_environment.FileSystem.File.Exists(Files.ControlSocket))
        {
            return null;
        }

        using var held = await _lock.TryAcquireAsync("query status", TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
        if (held is null)
        {
            return null;
        }

        try
        {
            var monitor = await LeaseMonitorAsync(running, "query status", cancellationToken).ConfigureAwait(false);
            await using var leased = monitor.ConfigureAwait(false);
            var status = await monitor.Client.QueryStatusAsync(cancellationToken).ConfigureAwait(false);
            return status.Running ? VmState.Running : VmState.Paused;
        }
        catch (Exception ex) when (ex is VirtException or TimeoutException)
        {
            return null;
        }
    }

    private async Task<(QmpClient? Qmp, QmpEventSubscription? Subscription, bool Paused)> ConnectEventMonitorAsync(int qemuPid, CancellationToken cancellationToken)
    {
        QmpClient? qmp = null;
        try
        {
            qmp = await QmpClient.ConnectAsync(Files.QmpSocket, QmpOptionsFor(qemuPid), _environment.LoggerFactory.CreateLogger<QmpClient>(), cancellationToken).ConfigureAwait(false);
            var subscription = qmp.Subscribe(new QmpSubscriptionOptions { Capacity = 1024 });
            var paused = (await qmp.QueryStatusAsync(cancellationToken: cancellationToken).ConfigureAwait(false)).Status == QueryStatusResultStatus.Paused;
            return (qmp, subscription, paused);
        }
        catch (Exception ex) when (ex is VirtException or TimeoutException)
        {
            // QEMU runs but its monitor does not answer: the VM is still listed and can be killed;
            // the watch loop keeps trying to reconnect.
            Log.VmWatchFailed(_logger, Name, $"re-attach could not reach the QMP monitor ({ex.Message}); retrying in the background");
            if (qmp is not null)
            {
                await qmp.DisposeAsync().ConfigureAwait(false);
            }

            return (null, null, false);
        }
    }

    private async Task<VmRuntimeRecord?> ReadRecordAsync(CancellationToken cancellationToken)
    {
        try
        {
            return JsonSerializer.Deserialize(await _environment.FileSystem.File.ReadAllBytesAsync(Files.Runtime, cancellationToken).ConfigureAwait(false), KvmJsonContext.Default.VmRuntimeRecord);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    /// <summary>The monitor options for this VM's QEMU: its pid names the binary whose QMP schema is cached (see <see cref="QmpClientOptions.ServerProcessId"/>).</summary>
    private QmpClientOptions QmpOptionsFor(int qemuPid) => _environment.Options.Qmp with { TimeProvider = _environment.Time, ServerProcessId = qemuPid };

    private void ReleaseOwnership()
    {
        Interlocked.Exchange(ref _ownership, null)?.Dispose();
    }

    private string DescribeOwner() =>
        VmFileLock.HolderPid(Files.OwnerLock) is { } pid ? $"process {pid}" : "another process";
}
