using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Virt.IO;
using Virt.Kvm.Interop;
using Virt.Kvm.Qmp;
using Virt.Kvm.Qmp.Api;
using Virt.Kvm.VirtualMachines.Migration;
using Virt.VirtualMachines;

namespace Virt.Kvm.VirtualMachines;

/// <summary>
/// Live migration. On this host: a second QEMU is started from the same spec in <c>migrate-in-TIME/</c>
/// with <c>-incoming defer</c>, the state goes over a unix socket (or TCP on 127.0.0.1), and once QEMU
/// reports completion the destination is resumed, the source quits, and the destination's sockets are
/// renamed into the VM's directory (a listening unix socket keeps working under its new name), so it
/// becomes the VM of record. To another host: the same source side, sent to the address of a QEMU
/// waiting there; this host's QEMU then ends.
/// </summary>
internal sealed partial class KvmVirtualMachine
{
    private const string IncomingDirectoryPrefix = "migrate-in-";

    public async IAsyncEnumerable<VmMigrationProgress> MigrateAsync(VmMigrationOptions options, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.DestinationUri is { } destinationUri)
        {
            MigrationDestination.Check(Name, destinationUri, options.AllowClearText);
            if (options.Ticket is not null)
            {
                throw new ArgumentException($"VM '{Name}': give either a ticket from the destination host or a DestinationUri, not both", nameof(options));
            }
        }

        using var held = await _lock.AcquireAsync("migrate", cancellationToken).ConfigureAwait(false);
        await RefreshAsync(cancellationToken).ConfigureAwait(false);
        if (_running is not { } running)
        {
            throw new VmStateException(Name, "migrate", _state, "only a running VM can be live-migrated; start it first");
        }

        var local = options.DestinationUri is null && options.Ticket is null;
        if (local && !running.IsOwner)
        {
            // A migration on this host replaces QEMU and moves its sockets: only the process that watches and reaps it may.
            throw new VmStateException(Name, "migrate", _state, $"{DescribeOwner()} owns the VM and watches its QEMU, which a migration on this host replaces; migrate it on this host from that process (any process can migrate it to another host)");
        }

        if (_state == VmState.Incoming)
        {
            throw new VmStateException(Name, "migrate", _state, "it is still being received from another host; wait until it runs here");
        }

        // A process that does not own the VM drives the migration through QEMU's control monitor, held for the whole
        // migration under the operation lock; the owner sees QEMU end and cleans up after it (EndMigratedQemuAsync).
        var monitor = await LeaseMonitorAsync(running, "migrate", cancellationToken).ConfigureAwait(false);
        await using var leased = monitor.ConfigureAwait(false);
        var source = monitor.Client;
        if (local)
        {
            CheckLocallyMigratable();
        }

        // A new name each time: a QEMU that ends unlinks its socket paths, and an earlier destination's
        // paths must not be those of the next one.
        var moves = options.MoveDisks ?? new Dictionary<string, string>();
        if (moves.Count > 0 && !local)
        {
            throw new VmMigrationException(Name, "MoveDisks is for a migration on this host; to another host, disks given by a file path are copied as the destination's ticket plans (IncomingMigrationOptions.LocalDiskSizes)");
        }

        var destinationSpec = StorageMigration.TargetSpec(_environment.FileSystem, Spec, moves, Name);
        var staging = new VmFiles(Path.Combine(Files.Directory, $"{IncomingDirectoryPrefix}{_environment.Time.GetUtcNow().ToUnixTimeMilliseconds()}"));
        (int Pid, QmpClient Qmp)? destination = null;
        string? uri = null;

        // The timeout and the elapsed time cover the whole migration, disk copies to another host included.
        var started = _environment.Time.GetTimestamp();
        VmMigrationProgress? last = null;
        var downtime = options.DowntimeLimit is null ? AdaptiveDowntime.For(running.Record.Accelerator) : null;

