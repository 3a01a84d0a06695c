using Microsoft.Extensions.Logging;

namespace Virt.Cluster.Ha;

/// <summary>
/// Keeps the watchdog device alive while this node may run HA guests, and only then: a keepalive is sent while the lease
/// has more than the device's timeout less <c>slack</c> left, or while nothing needs fencing here (no HA VM owned yet, or
/// the self-fence after a lost lease killed every one). So when the lease runs out the keepalives stop by
/// <c>expiry − timeout + slack</c>; if the in-process fence (at the lease's expiry, by this node's own count) has not
/// killed the HA guests by <c>expiry + slack</c>, the device resets the host — before a survivor, which waits
/// <see cref="Virt.Clustering.ClusterHaOptions.RecoveryDelay"/> (more than <c>slack</c>) after etcd's expiry, starts them.
/// A process that is killed or hangs stops the keepalives the same way. A clean stop disarms the device (magic close).
/// </summary>
internal sealed class HaWatchdogKeeper : IAsyncDisposable
{
    private readonly IWatchdogDevice _device;
    private readonly Func<TimeSpan> _leaseLeft;
    private readonly Func<bool> _nothingToFence;
    private readonly TimeSpan _slack;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private Task _running = Task.CompletedTask;
    private bool _withholding;
    private int _disposed;

    public HaWatchdogKeeper(IWatchdogDevice device, Func<TimeSpan> leaseLeft, Func<bool> nothingToFence, TimeSpan slack, TimeProvider time, ILogger logger)
    {
        _device = device;
        _leaseLeft = leaseLeft;
        _nothingToFence = nothingToFence;
        _slack = slack;
        _time = time;
        _logger = logger;
    }

    /// <summary>How often the keeper decides: often enough that a fence that ends within <c>slack</c> resumes the keepalives in time.</summary>
    public TimeSpan Interval => TimeSpan.FromTicks(Math.Min(_device.Timeout.Ticks / 4, _slack.Ticks / 2));

    /// <summary>Whether a keepalive is due now.</summary>
    public bool KeepaliveDue() => _leaseLeft() > _device.Timeout - _slack || _nothingToFence();

    public void Start() => _running = Task.Run(() => KeepAsync(_stop.Token), CancellationToken.None);

    /// <summary>A clean stop: the keepalives end and the device is disarmed (magic close).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        await _running.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _device.Disarm();
        _stop.Dispose();
        Log.WatchdogDisarmed(_logger);
    }

    private async Task KeepAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(Interval, _time);
        try
        {
            do
            {
                Tick();
            }
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The clean stop: DisposeAsync disarms the device.
        }
    }

    /// <summary>One decision: a keepalive, or none (said once each time the keepalives stop).</summary>
    internal void Tick()
    {
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
