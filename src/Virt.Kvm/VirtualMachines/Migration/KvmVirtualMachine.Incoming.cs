using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Virt.IO;
using Virt.Kvm.Qmp;
using Virt.Kvm.Qmp.Api;
using Virt.Kvm.VirtualMachines.Migration;
using Virt.Storage;
using Virt.VirtualMachines;

namespace Virt.Kvm.VirtualMachines;

/// <summary>What a start needs to know when its QEMU is to receive the VM from another host.</summary>
internal sealed class IncomingSetup(IncomingMigrationOptions options, string? tlsDirectory, VolumeAcquireOptions? volumeOptions, IPAddress listenAddress, IReadOnlyDictionary<string, long> copies)
{
    /// <summary>How volumes are acquired: alongside the source host's lock when it is named.</summary>
    public VolumeAcquireOptions? VolumeOptions { get; } = volumeOptions;

    /// <summary>The disks the start found on storage both hosts reach (RBD); filled in by the start.</summary>
    public IReadOnlyList<string> SharedDisks { get; set; } = [];

    /// <summary>The ticket's plan for each disk copied from the source (its NBD export); filled in by <see cref="ConfigureAsync"/>.</summary>
    public IReadOnlyList<MigrationDiskPlan> CopyPlans { get; private set; } = [];

    /// <summary>
    /// Readies the waiting QEMU's side of the stream: TLS server credentials and who may connect; and, for disks copied
    /// from the source, the NBD exports of their new images behind the same credentials and authorization.
    /// </summary>
    public async Task ConfigureAsync(QmpClient qmp, CancellationToken cancellationToken)
    {
        if (options.Security == MigrationSecurity.Tls)
        {
            await MigrationTls.ConfigureServerAsync(qmp, tlsDirectory!, options.SourceHost, cancellationToken).ConfigureAwait(false);
        }

        if (copies.Count > 0)
        {
            var authorization = options.SourceHost is null ? null : MigrationTls.AuthorizationId;
            CopyPlans = await CrossHostDiskCopy.ExportAsync(qmp, listenAddress, copies.Keys.ToList(), authorization, cancellationToken).ConfigureAwait(false);
        }
    }
}

/// <summary>What incoming.json records while a VM is being received.</summary>
/// <param name="ExpiresAt">When the ticket expires.</param>
/// <param name="SourceHost">The host that may send it, if named.</param>
/// <param name="CopiedVolumes">The volumes made here for copied disks (<c>pool:name</c>), deleted again if the VM never arrives.</param>
/// <param name="PendingVolume">
/// The volume being created when this was written: found to be absent just before, so a process that died while creating it
/// leaves it to delete with the others.
/// </param>
/// <param name="HandedOver">
/// Whether the source's stream was handed to QEMU: from then on QEMU may complete the receive on its own, so what is here
/// may be the VM's only whole copy and is never discarded without the operator.
/// </param>
internal sealed record IncomingRecord(DateTimeOffset ExpiresAt, string? SourceHost, IReadOnlyList<string>? CopiedVolumes = null, string? PendingVolume = null, bool HandedOver = false)
{
    /// <summary>Every volume this receive made, or may have made.</summary>
    public IReadOnlyList<VolumeId> Volumes() =>
        (CopiedVolumes ?? []).Concat(PendingVolume is null ? [] : [PendingVolume]).Select(VolumeId.Parse).ToList();
}

/// <summary>
/// The destination of a migration between hosts. QEMU starts from the spec with <c>-incoming defer</c> (taps, ports and
/// volumes taken as for a start) and waits; the SDK listens on the ticket's address as a gate (see
/// <see cref="MigrationGate"/>). The one connection that proves the token is handed to QEMU as a descriptor
/// (<c>getfd</c>, <c>migrate-incoming fd:</c>); once QEMU has the whole state the guest resumes and the VM is this host's.
/// Disks given by a file path are copied: new images in the VM's directory, exported over NBD (<see cref="CrossHostDiskCopy"/>).
/// Expiry, a failed stream, QEMU's death or a delete take everything away again: QEMU, taps, ports, volumes, the record.
/// </summary>
internal sealed partial class KvmVirtualMachine
{
    private const string IncomingDescriptor = "virt-migration";