        // Until QEMU reports completion, any way out (a failure, a cancellation, a consumer that stops enumerating) takes
        // back everything this migration made: the source runs on as it was. After it, nothing is undone.
        var completed = false;
        var targetsMade = false;
        try
        {
            if (local)
            {
                await StorageMigration.CreateTargetsAsync(_environment.FileSystem, source, _environment.Processes, Name, moves, cancellationToken).ConfigureAwait(false);
                targetsMade = true;
                destination = await StartIncomingAsync(staging, destinationSpec, cancellationToken).ConfigureAwait(false);
                uri = options.UseTcpLocally ? $"tcp:127.0.0.1:{FreeLoopbackPort()}" : $"unix:{Path.Combine(staging.Directory, "migration.sock")}";
                try
                {
                    await destination.Value.Qmp.MigrateIncomingAsync(new MigrateIncomingArguments { Uri = uri }, cancellationToken).ConfigureAwait(false);
                    await StorageMigration.MirrorAsync(source, destination.Value.Qmp, Name, moves.Keys.ToList(), Path.Combine(staging.Directory, "nbd.sock"), options.Timeout, _environment.Time, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not (VirtException or OperationCanceledException))
                {
                    throw new VmMigrationException(Name, $"the destination QEMU did not accept {uri}: {ex.Message}", ex);
                }
            }
            else if (options.Ticket is { } ticket)
            {
                var copies = await PrepareTicketAsync(source, ticket, options, cancellationToken).ConfigureAwait(false);

                // The disks first, while the guest runs: reported as "copying-disks", bytes of the disks.
                while (copies.Count > 0)
                {
                    StorageMigration.CheckMirrorTime(Name, _environment.Time.GetElapsedTime(started), options.Timeout);
                    if (await StorageMigration.MirrorProgressAsync(source, Name, copies.Count, cancellationToken).ConfigureAwait(false) is not { } copying)
                    {
                        await CrossHostDiskCopy.ArmSwitchOverAsync(source, Name, ticket.DestinationHost, cancellationToken).ConfigureAwait(false);
                        break;
                    }

                    yield return new VmMigrationProgress(CopyingDisksStatus, copying.Copied, copying.Total - copying.Copied, copying.Total, _environment.Time.GetElapsedTime(started), null);
                    await Task.Delay(StorageMigration.MirrorPollInterval, _environment.Time, cancellationToken).ConfigureAwait(false);
                }

                uri = await PresentTicketAsync(source, ticket, options, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                uri = options.DestinationUri!;
            }

            if (options.Ticket is null)
            {
                // A VM that once arrived over TLS, or left a failed attempt: clear text is what this migration asked for.
                await MigrationTls.ClearParametersAsync(source, cancellationToken).ConfigureAwait(false);
            }

            // To another host's manager, the destination confirms over the return path that it loaded the whole state
            // before this QEMU calls the migration completed: a destination that fails at the very end then fails the
            // migration here, and the guest resumes on this host, rather than this host letting go of a VM the other
            // could not take (the destination turns it on too). QEMU keeps the capability, so it is set every time.
            await LiveMigration.SetCapabilityAsync(source, MigrateSetCapabilitiesArgumentsCapabilitiesCapability.ReturnPath, options.Ticket is not null, cancellationToken).ConfigureAwait(false);

            // QEMU's total time counts from here; a migration that copied disks first reports theirs on top.
            var beforeQemu = CopiedDiskIds(options).Count > 0 ? _environment.Time.GetElapsedTime(started) : TimeSpan.Zero;
            var qemuStarted = _environment.Time.GetTimestamp();
            await LiveMigration.StartAsync(source, Name, uri, options, downtime, cancellationToken).ConfigureAwait(false);
            while (last?.Completed != true)
            {
                try
                {
                    if (_environment.Time.GetElapsedTime(started) > options.Timeout)
                    {
                        throw new VmMigrationException(Name, $"it did not complete within {options.Timeout}; it was cancelled. Raise the bandwidth or the downtime limit, or quiesce the guest");
                    }

                    if (last is not null)
                    {
                        await Task.Delay(LiveMigration.PollInterval, _environment.Time, cancellationToken).ConfigureAwait(false);
                    }

                    last = Reported(await LiveMigration.PollAsync(source, Name, _environment.Time.GetElapsedTime(qemuStarted), downtime, cancellationToken).ConfigureAwait(false));
                    if (last.Status == "pre-switchover")
                    {
                        // Paused for the disk copies to finish (CrossHostDiskCopy): end them, then let the device state go.
                        await CrossHostDiskCopy.SwitchOverAsync(source, Name, CopiedDiskIds(options), cancellationToken).ConfigureAwait(false);
                    }
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    // Cancelled as QEMU finished: the guest's state is at the destination now, and undoing would lose it.
                    if (await LiveMigration.CompletedReportAsync(source, _environment.Time.GetElapsedTime(qemuStarted)).ConfigureAwait(false) is not { } done)
                    {
                        throw;
                    }

                    last = Reported(done);
                }

                if (!last.Completed)
                {
                    yield return last;
                }
            }

            completed = true;

            // Every report's time counts from the start of the whole migration, disk copies included.
            VmMigrationProgress Reported(VmMigrationProgress report) => report with
            {
                Elapsed = beforeQemu + report.Elapsed,
                DowntimeLimit = downtime is not null ? TimeSpan.FromMilliseconds(downtime.Current) : options.DowntimeLimit,
            };
        }
        finally
        {
            if (!completed)
            {
                // New images only once this migration made them (they were checked not to exist, but not made under a lock).
                await AbandonAsync(running, source, destination, staging, targetsMade ? moves : new Dictionary<string, string>(), options, uri).ConfigureAwait(false);
            }
        }

        if (destination is { } arrived)
        {
            await StorageMigration.FinishAsync(source, arrived.Qmp, moves.Keys.ToList()).ConfigureAwait(false);
            await AdoptIncomingAsync(running, arrived, staging).ConfigureAwait(false);
            if (moves.Count > 0)
            {
                await StoreSpecAsync(destinationSpec).ConfigureAwait(false);
            }
        }
        else if (options.Ticket is not null)
        {
            await HandOverAsync(running, source, options).ConfigureAwait(false);
        }
        else
        {
            // The VM lives on elsewhere now: end this host's copy, which the owner's watch reports as migrated.
            await EndMigratedQemuAsync(running, source, uri!, leavesHost: false).ConfigureAwait(false);
        }

        yield return last;
    }

    /// <summary>
    /// A migration that did not complete as far as this process saw: QEMU's migration cancelled, and nothing of it left: on
    /// this host the destination QEMU and the new images, to another host the disk copies, the stream's descriptor and
    /// the TLS settings. When QEMU had completed it meanwhile (a report not read yet), the guest's state is at the
    /// destination: on this host the source resumes and the never-resumed destination goes; to another host (which resumes
    /// the guest by itself) the hand-over is finished instead. Never throws.
    /// </summary>
    private async Task AbandonAsync(RunningQemu running, QmpClient source, (int Pid, QmpClient Qmp)? destination, VmFiles staging, IReadOnlyDictionary<string, string> moves, VmMigrationOptions options, string? uri)
    {
        var completedMeanwhile = await LiveMigration.CancelAsync(source).ConfigureAwait(false);
        try
        {
            if (completedMeanwhile && destination is null && uri is not null)
            {
                Log.VmWatchFailed(_logger, Name, "the migration completed as it was being cancelled; the VM runs at the destination, and this host's copy ends");
                if (options.Ticket is not null)
                {
                    await HandOverAsync(running, source, options).ConfigureAwait(false);
                }
                else
                {
                    await EndMigratedQemuAsync(running, source, uri, leavesHost: false).ConfigureAwait(false);
                }

                return;
            }

            if (destination is { } incoming)
            {
                await StorageMigration.AbandonAsync(source, moves.Keys.ToList()).ConfigureAwait(false);
                await AbandonIncomingAsync(incoming, staging).ConfigureAwait(false);
                if (completedMeanwhile)
                {
                    // The destination was never resumed: the source, paused after the completed migration, takes the guest back.
                    await source.ContAsync(CancellationToken.None).ConfigureAwait(false);
                }
            }

            StorageMigration.DeleteTargets(_environment.FileSystem, moves);
            await ForgetTicketAsync(source, options).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is VirtException or TimeoutException or IOException)
        {
            Log.VmWatchFailed(_logger, Name, $"taking back an unfinished migration did not finish ({ex.Message}); see the VM's qemu.log");
        }
    }

    /// <summary>The status a migration to another host reports while it copies the disks, before QEMU's own migration starts.</summary>
    internal const string CopyingDisksStatus = "copying-disks";

    /// <summary>The virtual size of each disk a migration to another host copies, as QEMU reports it.</summary>
    public async Task<IReadOnlyDictionary<string, long>> GetLocalDiskSizesAsync(CancellationToken cancellationToken)
    {
        var sizes = new Dictionary<string, long>();
        var hostLocal = await CopiedVolumes.HostLocalAsync(_environment.Volumes, Spec, cancellationToken).ConfigureAwait(false);
        await CopiedVolumes.RequireNoSnapshotsAsync(Name, hostLocal, cancellationToken).ConfigureAwait(false);
        var hostLocalVolumes = hostLocal.Select(volume => volume.Disk).ToList();
        await RunCommandAsync("read disk sizes", async (qmp, ct) =>
        {
            foreach (var disk in Spec.Disks.Where(disk => (CrossHostDiskCopy.IsHostFile(disk) && !disk.ReadOnly) || hostLocalVolumes.Contains(disk)))
            {
                sizes[disk.Id] = (await Virt.Kvm.VirtualMachines.Snapshots.ExternalSnapshots.ActiveNodeAsync(qmp, Name, disk.Id, ct).ConfigureAwait(false)).VirtualSize;
            }
        }, cancellationToken).ConfigureAwait(false);
        return sizes;
    }

    private void CheckLocallyMigratable()
    {
        if (Spec.Tpm)
        {
            throw new VmMigrationException(Name, "VMs with a TPM cannot be migrated on this host yet (swtpm's state would have to move with it)");
        }

        if (_environment.Options.RunAsUser is { } user)
        {
            throw new VmMigrationException(Name, $"QEMU runs as '{user}' (KvmOptions.RunAsUser), and the destination QEMU could not create its migration socket in the VM's private directory after dropping to that user; migrate to another host, or run without RunAsUser");
        }

        if (Spec.Nics.Any(n => n.Backend == VmNicBackend.Bridge))
        {
            throw new VmMigrationException(Name, "bridged NICs hold their tap device, which a second QEMU on this host cannot open; detach them or migrate to another host");
        }
    }

    /// <summary>Starts the destination QEMU from the stored spec with <c>-incoming defer</c>, its files in <paramref name="staging"/>.</summary>
    private async Task<(int Pid, QmpClient Qmp)> StartIncomingAsync(VmFiles staging, VmSpec spec, CancellationToken cancellationToken)
    {
        var fileSystem = _environment.FileSystem;
        if (fileSystem.Directory.Exists(staging.Directory))
        {
            fileSystem.Directory.Delete(staging.Directory, recursive: true);
        }

        OwnerOnly.CreateDirectory(fileSystem, staging.Directory);
        foreach (var (from, to) in new[] { (Files.OvmfVars, staging.OvmfVars), (Files.CloudInitSeed, staging.CloudInitSeed) })
        {
            if (fileSystem.File.Exists(from))
            {
                CopyOwnerOnly(fileSystem, from, to);
            }
        }

        var options = _environment.Options;
        var capabilities = await _environment.Capabilities.GetAsync(options.QemuBinary, options.QemuDataDirectory, cancellationToken).ConfigureAwait(false);
        var accelerator = _running!.Record.Accelerator;
        // The destination's NICs as the source's were made: the same host_mtu, or the guest's driver would not match.
        var nicMtus = await NetworkMtusAsync(spec.Nics, cancellationToken).ConfigureAwait(false);
        var arguments = QemuCommandLine.Build(spec, new QemuLaunchContext(capabilities, accelerator, staging.Directory) { RunAsUser = options.RunAsUser, DataDirectory = options.QemuDataDirectory, NicMtus = nicMtus }).Concat(["-incoming", "defer"]).ToList();
        if (spec.SerialConsole)
        {
            SerialLogFile.EnsureExists(fileSystem, staging.SerialLog);
        }

        int pid;
        try
        {
            pid = _environment.Qemu.Spawn(options.QemuBinary, arguments, staging);
        }
        catch
        {
            fileSystem.Directory.Delete(staging.Directory, recursive: true);
            throw;
        }

        try
        {
            return (pid, await ConnectWhileAliveAsync(pid, 0, cancellationToken, staging).ConfigureAwait(false));
        }
        catch (OperationCanceledException)
        {
            // Cancelled while QEMU was coming up: it still runs (other failures have already ended and reaped it).
            await KillAndReapAsync(pid).ConfigureAwait(false);
            fileSystem.Directory.Delete(staging.Directory, recursive: true);
            throw;
        }
        catch
        {
            fileSystem.Directory.Delete(staging.Directory, recursive: true);
            throw;
        }
    }

    private async Task AbandonIncomingAsync((int Pid, QmpClient Qmp) incoming, VmFiles staging)
    {
        await incoming.Qmp.DisposeAsync().ConfigureAwait(false);
        await KillAndReapAsync(incoming.Pid).ConfigureAwait(false);
        if (_environment.FileSystem.Directory.Exists(staging.Directory))
        {
            _environment.FileSystem.Directory.Delete(staging.Directory, recursive: true);
        }
    }

    /// <summary>Makes the destination the VM of record: resume it, end the source, move its files in, watch it.</summary>
    private async Task AdoptIncomingAsync(RunningQemu source, (int Pid, QmpClient Qmp) arrived, VmFiles staging)
    {
        var subscription = arrived.Qmp.Subscribe(new QmpSubscriptionOptions { Capacity = 1024 });
        await arrived.Qmp.ContAsync(CancellationToken.None).ConfigureAwait(false);

        // The source has handed over: stop watching it and let it go quietly.
        source.BeginDetach();
        if (source.Qmp is { } sourceQmp)
        {
            await sourceQmp.QuitAsync(CancellationToken.None).ConfigureAwait(false);
            await sourceQmp.DisposeAsync().ConfigureAwait(false);
        }

        // The source is signalled only through its process descriptor (or after re-checking its
        // identity on kernels without one): its pid may already belong to another process.
        for (var i = 0; i < 100 && IsAlive(source); i++)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(50), _environment.Time).ConfigureAwait(false);
        }

