using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Virt.VirtualMachines;

namespace Virt.Testing;

/// <summary>
/// A VM of <see cref="InMemoryVirtualMachineManager"/>: a state machine with the QEMU backend's rules
/// (start only when stopped, pause only when running, resume only when paused) and its events.
/// </summary>
public sealed class InMemoryVirtualMachine : IVirtualMachine
{
    private readonly Lock _gate = new();
    private readonly TimeProvider _time;
    private readonly List<Channel<VmEvent>> _watchers = [];
    private VmState _state = VmState.Stopped;
    private DateTimeOffset? _startedAt;
    private VmExitInfo? _lastExit;

    internal InMemoryVirtualMachine(VmSpec spec, TimeProvider time)
    {
        Spec = spec;
        _time = time;
        var facets = new InMemoryVmFacets(this);
        Disks = facets;
        Nics = facets;
        Resources = facets;
        Snapshots = new InMemoryVmSnapshots(this, time);
        Migration = facets;
        Guest = facets;
    }

    /// <inheritdoc/>
    public string Name => Spec.Name;

    /// <inheritdoc/>
    public VmSpec Spec { get; internal set; }

    /// <inheritdoc/>
    public VmEndpoints Endpoints => new($"/nonexistent/{Name}/serial.log", null, $"/nonexistent/{Name}/qmp.sock", null, null, $"/nonexistent/{Name}/qemu.log");

    /// <inheritdoc/>
    /// <remarks>There is no guest: every call throws <see cref="VmGuestAgentUnavailableException"/>.</remarks>
    public IVmGuest Guest { get; }

    /// <inheritdoc/>
    public IVmDisks Disks { get; }

    /// <inheritdoc/>
    public IVmNics Nics { get; }

    /// <inheritdoc/>
    public IVmResources Resources { get; }

    /// <inheritdoc/>
    public IVmSnapshots Snapshots { get; }

    /// <inheritdoc/>
    public IVmMigration Migration { get; }

    /// <summary>The current state.</summary>
    public VmState State
    {
        get
        {
            lock (_gate)
            {
                return _state;
            }
        }
    }

    /// <inheritdoc/>
    public Task StartAsync(CancellationToken cancellationToken = default) =>
        Transition("start", from => from is VmState.Stopped or VmState.Crashed, "it is already running; shut it down first", VmState.Running, VmEventKind.Started);

    /// <inheritdoc/>
    public Task ShutdownAsync(TimeSpan timeout, bool killAfterTimeout = false, CancellationToken cancellationToken = default) => Stop(VmEventKind.GuestShutdown);

    /// <inheritdoc/>
    public Task KillAsync(CancellationToken cancellationToken = default) => Stop(VmEventKind.Stopped);

    /// <inheritdoc/>
    public Task RebootAsync(CancellationToken cancellationToken = default) =>
        Transition("reboot", from => from is VmState.Running, "start it first", VmState.Running, VmEventKind.Reset);

    /// <inheritdoc/>
    public Task PauseAsync(CancellationToken cancellationToken = default) =>
        Transition("pause", from => from is VmState.Running, "start it first", VmState.Paused, VmEventKind.Paused);

    /// <inheritdoc/>
    public Task ResumeAsync(CancellationToken cancellationToken = default) =>
        Transition("resume", from => from is VmState.Paused, "only a paused VM can resume; pause it first", VmState.Running, VmEventKind.Resumed);

    /// <inheritdoc/>
    public Task<VmStatus> GetStatusAsync(CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            var running = _state is VmState.Running or VmState.Paused;
            return Task.FromResult(new VmStatus(Name, _state, running ? Environment.ProcessId : null, running ? _time.GetUtcNow() - _startedAt : null, null, "none", _lastExit));
        }
    }

    /// <inheritdoc/>
    public async IAsyncEnumerable<VmEvent> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var channel = Channel.CreateUnbounded<VmEvent>();
        lock (_gate)
        {
            _watchers.Add(channel);
        }

        try
        {
            await foreach (var vmEvent in channel.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                yield return vmEvent;
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

    /// <summary>Makes the VM crash (as a QEMU that died would): it goes to <see cref="VmState.Crashed"/> and watchers see <see cref="VmEventKind.Crashed"/>.</summary>
    /// <param name="reason">What the exit reports.</param>
    public void Crash(string reason = "injected crash")
    {
        lock (_gate)
        {
            _state = VmState.Crashed;
            _lastExit = new VmExitInfo(reason, null, _time.GetUtcNow());
            Publish(VmEventKind.Crashed, reason);
        }
    }

    /// <summary>Throws <see cref="VmStateException"/> unless the VM is in one of <paramref name="allowed"/>.</summary>
    internal void Require(string operation, string fix, params VmState[] allowed)
    {
        lock (_gate)
        {
            if (!allowed.Contains(_state))
            {
                throw new VmStateException(Name, operation, _state, fix);
            }
        }
    }

    /// <summary>Ends every watch (the VM was deleted).</summary>
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

    private Task Stop(VmEventKind kind)
    {
        lock (_gate)
        {
            // Stopping a stopped VM is a no-op, as it is for the QEMU backend: the caller's goal already holds.
            if (_state is VmState.Running or VmState.Paused or VmState.Starting)
            {
                _state = VmState.Stopped;
                _startedAt = null;
                _lastExit = new VmExitInfo(kind == VmEventKind.GuestShutdown ? "shutdown" : "killed", 0, _time.GetUtcNow());
                if (kind != VmEventKind.Stopped)
                {
                    Publish(kind, null);
                }

                Publish(VmEventKind.Stopped, null);
            }
        }

        return Task.CompletedTask;
    }

    private Task Transition(string operation, Func<VmState, bool> allowed, string fix, VmState to, VmEventKind kind)
    {
        lock (_gate)
        {
            if (!allowed(_state))
            {
                throw new VmStateException(Name, operation, _state, fix);
            }

            if (kind == VmEventKind.Started)
            {
                _startedAt = _time.GetUtcNow();
            }

            _state = to;
            Publish(kind, null);
        }

        return Task.CompletedTask;
    }

    private void Publish(VmEventKind kind, string? reason)
    {
        var vmEvent = new VmEvent(Name, kind, _time.GetUtcNow(), reason);
        foreach (var watcher in _watchers)
        {
            watcher.Writer.TryWrite(vmEvent);
        }
    }
}
