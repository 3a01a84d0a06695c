using Microsoft.Extensions.Logging;

namespace Virt.Cluster.Ha;

/// <summary>
/// Arms the watchdog device once this node holds its lease and owns HA VMs, and from then on keeps it alive only while the
/// node can still fence them: a keepalive goes while the lease has more than the device's timeout less <c>slack</c> (and
/// one interval) left, or while nothing needs fencing here (the self-fence after a lost lease killed every HA VM, and none
/// was started or received since). So when the lease runs out the keepalives have stopped by <c>expiry − timeout +
/// slack</c>; if the in-process fence (at the lease's expiry, by this node's own count; the keeper is nudged the moment
/// it ends) has not killed the HA guests by <c>expiry + slack</c>, the device resets the host — before a survivor, which
/// waits <see cref="Virt.Clustering.ClusterHaOptions.RecoveryDelay"/> (twice <c>slack</c>) after etcd's expiry, starts
/// them. A process that is killed or hangs stops the keepalives the same way. A clean stop disarms the device.
/// The keepalives run on a thread of their own, so a starved thread pool does not reset a host whose lease is fine.
/// </summary>
internal sealed class HaWatchdogKeeper : IAsyncDisposable
{
    private readonly Func<IWatchdogDevice> _open;
    private readonly TimeSpan _timeout;
    private readonly Func<bool> _armNeeded;
    private readonly Func<TimeSpan> _leaseLeft;
    private readonly Func<bool> _nothingToFence;
    private readonly TimeSpan _slack;
    private readonly ILogger _logger;
    private readonly ManualResetEventSlim _wake = new();
    private readonly Lock _gate = new();
    private IWatchdogDevice? _device;
    private Thread? _thread;
    private volatile bool _stopping;
    private bool _withholding;
    private bool _openFailed;
    private int _disposed;

    /// <param name="open">Opens (arms) the device with <paramref name="timeout"/>.</param>
    /// <param name="timeout">The device's countdown.</param>
    /// <param name="armNeeded">Whether the device is to be armed now (the node holds its lease and owns HA VMs).</param>
    /// <param name="leaseLeft">How long the lease holds by this process's count.</param>
    /// <param name="nothingToFence">Whether no HA VM can run here (a clean self-fence, nothing started since).</param>
    /// <param name="slack">Half the survivors' recovery delay.</param>
    /// <param name="logger">Where to log.</param>
    public HaWatchdogKeeper(Func<IWatchdogDevice> open, TimeSpan timeout, Func<bool> armNeeded, Func<TimeSpan> leaseLeft, Func<bool> nothingToFence, TimeSpan slack, ILogger logger)
    {
        _open = open;
        _timeout = timeout;
        _armNeeded = armNeeded;
        _leaseLeft = leaseLeft;
        _nothingToFence = nothingToFence;
        _slack = slack;
        _logger = logger;
    }

    /// <summary>How often the keeper decides: a quarter of the slack (and of the timeout), so a fence that ends leaves time to spare.</summary>
    public TimeSpan Interval => TimeSpan.FromTicks(Math.Min(_timeout.Ticks / 4, _slack.Ticks / 4));

    /// <summary>Whether the device is armed.</summary>
    public bool Armed
    {
        get
        {
            lock (_gate)
            {
                return _device is not null;
            }
        }
    }

    /// <summary>Whether a keepalive is due now: one interval of margin, for the time between this check and the keepalive.</summary>
    public bool KeepaliveDue() => _leaseLeft() > _timeout - _slack + Interval || _nothingToFence();

    public void Start()
    {
        _thread = new Thread(Run) { IsBackground = true, Name = "virt-ha-watchdog", Priority = ThreadPriority.AboveNormal };
        _thread.Start();
    }

    /// <summary>Decides at once (a fence just ended, say) instead of at the next interval.</summary>
    public void Nudge() => _wake.Set();

    /// <summary>A clean stop: the keepalives end and the device, if armed, is disarmed (magic close).</summary>
    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return ValueTask.CompletedTask;
        }

        _stopping = true;
        _wake.Set();
        _thread?.Join();
        lock (_gate)
        {
            if (_device is { } device)
            {
                if (device.Disarm())
                {
                    Log.WatchdogDisarmed(_logger);
                }
                else
                {
                    Log.HaFailed(_logger, "disarming the watchdog device (the magic close was not written)", "the device may still count down");
                }

                _device = null;
            }
        }

        _wake.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>One decision: arm, a keepalive, or none (said once each time the keepalives stop).</summary>
    internal void Tick()
    {
        lock (_gate)
        {
            if (_stopping)
            {
                return;
            }

            if (_device is null)
            {
                Arm();
                return;
            }

            if (KeepaliveDue())
            {
                try
                {
                    _device.Keepalive();
                    _withholding = false;
                }
                catch (Virt.Clustering.ClusterException e)
                {
                    Log.HaFailed(_logger, "keeping the watchdog device alive", e.Message);
                }

                return;
            }

            if (!_withholding)
            {
                _withholding = true;
                Log.WatchdogWithheld(_logger, _leaseLeft().TotalMilliseconds, _device.Timeout.TotalSeconds);
            }
        }
    }

    private void Arm()
    {
        if (!_armNeeded())
        {
            return;
        }

        try
        {
            _device = _open();
            _openFailed = false;
            Log.WatchdogArmed(_logger, _device.Path, _device.Identity, _device.Timeout.TotalSeconds);
        }
        catch (Virt.Clustering.ClusterException e)
        {
            if (!_openFailed)
            {
                _openFailed = true;
                Log.HaFailed(_logger, "arming the watchdog device", e.Message);
            }
        }
    }

    private void Run()
    {
        while (!_stopping)
        {
            Tick();
            _wake.Wait(Interval);
            _wake.Reset();
        }
    }
}
