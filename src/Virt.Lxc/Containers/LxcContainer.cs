using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Virt.Containers;
using Virt.IO;
using Virt.Lxc.CommandSocket;
using Virt.Lxc.Config;
using Virt.Lxc.Exec;
using Virt.Lxc.Files;
using Virt.Lxc.Host;
using Virt.Lxc.Hosting;
using Virt.Lxc.Limits;
using Virt.Processes;

namespace Virt.Lxc.Containers;

/// <summary>
/// One LXC container. State comes from LXC itself (the command socket), never from memory, so a new
/// process — or a new manager — sees the same container the old one left running. Forking work runs
/// as <c>lxc-*</c> child processes; limits, statistics and the freezer go straight to cgroupfs.
/// </summary>
internal sealed class LxcContainer : IContainer
{
    private static readonly TimeSpan ToolSlack = TimeSpan.FromSeconds(30);

    /// <summary>How much of the end of the start log is read for its errors: LXC's monitor keeps writing it while the container runs.</summary>
    private const int MaxStartLogBytes = 1024 * 1024;

    /// <summary>How long a start or a failed start waits for LXC's monitor to leave its cgroups before removing them.</summary>
    private static readonly TimeSpan LeftoverSettle = TimeSpan.FromSeconds(3);
    private readonly LxcContext _context;
    private readonly ContainerRecord _record;
    private readonly ContainerPaths _paths;
    private readonly SemaphoreSlim _lifecycle;

    public LxcContainer(LxcContext context, ContainerRecord record, SemaphoreSlim lifecycle)
    {
        _context = context;
        _record = record;
        _paths = context.PathsOf(record.Spec.Name);
        _lifecycle = lifecycle;
    }

    public string Name => _record.Spec.Name;

    public ContainerSpec Spec => _record.Spec;

    private LxcOptions Options => _context.Options;

    public async Task StartAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var deadline = timeout ?? Options.StartTimeout;
        await _lifecycle.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // One connect tells both: a running container (its init answers) and a squatter on the name.
            var holder = await LxcCommandClient.FindHolderAsync(Options, Name, cancellationToken).ConfigureAwait(false);
            using (holder.Init)
            {
                if (holder.Init is not null)
                {
                    throw new ContainerStateException(Name, "start", ContainerState.Running, "it is already running; stop it first");
                }
            }

            if (holder.Squatter is { } squatter)
            {
                // LXC could not bind the name and would fail with a bare "address in use".
                throw new ContainerPreflightException(Name, [$"its command socket @{LxcCommandClient.SocketName(Options.LxcPath, Name)} is already held by another program ({squatter}), which is not LXC's monitor: stop that process (a local user squatting the name) and start again"]);
            }

            // A clustered container starts only on its owner node while that node holds its lease (the gate says why not).
            if (_context.StartGate is { } gate)
            {
                await gate.CheckStartAsync(Virt.Clustering.ClusterGuestKind.Container, Name, cancellationToken).ConfigureAwait(false);
            }

            var appArmor = _context.AppArmorEnabled;
            var problems = Preflight.Check(_context, _record);
            if (problems.Count > 0)
            {
                throw new ContainerPreflightException(Name, problems);
            }

            ManagedNics.RequireBackend(_context, Spec);
            await Leftovers.RemoveAsync(_context, Spec, LeftoverSettle, thorough: false, cancellationToken).ConfigureAwait(false);