    /// <summary>
    /// How long the stream may take to start once the ticket was accepted. QEMU does not end when the TLS handshake
    /// fails (a certificate it does not admit): it would wait forever for a stream that is not coming.
    /// </summary>
    private static readonly TimeSpan StreamStartTimeout = TimeSpan.FromSeconds(30);

    private CancellationTokenSource? _incomingCancel;
    private Task? _incomingRun;

    /// <summary>The volumes this receive made for copied disks (null: not known in this process; incoming.json says).</summary>
    private IReadOnlyList<VolumeId>? _copiedVolumes;

    /// <summary>incoming.json as this process last wrote it (null: not written by this process).</summary>
    private IncomingRecord? _incomingRecord;

    /// <summary>Whether this VM is waiting to be received from another host.</summary>
    public bool IsIncoming => _state == VmState.Incoming;

    /// <summary>Starts the waiting QEMU and the gate; returns the ticket the source needs.</summary>
    public async Task<MigrationTicket> ReceiveAsync(IncomingMigrationOptions options, IPEndPoint listen, string? tlsDirectory, IReadOnlyDictionary<string, long> copies, CancellationToken cancellationToken)
    {
        // The gate listens before QEMU starts, so an address that is not this host's fails at once.
        var listener = new TcpListener(listen);
        try
        {
            listener.Start();
        }
        catch (SocketException ex)
        {
            throw new VmMigrationException(Name, $"cannot listen on {MigrationGate.Describe(listen)} for the incoming stream: {ex.Message}; give an address of this host (IncomingMigrationOptions.ListenAddress) and a free port", ex);
        }

        try
        {
            var setup = new IncomingSetup(options, tlsDirectory, options.SourceHost is { } sourceHost ? new VolumeAcquireOptions { AlongsideHolder = $"{sourceHost}/{VolumeUser}" } : null, listen.Address, copies);
            using (await _lock.AcquireAsync("receive", cancellationToken).ConfigureAwait(false))
            {
                _ownership = await VmFileLock.AcquireAsync(Files.OwnerLock, OwnerHolder, _environment.Options.LockTimeout, _environment.Time, cancellationToken).ConfigureAwait(false)
                    ?? throw new VmLockTimeoutException(Name, "receive", $"process {VmFileLock.DescribeHolder(Files.OwnerLock)}", _environment.Options.LockTimeout);
                _copiedVolumes = [];
                try
                {
                    // incoming.json is written ahead of anything made for the receive, and again around each volume: a
                    // process that dies part-way leaves what to take back (AttachAsync does, finding no QEMU that received it).
                    var record = new IncomingRecord(_environment.Time.GetUtcNow() + options.TicketLifetime, options.SourceHost);
                    await WriteIncomingRecordAsync(record, cancellationToken).ConfigureAwait(false);

                    // The copies' empty images go in the VM's directory, which a failure removes with everything in it; the
                    // copied volumes go in this host's pools, and a failure deletes them.
                    await CrossHostDiskCopy.CreateImagesAsync(_environment.Processes, Name, Files.Directory, copies, Spec.Disks, cancellationToken).ConfigureAwait(false);
                    _copiedVolumes = await CopiedVolumes.CreateAsync(
                        _environment.Volumes,
                        _environment.HostName,
                        Spec,
                        copies,
                        (created, pending) => WriteIncomingRecordAsync(record with { CopiedVolumes = created.Select(id => id.ToString()).ToList(), PendingVolume = pending?.ToString() }, cancellationToken),
                        _logger,
                        cancellationToken).ConfigureAwait(false);
                    await StartOwnedAsync(cancellationToken, setup).ConfigureAwait(false);
                }
                catch
                {
                    // The volumes go before the VM is let go: another process that took it over meanwhile would find
                    // incoming.json and discard it, deleting the same volumes (or a pending one) a second time.
                    await CopiedVolumes.DeleteAsync(_environment.Volumes, _copiedVolumes, Name, _logger).ConfigureAwait(false);
                    _copiedVolumes = [];
                    ReleaseOwnership();
                    throw;
                }
            }

            var running = _running!;
            try
            {
                var local = Spec.Disks.Where(disk => !setup.SharedDisks.Contains(disk.Id) && !copies.ContainsKey(disk.Id)).Select(disk => $"'{disk.Id}' ({disk.Path})").ToList();
                if (local.Count > 0)
                {
                    throw new VmMigrationException(Name, $"disk {string.Join(", ", local)} is a volume on a pool only one host reaches, and the source sent no size for it, so it is not copied: give its size in IncomingMigrationOptions.LocalDiskSizes (IVmMigration.GetLocalDiskSizesAsync on the source lists the disks it copies; a read-only one is never copied), or put it on an RBD pool defined on both hosts");
                }

                var facts = await MigrationCompatibility.ReadAsync(MonitorOf(running, "receive"), cancellationToken).ConfigureAwait(false);
                var token = MigrationGate.NewToken();
                var expiresAt = _environment.Time.GetUtcNow() + options.TicketLifetime;
                var ticket = new MigrationTicket
                {
                    VmName = Name,
                    DestinationHost = _environment.HostName,
                    Address = MigrationGate.Describe((IPEndPoint)listener.LocalEndpoint),
                    Token = token,
                    ExpiresAt = expiresAt,
                    MachineType = facts.MachineType,
                    CpuModel = facts.CpuModel,
                    QemuVersion = facts.QemuVersion.ToString(3),
                    Security = options.Security,
                    Disks = Spec.Disks.Select(disk => setup.CopyPlans.FirstOrDefault(plan => plan.DiskId == disk.Id) ?? new MigrationDiskPlan(disk.Id, MigrationDiskTransfer.Shared)).ToList(),
                };
                await WriteIncomingRecordAsync(new IncomingRecord(expiresAt, options.SourceHost, _copiedVolumes.Select(volume => volume.ToString()).ToList()), cancellationToken).ConfigureAwait(false);
                _incomingCancel = new CancellationTokenSource();
                var stop = _incomingCancel.Token;
                _incomingRun = Task.Run(() => AwaitArrivalAsync(listener, running, token, expiresAt, options.SourceHost, stop), CancellationToken.None);
                return ticket;
            }
            catch
            {
                await TearDownIncomingAsync(running).ConfigureAwait(false);
                throw;
            }
        }
        catch
        {
            listener.Stop();
            throw;
        }
    }

