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

    internal InMemoryVirtualMachine(VmSpec spec, TimeProvider time, ManagedNicPorts networkPorts)
    {
        Spec = spec;
        _time = time;
        NetworkPorts = networkPorts;
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

    /// <summary>The manager's network ports (optional), used as the QEMU backend uses them.</summary>
    internal ManagedNicPorts NetworkPorts { get; }

    private string PortOwner => "vm:" + Name;

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
    /// <remarks>NICs on managed networks join them first (prepare, connect), as with the QEMU backend; a refusal fails the start with <see cref="VmStartException"/>.</remarks>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        const string Fix = "it is already running; shut it down first";
        Require("start", Fix, VmState.Stopped, VmState.Crashed);
        await NetworkPorts.JoinAsync(ManagedNicPorts.Of(Spec, Spec.Nics), (_, reason, inner) => new VmStartException(Name, $"cannot start VM '{Name}': {reason}", null, string.Empty, inner), cancellationToken).ConfigureAwait(false);
        await Transition("start", from => from is VmState.Stopped or VmState.Crashed, Fix, VmState.Running, VmEventKind.Started).ConfigureAwait(false);
    }

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
    /// <remarks>Its ports on managed networks are released before this returns.</remarks>
    public void Crash(string reason = "injected crash")
    {
        lock (_gate)
        {
            _state = VmState.Crashed;
            _lastExit = new VmExitInfo(reason, null, _time.GetUtcNow());
            Publish(VmEventKind.Crashed, reason);
        }

        NetworkPorts.ReleaseNow(PortOwner);
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

    /// <summary>Removes a VM made by <c>PrepareIncomingAsync</c> when its ticket expires (kept here so it is not collected).</summary>
    internal ITimer? IncomingExpiry { get; set; }

    /// <summary>Marks a VM made by <c>PrepareIncomingAsync</c>: it waits for a migration that never comes.</summary>
    internal void MarkIncoming(string? sourceHost)
    {
        lock (_gate)
        {
            _state = VmState.Incoming;
            IncomingSourceHost = sourceHost;
        }
    }

    /// <summary>The source host a VM made by <c>PrepareIncomingAsync</c> waits for, as its options named it.</summary>
    internal string? IncomingSourceHost { get; private set; }

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

    private async Task Stop(VmEventKind kind)
    {
        StopNow(kind);

        // Released whether it ran or not: a stop also cleans up after a crash, as the QEMU backend's cleanup does.
        await NetworkPorts.ReleaseAsync(PortOwner).ConfigureAwait(false);
    }

    private void StopNow(VmEventKind kind)
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