            // Ports a crash left are released with the other leftovers; then this run's are prepared, their rules in force before it starts.
            await ManagedNics.ReleaseAsync(_context, Spec).ConfigureAwait(false);
            var networkPorts = await ManagedNics.PrepareAsync(_context, Spec, StartLogPath, cancellationToken).ConfigureAwait(false);
            try
            {
                await StartPreparedAsync(appArmor, networkPorts, deadline, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                await ManagedNics.ReleaseAsync(_context, Spec).ConfigureAwait(false);
                throw;
            }
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    /// <summary>Writes the config, runs lxc-start, connects the managed NICs' host ends and checks the container runs with its limits.</summary>
    private async Task StartPreparedAsync(bool appArmor, IReadOnlyDictionary<int, Virt.Networking.NetworkPort> networkPorts, TimeSpan deadline, CancellationToken cancellationToken)
    {
        var config = ContainerConfigBuilder.Build(_record, _paths, _context.Layout, Options, appArmor, _context.FileSystem, networkPorts, out var limitKeys);
        var unsupported = config.Entries.Select(entry => entry.Key).Distinct(StringComparer.Ordinal).Where(key => !Interop.LibLxc.IsSupported(key)).ToList();
        if (unsupported.Count > 0)
        {
            throw new ContainerPreflightException(Name, [$"the installed LXC {Interop.LibLxc.Version()} does not support {string.Join(", ", unsupported)}: drop what needs them from the spec, or install an LXC that has them"]);
        }
        var content = Encoding.UTF8.GetBytes(config.Serialize());
        if (!IsConfigUnchanged(content))
        {
            await StateFile.WriteAsync(_context.FileSystem, _paths.Config, content, OwnerOnly.FileMode, cancellationToken).ConfigureAwait(false);
        }

        _context.FileSystem.Directory.CreateDirectory(_paths.Logs);

        var started = Stopwatch.GetTimestamp();
        await RunLxcStartAsync(deadline, cancellationToken).ConfigureAwait(false);
        try
        {
            // lxc-start returns once the container runs, so the veths' host ends exist now.
            await ManagedNics.ConnectAsync(_context, Spec, cancellationToken).ConfigureAwait(false);
            using var init = await LxcCommandClient.OpenInitAsync(Options, Name, cancellationToken).ConfigureAwait(false)
                ?? throw new ContainerStartException(Name, ContainerStartFailure.Init, "it stopped right after starting: its init exited; see the console log", StartLogPath, string.Empty);
            VerifyLimits(init.Pid, limitKeys);
            Log.Started(_context.Logger, Name, init.Pid, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            _context.Events.Publish(Name, ContainerState.Running);
        }
        catch
        {
            await KillQuietlyAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// The config is regenerated at every start; an unchanged one is not rewritten (no fsync on the start path).
    /// The file is a few KB of the SDK's own, read synchronously: an asynchronous file read on Linux is a
    /// blocking read handed to the thread pool, one more wake-up on a loaded host for no gain.
    /// </summary>
    private bool IsConfigUnchanged(byte[] content)
    {
        try
        {
            return _context.FileSystem.File.ReadAllBytes(_paths.Config).AsSpan().SequenceEqual(content);
        }
        catch (Exception exception) when (exception is FileNotFoundException or DirectoryNotFoundException)
        {
            return false;
        }
    }

    private string StartLogPath => Path.Combine(_paths.Logs, "start.log");

    private async Task RunLxcStartAsync(TimeSpan deadline, CancellationToken cancellationToken)
    {
        // A fresh log per start: its ERROR lines are the cause when LXC says only "ABORTING".
        _context.FileSystem.File.Delete(StartLogPath);
        ProcessResult result;
        try
        {
            result = await _context.RunToolAsync("lxc-start", Name, ["-d", "-l", "WARN", "-o", StartLogPath], deadline, cancellationToken).ConfigureAwait(false);
        }
        catch (ProcessTimeoutException)
        {
            await KillQuietlyAsync().ConfigureAwait(false);
            throw new ContainerStartException(Name, ContainerStartFailure.Timeout, $"it did not reach running within {deadline.TotalSeconds:0.###} s and was killed: raise the start timeout, or see the log", StartLogPath, await ReadStartLogErrorsAsync().ConfigureAwait(false));
        }
        catch (OperationCanceledException)
        {
            await KillQuietlyAsync().ConfigureAwait(false);
            throw;
        }

        if (result.ExitCode != 0)
        {
            var errors = LxcLog.Errors(_context.FileSystem.File.Exists(StartLogPath) ? await LogTail.ReadTextAsync(_context.FileSystem, StartLogPath, MaxStartLogBytes, CancellationToken.None).ConfigureAwait(false) : result.StandardError);
            var (failure, message) = LxcLog.Diagnose(errors);
            await Leftovers.RemoveAsync(_context, Spec, LeftoverSettle, thorough: true, CancellationToken.None).ConfigureAwait(false);
            throw new ContainerStartException(Name, failure, message, StartLogPath, string.Join('\n', errors));
        }
    }

    private async Task<string> ReadStartLogErrorsAsync() =>
        string.Join('\n', LxcLog.Errors(await LogTail.ReadTextAsync(_context.FileSystem, StartLogPath, MaxStartLogBytes, CancellationToken.None).ConfigureAwait(false)));

    private void VerifyLimits(int pid, IReadOnlyDictionary<CgroupLimit, string> limitKeys)
    {
        if (limitKeys.Count == 0)
        {
            return;
        }

        var cgroups = ContainerCgroups.ForProcess(_context.FileSystem, _context.Layout, pid);
        var mismatches = LimitVerifier.FindMismatches(limitKeys, cgroups);
        if (mismatches.Count == 0)
        {
            return;
        }

        if (Options.LimitEnforcement == LxcLimitEnforcement.Warn)
        {
            Log.LimitsIgnored(_context.Logger, Name, string.Join("; ", mismatches));
            return;
        }

        throw new ContainerLimitException(Name, mismatches);
    }

    public async Task StopAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var seconds = Math.Max(1, (int)Math.Ceiling(timeout.TotalSeconds));
        await StopWithAsync(["-t", seconds.ToString(CultureInfo.InvariantCulture)], timeout + ToolSlack, cancellationToken).ConfigureAwait(false);
    }

    public Task KillAsync(CancellationToken cancellationToken = default) => StopWithAsync(["-k"], ToolSlack, cancellationToken);

    private async Task StopWithAsync(string[] arguments, TimeSpan toolTimeout, CancellationToken cancellationToken)
    {
        await _lifecycle.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using (var init = await LxcCommandClient.OpenInitAsync(Options, Name, cancellationToken).ConfigureAwait(false))
            {
                if (init is null)
                {
                    // Stopped already (or crashed): what it left goes now, its network ports included.
                    await Leftovers.RemoveAsync(_context, Spec, TimeSpan.Zero, thorough: false, cancellationToken).ConfigureAwait(false);
                    await ManagedNics.ReleaseAsync(_context, Spec).ConfigureAwait(false);
                    return;
                }

                // A frozen container cannot run its halt handler, and SIGKILL is not delivered until it thaws.
                await ThawIfFrozenAsync(init, cancellationToken).ConfigureAwait(false);
            }

            var result = await _context.RunToolAsync("lxc-stop", Name, arguments, toolTimeout, cancellationToken).ConfigureAwait(false);
            var state = await LxcCommandClient.GetStateAsync(Options, Name, cancellationToken).ConfigureAwait(false);
            if (state != ContainerState.Stopped)
            {
                throw new ContainerException(VirtErrorKind.Failed, $"container '{Name}' is still {state.ToString().ToLowerInvariant()} after lxc-stop (exit {result.ExitCode}: {result.StandardError.Trim()}): try KillAsync");
            }

            await Leftovers.RemoveAsync(_context, Spec, TimeSpan.Zero, thorough: false, cancellationToken).ConfigureAwait(false);
            await ManagedNics.ReleaseAsync(_context, Spec).ConfigureAwait(false);
            Log.Stopped(_context.Logger, Name);
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    private async Task ThawIfFrozenAsync(ContainerInitProcess init, CancellationToken cancellationToken)
    {
        var cgroups = ContainerCgroups.ForProcess(_context.FileSystem, _context.Layout, init.Pid);
        if (init.IsAlive && cgroups.IsFrozen())
        {
            await cgroups.SetFrozenAsync(false, TimeSpan.FromSeconds(10), Name, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task KillQuietlyAsync()
    {
        try
        {
            await _context.RunToolAsync("lxc-stop", Name, ["-k"], ToolSlack, CancellationToken.None).ConfigureAwait(false);
            await Leftovers.RemoveAsync(_context, Spec, LeftoverSettle, thorough: true, CancellationToken.None).ConfigureAwait(false);
        }
        catch (VirtException)
        {
            // The original error is what the caller needs; leftovers are cleaned at the next start or delete.
        }
    }

    public async Task RebootAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        int before;
        using (var init = await RequireRunningAsync("reboot", cancellationToken).ConfigureAwait(false))
        {
            before = init.Pid;
        }

        var result = await _context.RunToolAsync("lxc-stop", Name, ["-r", "-t", Math.Max(1, (int)Math.Ceiling(timeout.TotalSeconds)).ToString(CultureInfo.InvariantCulture)], timeout + ToolSlack, cancellationToken).ConfigureAwait(false);
        result.EnsureSuccess();
        var until = _context.Time.GetUtcNow() + timeout;
        while (true)
        {
            var pid = await LxcCommandClient.GetInitPidAsync(Options, Name, cancellationToken).ConfigureAwait(false);
            if (pid is not null && pid != before && await LxcCommandClient.GetStateAsync(Options, Name, cancellationToken).ConfigureAwait(false) == ContainerState.Running)
            {
                _context.Events.Publish(Name, ContainerState.Running);
                return;
            }

            if (_context.Time.GetUtcNow() > until)
            {
                throw new TimeoutException($"container '{Name}' did not run again within {timeout.TotalSeconds:0.###} s of a reboot: see its console log");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(20), cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task FreezeAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var cgroups = await CgroupsAsync("freeze", cancellationToken).ConfigureAwait(false);
        _context.Events.Publish(Name, ContainerState.Freezing);
        await cgroups.SetFrozenAsync(true, timeout, Name, cancellationToken).ConfigureAwait(false);
        _context.Events.Publish(Name, ContainerState.Frozen);
    }

    public async Task UnfreezeAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var cgroups = await CgroupsAsync("thaw", cancellationToken).ConfigureAwait(false);
        await cgroups.SetFrozenAsync(false, timeout, Name, cancellationToken).ConfigureAwait(false);
        _context.Events.Publish(Name, ContainerState.Thawed);
    }

    public async Task<ContainerStatus> GetStatusAsync(CancellationToken cancellationToken = default)
    {
        var state = await LxcCommandClient.GetStateAsync(Options, Name, cancellationToken).ConfigureAwait(false);
        if (state == ContainerState.Stopped)
        {
            return new ContainerStatus(state, null);
        }

        using var init = await LxcCommandClient.OpenInitAsync(Options, Name, cancellationToken).ConfigureAwait(false);
        if (init is null)
        {
            // It stopped between the two requests.
            return new ContainerStatus(ContainerState.Stopped, null);
        }

        if (state == ContainerState.Running && ContainerCgroups.ForProcess(_context.FileSystem, _context.Layout, init.Pid).IsFrozen() && init.IsAlive)
        {
            // The SDK freezes through cgroupfs, which LXC's own state does not see.
            state = ContainerState.Frozen;
        }

        return new ContainerStatus(state, init.Pid);
    }

    public async Task<ContainerStats> GetStatsAsync(CancellationToken cancellationToken = default)
    {
        var cgroups = await CgroupsAsync("read the statistics of", cancellationToken).ConfigureAwait(false);
        var memory = cgroups.ReadNumber("memory", "memory.usage_in_bytes", "memory.current") ?? 0;
        var limit = cgroups.ReadNumber("memory", "memory.limit_in_bytes", "memory.max");
        var cpu = cgroups.IsV1("cpuacct")
            ? TimeSpan.FromTicks((cgroups.ReadNumber("cpuacct", "cpuacct.usage", "cpu.stat") ?? 0) / 100)
            : TimeSpan.FromMicroseconds(cgroups.ReadKeyed("cpu", "cpu.stat", "cpu.stat", "usage_usec") ?? 0);
        var pids = (int)(cgroups.ReadNumber("pids", "pids.current", "pids.current") ?? 0);
        long received = 0;
        long sent = 0;
        for (var i = 0; i < Spec.Network.Count; i++)
        {
            // The host end of a veth counts the other way round: what it receives, the container sent.
            var statistics = $"/sys/class/net/{_paths.HostInterfaceName(i)}/statistics/";
            if (Spec.Network[i].Kind == ContainerNicKind.Veth && _context.FileSystem.Directory.Exists(statistics))
            {
                sent += long.Parse((await _context.FileSystem.File.ReadAllTextAsync(statistics + "rx_bytes", cancellationToken).ConfigureAwait(false)).Trim(), CultureInfo.InvariantCulture);
                received += long.Parse((await _context.FileSystem.File.ReadAllTextAsync(statistics + "tx_bytes", cancellationToken).ConfigureAwait(false)).Trim(), CultureInfo.InvariantCulture);
            }
        }

        // v1 reports "unlimited" as a huge page-rounded number, v2 as "max" (not a number).
        return new ContainerStats(memory, limit is null or >= long.MaxValue / 2 ? null : limit, cpu, pids, received, sent);
    }

    public async Task<ContainerExecResult> ExecAsync(ContainerExecRequest request, CancellationToken cancellationToken = default)
    {
        ContainerSpecValidator.ValidateExecRequest(request);

        // lxc-attach asks the command socket for the init and enters whatever process it is told (it does not
        // check who answers): with the name free, a local user could bind it and send lxc-attach, run as root,
        // into the host's namespaces. So it runs only while the container's own monitor verifiably holds the
        // name (while the container runs, its monitor holds it and nobody else can bind it). A container that
        // stops in the instant between this check and lxc-attach's connect is the window left.
        using var init = await LxcCommandClient.OpenInitAsync(Options, Name, cancellationToken).ConfigureAwait(false)
            ?? throw new ContainerAttachException(Name, "it is not running: start it first");
        return await LxcAttach.RunAsync(_context.FileSystem, _context.Processes, Options, Name, _paths.Logs, request, cancellationToken).ConfigureAwait(false);
    }

    public async Task PushFileAsync(string path, Stream content, UnixFileMode mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        using var init = await RequireRunningAsync("write a file into", cancellationToken).ConfigureAwait(false);
        await ContainerFileAccess.PushAsync(Name, init, path, content, mode, Spec.Unprivileged ? Options.IdMapBase : 0, cancellationToken).ConfigureAwait(false);
    }

    public async Task PullFileAsync(string path, Stream destination, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        using var init = await RequireRunningAsync("read a file from", cancellationToken).ConfigureAwait(false);
        await ContainerFileAccess.PullAsync(Name, init, path, destination, cancellationToken).ConfigureAwait(false);
    }

    public Task<string> ReadConsoleLogAsync(int maxBytes = 65536, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBytes);
        return LogTail.ReadTextAsync(_context.FileSystem, _paths.ConsoleLog, maxBytes, cancellationToken);
    }

    public async IAsyncEnumerable<ContainerEvent> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var own = _context.Events.Subscribe(Name, out var subscription);
        using var _ = subscription;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var merged = _context.Events.CreateQueue();
        var pump = PumpLxcStatesAsync(merged.Writer, own, stop.Token);
        try
        {
            ContainerState? last = null;
            await foreach (var state in merged.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                if (state != last)
                {
                    last = state;
                    yield return new ContainerEvent(Name, state, _context.Time.GetUtcNow());
                }
            }
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            try
            {
                await pump.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Ended by the watcher.
            }
        }
    }

    /// <summary>
    /// Feeds LXC's pushed states while the container runs; while it is stopped, waits for a start (one
    /// this manager ran wakes it at once; one by another process is noticed within 250 ms) and
    /// subscribes again. The SDK's own freeze/thaw events are merged in.
    /// </summary>
    private async Task PumpLxcStatesAsync(System.Threading.Channels.ChannelWriter<ContainerState> output, System.Threading.Channels.ChannelReader<ContainerState> own, CancellationToken cancellationToken)
    {
        var ownEvents = Task.Run(
            async () =>
            {
                await foreach (var state in own.ReadAllAsync(cancellationToken).ConfigureAwait(false))
                {
                    output.TryWrite(state);
                }
            },
            cancellationToken);
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                var sawStopped = false;
                await foreach (var state in LxcCommandClient.WatchAsync(Options, Name, cancellationToken).ConfigureAwait(false))
                {
                    output.TryWrite(state);
                    sawStopped = state == ContainerState.Stopped;
                }

                if (sawStopped)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(250), cancellationToken).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            output.TryComplete();
            try
            {
                await ownEvents.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Ended with the watcher.
            }
        }
    }

    /// <summary>The running container's init, pinned by a pidfd and checked to be the container's (see <see cref="ContainerInitProcess"/>).</summary>
    private async Task<ContainerInitProcess> RequireRunningAsync(string operation, CancellationToken cancellationToken)
    {
        var state = await LxcCommandClient.GetStateAsync(Options, Name, cancellationToken).ConfigureAwait(false);
        var init = state == ContainerState.Stopped ? null : await LxcCommandClient.OpenInitAsync(Options, Name, cancellationToken).ConfigureAwait(false);
        return init ?? throw new ContainerStateException(Name, operation, ContainerState.Stopped, "start it first");
    }

    private async Task<ContainerCgroups> CgroupsAsync(string operation, CancellationToken cancellationToken)
    {
        using var init = await RequireRunningAsync(operation, cancellationToken).ConfigureAwait(false);
        var cgroups = ContainerCgroups.ForProcess(_context.FileSystem, _context.Layout, init.Pid);

        // Read while the pidfd held the process: had it exited, the pid could have named another process's cgroups.
        return init.IsAlive ? cgroups : throw new ContainerStateException(Name, operation, ContainerState.Stopped, "it stopped meanwhile; start it first");
    }

    internal static async Task<ContainerRecord> ReadRecordAsync(LxcContext context, string name, CancellationToken cancellationToken)
    {
        var json = await context.FileSystem.File.ReadAllBytesAsync(context.PathsOf(name).Record, cancellationToken).ConfigureAwait(false);
        return JsonSerializer.Deserialize(json, LxcJsonContext.Default.ContainerRecord) ?? throw new ContainerException(VirtErrorKind.Failed, $"the record of container '{name}' is empty: delete the container and create it again");
    }
}
