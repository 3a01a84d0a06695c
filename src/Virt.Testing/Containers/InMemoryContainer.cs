using System.Runtime.CompilerServices;
using System.Text;
using System.Threading.Channels;
using Virt.Containers;

namespace Virt.Testing;

/// <summary>
/// A container of <see cref="InMemoryContainerManager"/>: the LXC backend's state machine (start only when
/// stopped; freeze, exec, files and statistics only while it runs; stop and kill of a stopped container do
/// nothing), its exceptions and its events, with a scriptable <see cref="ExecHandler"/>, an in-memory root
/// file system, settable <see cref="Stats"/> and fault injection (<see cref="Crash"/>, <see cref="FailNextStart"/>).
/// </summary>
public sealed class InMemoryContainer : IContainer
{
    /// <summary>The first init pid handed out; each start and reboot takes the next, as a real new init gets a new pid.</summary>
    private const int FirstInitPid = 10_000;

    private readonly Lock _gate = new();
    private readonly TimeProvider _time;
    private readonly List<Channel<ContainerState>> _watchers = [];
    private readonly StringBuilder _console = new();
    private ContainerState _state = ContainerState.Stopped;
    private int? _initPid;
    private int _lastPid = FirstInitPid - 1;
    private (ContainerStartFailure Failure, string Message)? _nextStartFailure;
    private readonly ManagedNicPorts _networkPorts;

    internal InMemoryContainer(ContainerSpec spec, TimeProvider time, ManagedNicPorts networkPorts)
    {
        Spec = spec;
        _time = time;
        _networkPorts = networkPorts;
        Files = new InMemoryFileTree(spec.Name);
        Stats = new ContainerStats(8L << 20, spec.Limits.MemoryMiB << 20, TimeSpan.Zero, 1, 0, 0);
    }

    /// <inheritdoc/>
    public string Name => Spec.Name;

    /// <inheritdoc/>
    public ContainerSpec Spec { get; }

    /// <summary>The state now (what <see cref="GetStatusAsync"/> reports).</summary>
    public ContainerState State
    {
        get
        {
            lock (_gate)
            {
                return _state;
            }
        }
    }

    /// <summary>
    /// Decides what a command run by <see cref="ExecAsync"/> prints and returns. Return <see langword="null"/>
    /// to leave a command to the built-in ones: <c>echo</c>, <c>true</c>, <c>false</c>, <c>hostname</c>,
    /// <c>cat FILE</c> (from the in-memory tree) and <c>sh -c 'exit N'</c>; any other program is not found.
    /// The token is cancelled when the request's <see cref="ContainerExecRequest.Timeout"/> passes (the call
    /// then throws <see cref="ContainerExecTimeoutException"/>) or the caller cancels.
    /// </summary>
    public Func<ContainerExecRequest, CancellationToken, Task<InMemoryExecResponse?>>? ExecHandler { get; set; }

    /// <summary>What <see cref="GetStatsAsync"/> returns while the container runs; set it to what a test needs.</summary>
    public ContainerStats Stats { get; set; }

    internal InMemoryFileTree Files { get; }