    /// <summary>Takes back everything made for an incoming VM that has not arrived (a delete, or the manager giving up on it).</summary>
    public async Task AbandonIncomingAsync()
    {
        if (!IsIncoming)
        {
            return;
        }

        if (_incomingCancel is { } cancel && _incomingRun is { } run)
        {
            await cancel.CancelAsync().ConfigureAwait(false);
            await run.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        else if (_running is { } running)
        {
            // Found by this manager after the receiving process ended: QEMU may have finished receiving alone since, and
            // then what runs here is the VM (the source has let go of it), never to be torn down as a wait.
            if (running.Qmp is { } qmp && (await qmp.QueryStatusAsync(CancellationToken.None).ConfigureAwait(false)).Status.Value != "inmigrate")
            {
                _state = await SettleIncomingAfterRestartAsync(qmp, CancellationToken.None).ConfigureAwait(false);
                throw new VmStateException(Name, "delete", _state, "it arrived from the source meanwhile (its QEMU finished receiving it alone) and runs here now: shut it down first, or delete it with force");
            }

            await TearDownIncomingAsync(running).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// A receive found mid-stream by a manager after the process receiving it ended: QEMU goes on receiving alone. It is
    /// asked once a second until it has the whole VM, which then resumes as on arrival. A QEMU that ends instead leaves the
    /// VM stopped with incoming.json: a start refuses it, a delete removes it with its volumes.
    /// </summary>
    private async Task FollowUnwatchedReceiveAsync(RunningQemu running)
    {
        var said = false;
        while (_running == running && _state == VmState.Incoming && !running.Detaching && !running.Ending)
        {
            await Task.Delay(TimeSpan.FromSeconds(1), _environment.Time).ConfigureAwait(false);
            try
            {
                // Asked outside the lock, and a slow answer is "still streaming": QEMU serves its monitor between the
                // chunks of the incoming stream, late when the stream is busy.
                if (running.Qmp is not { } qmp || (await qmp.QueryStatusAsync(CancellationToken.None).ConfigureAwait(false)).Status.Value == "inmigrate")
                {
                    continue;
                }

                string? source;
                using (await _lock.AcquireAsync("receive", CancellationToken.None).ConfigureAwait(false))
                {
                    if (_running != running || _state != VmState.Incoming)
                    {
                        return;
                    }

                    source = CurrentIncomingRecord()?.SourceHost;
                    _state = await SettleIncomingAfterRestartAsync(qmp, CancellationToken.None).ConfigureAwait(false);
                }

                Log.VmArrived(_logger, Name, source ?? "another host", running.Record.Pid);
                _events.Publish(new VmEvent(Name, VmEventKind.Migrated, _environment.Time.GetUtcNow(), "from another host, received while no manager watched"));
                return;
            }
            catch (QmpTimeoutException)
            {
                // Busy with the stream: asked again.
            }
            catch (Exception error) when (error is not OutOfMemoryException)
            {
                if (_running == running && !running.Detaching && !running.Ending && !said)
                {
                    // The monitor is reconnecting, or QEMU is ending (its watcher cleans up): asked again while it is this
                    // run, and said once.
                    said = true;
                    Log.UnwatchedReceiveNotFollowed(_logger, Name, error.Message);
                }
            }
        }
    }

    /// <summary>
    /// A manager found a VM that was being received when the process receiving it ended: still waiting, it stays
    /// <see cref="VmState.Incoming"/> (nobody can let a stream in any more; delete it); arrived, it resumes and is this host's.
    /// </summary>
    private async Task<VmState> SettleIncomingAfterRestartAsync(QmpClient qmp, CancellationToken cancellationToken)
    {
        var status = await qmp.QueryStatusAsync(cancellationToken).ConfigureAwait(false);
        if (status.Status.Value == "inmigrate")
        {
            return VmState.Incoming;
        }

        await CompleteArrivalAsync(qmp, resume: !status.Running, cancellationToken).ConfigureAwait(false);
        return VmState.Running;
    }

    /// <summary>
    /// QEMU has the whole VM: incoming.json goes (durably) first, before the guest resumes, so that a process and QEMU that
    /// both die from here on leave a stopped VM with its disks, never one that the next manager takes for a receive that
    /// did not finish (dying right after leaves it paused). Then the exports of the copied disks go (the source ended its
    /// copies before it sent the device state), the guest resumes, and the TLS server objects go.
    /// </summary>
    private async Task CompleteArrivalAsync(QmpClient qmp, bool resume, CancellationToken cancellationToken)
    {
        StateFile.Delete(_environment.FileSystem, Files.Incoming);
        _copiedVolumes = [];
        await CrossHostDiskCopy.StopExportsAsync(qmp, Name, _logger).ConfigureAwait(false);
        if (resume)
        {
            await qmp.ContAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        }

        await MigrationTls.RemoveServerAsync(qmp).ConfigureAwait(false);
    }

    /// <summary>The gate, the hand-over to QEMU, and the wait for the VM's state; on any failure everything goes.</summary>
    private async Task AwaitArrivalAsync(TcpListener listener, RunningQemu running, string token, DateTimeOffset expiresAt, string? sourceHost, CancellationToken cancellationToken)
    {
        var arrived = false;
        try
        {
            Socket stream;
            try
            {
                var accepting = MigrationGate.AcceptAsync(listener, Name, token, expiresAt, _environment.Time, (peer, reason) => Log.MigrationTicketRefused(_logger, Name, peer, reason), cancellationToken);

                // A QEMU that ends before the stream comes (killed while the source copied the disks into its exports, say)
                // ends the wait at once, rather than at the ticket's expiry with its volumes and record still here.
                if (await Task.WhenAny(accepting, running.Exited.Task).ConfigureAwait(false) != accepting)
                {
                    listener.Stop();
                    await ((Task)accepting).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                    throw new VmMigrationException(Name, $"the destination QEMU ended before the source's stream came; its log ends: {ReadLogTail(0)}");
                }

                stream = await accepting.ConfigureAwait(false);
            }
            finally
            {
                // One source only: whatever happened, nobody else gets in.
                listener.Stop();
            }

            var qmp = MonitorOf(running, "receive");

            // Subscribed before the stream is let in, so that no step of it is missed.
            using var migration = qmp.Subscribe(new QmpSubscriptionOptions { EventNames = ["MIGRATION"], Capacity = 64, OverflowPolicy = QmpEventOverflowPolicy.Fail });
            using (stream)
            {
                // Recorded before QEMU gets the stream: from then on QEMU can finish the receive without this process, so
                // a later manager must not take what is here for a receive that never arrived (DiscardUnarrivedAsync).
                await WriteIncomingRecordAsync((CurrentIncomingRecord() ?? new IncomingRecord(expiresAt, sourceHost)) with { HandedOver = true }, cancellationToken).ConfigureAwait(false);
                string? refusal = null;
                try
                {
                    await LiveMigration.SetCapabilityAsync(qmp, MigrateSetCapabilitiesArgumentsCapabilitiesCapability.Events, true, cancellationToken).ConfigureAwait(false);

                    // The source completes only once this side has loaded the whole state (KvmVirtualMachine.MigrateAsync).
                    await LiveMigration.SetCapabilityAsync(qmp, MigrateSetCapabilitiesArgumentsCapabilitiesCapability.ReturnPath, true, cancellationToken).ConfigureAwait(false);
                    await qmp.GetfdAsync(new GetfdArguments { Fdname = IncomingDescriptor }, stream.SafeHandle, cancellationToken: cancellationToken).ConfigureAwait(false);
                    await qmp.MigrateIncomingAsync(new MigrateIncomingArguments { Uri = "fd:" + IncomingDescriptor }, cancellationToken).ConfigureAwait(false);
                }
                catch (QmpException ex)
                {
                    refusal = $"the destination QEMU did not take the stream ('{ex.Command}': {ex.Description})";
                }

                await MigrationGate.AnswerAsync(stream, refusal, cancellationToken).ConfigureAwait(false);
                if (refusal is not null)
                {
                    throw new VmMigrationException(Name, refusal);
                }
            }

            await WaitForStateAsync(migration, cancellationToken).ConfigureAwait(false);
            arrived = true;
            await CompleteArrivalAsync(qmp, resume: true, CancellationToken.None).ConfigureAwait(false);
            _state = VmState.Running;
            _incomingCancel = null;
            Log.VmArrived(_logger, Name, sourceHost ?? "another host", running.Record.Pid);
            _events.Publish(new VmEvent(Name, VmEventKind.Migrated, _environment.Time.GetUtcNow(), $"from {sourceHost ?? "another host"}"));
        }
        catch (Exception ex) when (arrived)
        {
            // QEMU has the whole VM: whatever failed after that (resuming it, removing the exports), this is the VM's copy
            // now, and the source has let go of it. It stays, as it is, no longer marked as a receive; its watcher follows
            // QEMU from here.
            try
            {
                StateFile.Delete(_environment.FileSystem, Files.Incoming);
            }
            catch (IOException)
            {
                // Said below; a start then refuses it until incoming.json is removed by hand, as the refusal says.
            }

            _state = VmState.Paused;
            _incomingCancel = null;
            _copiedVolumes = [];
            Log.ArrivedNotResumed(_logger, Name, ex.Message);
        }
        catch (Exception ex)
        {
            Log.IncomingMigrationFailed(_logger, Name, ex is OperationCanceledException ? "cancelled" : ex.Message);
            await TearDownIncomingAsync(running).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Waits until QEMU has the VM's whole state, from QEMU's MIGRATION events: it reports "completed" only after it has
    /// set the run state, so the guest can be resumed at once. The guest stays paused from the source's switch-over until
    /// then, and the incoming stream runs in QEMU's main loop: nothing polls that loop while the state streams in.
    /// A stream that breaks makes QEMU exit, which ends the events (and this wait).
    /// </summary>
    private async Task WaitForStateAsync(QmpEventSubscription migration, CancellationToken cancellationToken)
    {
        var handedOver = _environment.Time.GetTimestamp();
        var streaming = false;
        while (true)
        {
            QmpEvent? step;
            if (streaming)
            {
                step = await migration.ReadAsync(cancellationToken).ConfigureAwait(false);
            }
            else
            {
                var left = StreamStartTimeout - _environment.Time.GetElapsedTime(handedOver);
                try
                {
                    step = await migration.ReadAsync(cancellationToken).WaitAsync(left > TimeSpan.Zero ? left : TimeSpan.Zero, _environment.Time, cancellationToken).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    throw new VmMigrationException(Name, $"the source's stream did not start within {StreamStartTimeout.TotalSeconds:0} s of the ticket's acceptance (a TLS handshake that failed, e.g. a client certificate not of SourceHost, ends this way; see {Files.Log})");
                }
            }

            if (step is null)
            {
                throw new VmMigrationException(Name, $"the destination QEMU ended before the VM's state was in; its log ends: {ReadLogTail(0)}");
            }

            switch (step.GetString("status"))
            {
                case "completed":
                    return;
                case "failed" or "cancelled":
                    throw new VmMigrationException(Name, $"QEMU reports the incoming stream {step.GetString("status")}; its log ends: {ReadLogTail(0)}");
                case "setup":
                    break;
                default:
                    streaming = true;
                    break;
            }
        }
    }

    /// <summary>
    /// Kills the waiting QEMU, waits for the cleanup after it (taps, ports, volumes, run files), forgets the VM, and
    /// deletes the volumes made for its copied disks.
    /// </summary>
    private async Task TearDownIncomingAsync(RunningQemu running)
    {
        var copiedVolumes = _copiedVolumes ?? CopiedVolumesOfRecord();
        running.KilledByUs = true;
        SignalQemu(running, Interop.LibC.SigKill);
        await ((Task)running.Exited.Task.WaitAsync(TimeSpan.FromSeconds(60), _environment.Time)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _state = VmState.Stopped;
        await _environment.Forget(this).ConfigureAwait(false);
        await CopiedVolumes.DeleteAsync(_environment.Volumes, copiedVolumes, Name, _logger).ConfigureAwait(false);
        _copiedVolumes = [];
    }

    /// <summary>
    /// Whether incoming.json says a receive began here and never got as far as handing the source's stream to QEMU: only
    /// then is what is here certainly not the VM's only copy. An unreadable record counts as handed over (kept).
    /// </summary>
    private bool UnarrivedBeforeHandOver() => ReadIncomingRecord() is { HandedOver: false };

    /// <summary>
    /// A VM whose receive began but never finished here (incoming.json is still there, its QEMU gone) is not started: its
    /// disks may be a partial copy. Says what to do.
    /// </summary>
    private void RefuseStartOfUnfinishedReceive()
    {
        if (!_environment.FileSystem.File.Exists(Files.Incoming))
        {
            return;
        }

        var source = ReadIncomingRecord()?.SourceHost ?? "the source host";
        throw new VmStateException(Name, "start", _state, $"it was being received from {source} when its QEMU ended, after the source's stream had begun, so its disks here may be a partial copy: if the VM runs on {source} (or its copy there is whole), delete it here (DeleteAsync, which also deletes the volumes made for the copy); if the migration completed (the source reported it completed and no longer has the VM), remove {Files.Incoming} and start it");
    }

    /// <summary>Deletes the volumes a receive that never finished made here (incoming.json names them); for a delete of the VM.</summary>
    /// <exception cref="VmException">A volume could not be deleted: the VM is kept, with its record, to delete again.</exception>
    internal async Task DeleteVolumesOfUnfinishedReceiveAsync()
    {
        if (_environment.FileSystem.File.Exists(Files.Incoming)
            && !await CopiedVolumes.DeleteAsync(_environment.Volumes, CopiedVolumesOfRecord(), Name, _logger).ConfigureAwait(false))
        {
            throw new VmException(VirtErrorKind.Failed, $"VM '{Name}' was being received from another host, and not every volume made here for its copied disks could be deleted (see the log, event 2315; without storage registered in this process none can be): it is kept, with {Files.Incoming}, so that a delete from a process with the storage registered finishes it");
        }
    }

    /// <summary>The volumes incoming.json names (a receive that an earlier process started).</summary>
    private IReadOnlyList<VolumeId> CopiedVolumesOfRecord()
    {
        try
        {
            return ReadIncomingRecord()?.Volumes() ?? [];
        }
        catch (Exception error) when (error is FormatException or ArgumentException)
        {
            return [];
        }
    }

    /// <summary>The source host a VM waiting here is to come from, as incoming.json records it; null when it is not waiting.</summary>
    public string? IncomingSourceHost() => IsIncoming ? CurrentIncomingRecord()?.SourceHost : null;

    /// <summary>incoming.json as this process wrote it, or as the file says (a receive an earlier process started).</summary>
    private IncomingRecord? CurrentIncomingRecord() => _incomingRecord ?? ReadIncomingRecord();

    private IncomingRecord? ReadIncomingRecord()
    {
        try
        {
            return JsonSerializer.Deserialize(_environment.FileSystem.File.ReadAllBytes(Files.Incoming), KvmJsonContext.Default.IncomingRecord);
        }
        catch (Exception error) when (error is IOException or JsonException)
        {
            return null;
        }
    }

    /// <summary>Writes incoming.json (crash-safely) and keeps it as this process's record of the receive.</summary>
    private async Task WriteIncomingRecordAsync(IncomingRecord record, CancellationToken cancellationToken)
    {
        await StateFile.WriteAsync(_environment.FileSystem, Files.Incoming, JsonSerializer.SerializeToUtf8Bytes(record, KvmJsonContext.Default.IncomingRecord), OwnerOnly.FileMode, cancellationToken).ConfigureAwait(false);
        _incomingRecord = record;
    }

    /// <summary>
    /// A receive that never arrived, found by a manager after the process that ran it ended: incoming.json is there, but no
    /// QEMU (it died unwatched, or never started). The VM is still the source's, and what was made here may be a partial
    /// copy: the cleanup after a dead QEMU (if one ran), then every volume made for the copied disks, then the VM's
    /// definition and directory go, as a failed receive takes them. The caller owns the VM.
    /// </summary>
    private async Task DiscardUnarrivedAsync(VmRuntimeRecord? record, CancellationToken cancellationToken)
    {
        if (record is not null)
        {
            _lastExit = await CleanUpAfterDeadQemuAsync(record, "while no manager was watching, before the VM it was receiving had arrived", cancellationToken).ConfigureAwait(false);
        }
        else
        {
            // The process died before the run's record was written: what a start takes before that (ports, volume locks)
            // is given back by name.
            await ReleaseNetworkPortsAsync().ConfigureAwait(false);
            await ReleaseVolumesAsync().ConfigureAwait(false);
        }

        var volumes = CopiedVolumesOfRecord();
        if (!await CopiedVolumes.DeleteAsync(_environment.Volumes, volumes, Name, _logger).ConfigureAwait(false))
        {
            // Kept, with its record, so that the next manager (one with the storage registered) deletes what is left.
            _state = VmState.Stopped;
            return;
        }

        // The spec first: its absence is what every manager reads as "not defined here".
        _environment.FileSystem.File.Delete(Files.Spec);
        try
        {
            _environment.FileSystem.Directory.Delete(Files.Directory, recursive: true);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            // The next create of this name clears what is left (ClearLeftovers).
        }

        _state = VmState.Stopped;
        _copiedVolumes = [];
        Log.UnarrivedReceiveDiscarded(_logger, Name, volumes.Count);
    }
}