        if (IsAlive(source) && SignalQemu(source, LibC.SigKill) && source.IsChild)
        {
            await ReapAsync(source).ConfigureAwait(false);
        }

        source.Process?.Dispose();

        foreach (var (from, to) in new[]
        {
            (staging.QmpSocket, Files.QmpSocket), (staging.ControlSocket, Files.ControlSocket), (staging.SerialSocket, Files.SerialSocket), (staging.SerialLog, Files.SerialLog),
            (staging.AgentSocket, Files.AgentSocket), (staging.VncSocket, Files.VncSocket), (staging.OvmfVars, Files.OvmfVars), (staging.Log, Files.Log),
        })
        {
            if (_environment.FileSystem.File.Exists(from))
            {
                _environment.FileSystem.File.Move(from, to, overwrite: true);
            }
        }

        _environment.FileSystem.Directory.Delete(staging.Directory, recursive: true);
        var record = source.Record with
        {
            Pid = arrived.Pid,
            ProcessStartTicks = _environment.Qemu.StartTicks(arrived.Pid) ?? 0,
            StartedAt = _environment.Time.GetUtcNow(),
            QemuVersion = arrived.Qmp.Greeting.Version.ToString(),
        };
        await StateFile.WriteAsync(_environment.FileSystem, Files.Runtime, JsonSerializer.SerializeToUtf8Bytes(record, KvmJsonContext.Default.VmRuntimeRecord), OwnerOnly.FileMode, CancellationToken.None).ConfigureAwait(false);
        await StateFile.WriteAsync(_environment.FileSystem, Files.PidFile, System.Text.Encoding.ASCII.GetBytes(arrived.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture)), OwnerOnly.FileMode, CancellationToken.None).ConfigureAwait(false);
        RestrictSockets();
        // Our unreaped child: the pid is this QEMU's until we collect it.
        var running = new RunningQemu(record, arrived.Qmp, isChild: true, _environment.Qemu.TryOpen(arrived.Pid));
        _running = running;
        _state = VmState.Running;
        _background.Run(() => WatchAsync(running, subscription));
        _background.Run(() => TrimSerialLogAsync(running));
        if (_logger.IsEnabled(LogLevel.Information))
        {
            Log.VmMigrated(_logger, Name, source.Record.Pid, arrived.Pid);
        }

        _events.Publish(new VmEvent(Name, VmEventKind.Migrated, _environment.Time.GetUtcNow(), $"pid {source.Record.Pid} → {arrived.Pid}"));
    }

    private static int FreeLoopbackPort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}