    /// <inheritdoc/>
    /// <remarks>
    /// NICs on managed networks join them as with the LXC backend: prepared before the start (a refusal fails it with
    /// <see cref="ContainerStartException"/>, no backend with <see cref="ContainerPreflightException"/>), connected once it
    /// runs, released when a start fails.
    /// </remarks>
    public async Task StartAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        RequireStopped();
        await _networkPorts.JoinAsync(ManagedNicPorts.Of(Spec), NetworkFailure, cancellationToken).ConfigureAwait(false);
        try
        {
            StartNow();
        }
        catch (ContainerStartException)
        {
            await _networkPorts.ReleaseAsync(PortOwner).ConfigureAwait(false);
            throw;
        }
    }

    private string PortOwner => "ct:" + Name;

    private Exception NetworkFailure(Virt.Networking.NetworkPortRequest request, string reason, Exception? inner) => inner is null
        ? new ContainerPreflightException(Name, [reason])
        : new ContainerStartException(Name, ContainerStartFailure.MissingNetworkLink, reason, $"/nonexistent/{Name}/logs/start.log", string.Empty);

    private void RequireStopped()
    {
        lock (_gate)
        {
            if (_state != ContainerState.Stopped)
            {
                // The LXC backend sees an init pid and reports "running", frozen or not.
                throw new ContainerStateException(Name, "start", ContainerState.Running, "it is already running; stop it first");
            }
        }
    }

    private void StartNow()
    {
        lock (_gate)
        {
            if (_state != ContainerState.Stopped)
            {
                throw new ContainerStateException(Name, "start", ContainerState.Running, "it is already running; stop it first");
            }

            Publish(ContainerState.Starting);
            if (_nextStartFailure is { } failure)
            {
                _nextStartFailure = null;
                Publish(ContainerState.Aborting);
                Publish(ContainerState.Stopped);
                throw new ContainerStartException(Name, failure.Failure, failure.Message, $"/nonexistent/{Name}/logs/start.log", failure.Message);
            }

            Publish(ContainerState.Running);
        }
    }

    /// <inheritdoc/>
    /// <remarks>Releases the container's ports on managed networks, also after a crash (as the LXC backend's stop does).</remarks>
    public Task StopAsync(TimeSpan timeout, CancellationToken cancellationToken = default) => StopAsync();

    /// <inheritdoc/>
    /// <remarks>Releases the container's ports on managed networks.</remarks>
    public Task KillAsync(CancellationToken cancellationToken = default) => StopAsync();

    /// <inheritdoc/>
    /// <remarks>A frozen container is refused here; the LXC backend would wait for it until the timeout.</remarks>
    public Task RebootAsync(TimeSpan timeout, CancellationToken cancellationToken = default) =>
        WhileRunning("reboot", allowFrozen: false, ContainerState.Stopping, ContainerState.Starting, ContainerState.Running);

    /// <inheritdoc/>
    public Task FreezeAsync(TimeSpan timeout, CancellationToken cancellationToken = default) =>
        WhileRunning("freeze", allowFrozen: true, ContainerState.Freezing, ContainerState.Frozen);

    /// <inheritdoc/>
    /// <remarks>As with the LXC backend, thawing a running container that is not frozen does no harm; watchers see <see cref="ContainerState.Thawed"/> and the state is <see cref="ContainerState.Running"/>.</remarks>
    public Task UnfreezeAsync(TimeSpan timeout, CancellationToken cancellationToken = default) =>
        WhileRunning("thaw", allowFrozen: true, ContainerState.Thawed);

    /// <inheritdoc/>
    public Task<ContainerStatus> GetStatusAsync(CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            return Task.FromResult(new ContainerStatus(_state, _initPid));
        }
    }

    /// <inheritdoc/>
    public Task<ContainerStats> GetStatsAsync(CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            RequireRunning("read the statistics of", allowFrozen: true);
            return Task.FromResult(Stats);
        }
    }

    /// <inheritdoc/>
    /// <remarks>A frozen container runs nothing: the call throws <see cref="ContainerExecTimeoutException"/> at once, where the LXC backend's command would hang until its timeout.</remarks>
    public Task<ContainerExecResult> ExecAsync(ContainerExecRequest request, CancellationToken cancellationToken = default)
    {
        ContainerSpecValidator.ValidateExecRequest(request);
        lock (_gate)
        {
            if (_state == ContainerState.Stopped)
            {
                throw new ContainerAttachException(Name, "it is not running: start it first");
            }

            if (_state == ContainerState.Frozen)
            {
                throw new ContainerExecTimeoutException(Name, string.Join(' ', request.Command), request.Timeout);
            }
        }

        return InMemoryExec.RunAsync(this, request, ExecHandler, _time, cancellationToken);
    }

    /// <inheritdoc/>
    public async Task PushFileAsync(string path, Stream content, UnixFileMode mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        RequireRunningNow("write a file into");
        using var buffer = new MemoryStream();
        await content.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
        Files.Write(path, buffer.ToArray(), mode);
    }

    /// <inheritdoc/>
    public async Task PullFileAsync(string path, Stream destination, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        RequireRunningNow("read a file from");
        await destination.WriteAsync(Files.Read(path), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public Task<string> ReadConsoleLogAsync(int maxBytes = 65536, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBytes);
        lock (_gate)
        {
            var bytes = Encoding.UTF8.GetBytes(_console.ToString());
            return Task.FromResult(Encoding.UTF8.GetString(bytes, Math.Max(0, bytes.Length - maxBytes), Math.Min(bytes.Length, maxBytes)));
        }
    }

    /// <inheritdoc/>
    /// <remarks>The first event is the state now; a state is not repeated back to back; the stream ends when the container is deleted.</remarks>
    public async IAsyncEnumerable<ContainerEvent> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var channel = Channel.CreateUnbounded<ContainerState>(new UnboundedChannelOptions { SingleReader = true });
        lock (_gate)
        {
            channel.Writer.TryWrite(_state);
            _watchers.Add(channel);
        }

        try
        {
            ContainerState? last = null;
            await foreach (var state in channel.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                if (state != last)
                {
                    last = state;
                    yield return new ContainerEvent(Name, state, _time.GetUtcNow());
                }
            }
        }
        finally
        {
            lock (_gate)
            {
                _watchers.Remove(channel);
            }
        }
    }

    /// <summary>Makes the container's init exit (as a crashed or halted init would): it goes to <see cref="ContainerState.Stopped"/> and watchers see it stop.</summary>
    /// <param name="consoleMessage">A line for the console log, where the real container's last words would be.</param>
    /// <remarks>As with the LXC backend, which no process watches, its ports on managed networks stay until it is stopped, started again or deleted.</remarks>
    public void Crash(string consoleMessage = "injected crash")
    {
        lock (_gate)
        {
            _console.Append(consoleMessage).Append('\n');
            StopNow();
        }
    }

    /// <summary>Makes the next <see cref="StartAsync"/> fail with <see cref="ContainerStartException"/>, as LXC does when it cannot start a container; the container stays stopped.</summary>
    /// <param name="failure">The cause the exception reports.</param>
    /// <param name="message">What LXC "said".</param>
    public void FailNextStart(ContainerStartFailure failure, string message = "injected start failure")
    {
        lock (_gate)
        {
            _nextStartFailure = (failure, message);
        }
    }

    /// <summary>Appends text to the console log (what <see cref="ReadConsoleLogAsync"/> returns), as the container's init would print it.</summary>
    /// <param name="text">The text.</param>
    public void WriteConsole(string text)
    {
        lock (_gate)
        {
            _console.Append(text);
        }
    }

    /// <summary>Writes a file into the root file system in any state (to set a test up); its directory must exist.</summary>
    /// <param name="path">The absolute path inside the container.</param>
    /// <param name="content">The content.</param>
    /// <exception cref="ContainerPathException">The path is refused, its directory is missing, or it names a directory.</exception>
    public void WriteFile(string path, ReadOnlySpan<byte> content) => Files.Write(path, content.ToArray(), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

    /// <summary>Reads a file of the root file system in any state (to check what code under test wrote).</summary>
    /// <param name="path">The absolute path inside the container.</param>
    /// <returns>The content.</returns>
    /// <exception cref="ContainerPathException">The path is refused, missing or a directory.</exception>
    public byte[] ReadFile(string path) => Files.Read(path);

    /// <summary>Creates a directory (and its parents) in the root file system, in any state.</summary>
    /// <param name="path">The absolute path inside the container.</param>
    /// <exception cref="ContainerPathException">The path is refused or a file is in the way.</exception>
    public void CreateDirectory(string path) => Files.CreateDirectory(path);

    /// <summary>Ends every watch (the container was deleted).</summary>
    internal void Complete()
    {
        lock (_gate)
        {
            foreach (var watcher in _watchers)
            {
                watcher.Writer.TryComplete();
            }
        }
    }

    /// <summary>Stopping a stopped container does nothing, as with the LXC backend: the caller's goal already holds. A frozen one is stopped too (the backend thaws it first).</summary>
    private async Task StopAsync()
    {
        lock (_gate)
        {
            StopNow();
        }

        await _networkPorts.ReleaseAsync(PortOwner).ConfigureAwait(false);
    }

    private void StopNow()
    {
        if (_state != ContainerState.Stopped)
        {
            Publish(ContainerState.Stopping);
            Publish(ContainerState.Stopped);
            _initPid = null;
        }
    }

    /// <summary>Goes through <paramref name="states"/> if the container runs, else throws what the backend throws.</summary>
    private Task WhileRunning(string operation, bool allowFrozen, params ReadOnlySpan<ContainerState> states)
    {
        lock (_gate)
        {
            RequireRunning(operation, allowFrozen);
            foreach (var state in states)
            {
                Publish(state);
            }
        }

        return Task.CompletedTask;
    }

    private void RequireRunningNow(string operation)
    {
        lock (_gate)
        {
            RequireRunning(operation, allowFrozen: true);
        }
    }

    /// <summary>Throws what the LXC backend throws for an operation that needs a running init.</summary>
    private void RequireRunning(string operation, bool allowFrozen)
    {
        if (_state == ContainerState.Stopped)
        {
            throw new ContainerStateException(Name, operation, ContainerState.Stopped, "start it first");
        }

        if (_state == ContainerState.Frozen && !allowFrozen)
        {
            throw new ContainerStateException(Name, operation, ContainerState.Frozen, "thaw it first");
        }
    }

    /// <summary>Enters a state and tells every watcher, under the lock, so each sees the states in order. A start gives a new init its own pid.</summary>
    private void Publish(ContainerState state)
    {
        if (state == ContainerState.Running && _state == ContainerState.Starting)
        {
            _initPid = ++_lastPid;
        }

        _state = state == ContainerState.Thawed ? ContainerState.Running : state;
        foreach (var watcher in _watchers)
        {
            watcher.Writer.TryWrite(state);
        }
    }
}
