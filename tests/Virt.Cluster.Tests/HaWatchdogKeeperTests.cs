using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Virt.Cluster.Ha;

namespace Virt.Cluster.Tests;

/// <summary>
/// When the HA agent keeps the watchdog device alive: with a 5 s device timeout and 1 s of slack, keepalives go on while
/// the lease has more than 4 s left or nothing needs fencing, so a host whose lease ran out with HA guests it could not
/// kill resets by the lease's expiry + 1 s, before a survivor (2 s after etcd's expiry) starts them.
/// </summary>
public sealed class HaWatchdogKeeperTests
{
    private static readonly TimeSpan Slack = TimeSpan.FromSeconds(1);

    [Fact]
    public void Keepalives_follow_the_lease_while_HA_guests_may_run_here()
    {
        var device = new RecordingDevice();
        var leaseLeft = TimeSpan.FromSeconds(10);
        var keeper = new HaWatchdogKeeper(device, () => leaseLeft, () => false, Slack, new FakeTimeProvider(), NullLogger.Instance);

        Assert.Equal(TimeSpan.FromMilliseconds(500), keeper.Interval);
        keeper.Tick();
        leaseLeft = TimeSpan.FromSeconds(4.1);
        keeper.Tick();
        Assert.Equal(2, device.Keepalives);

        // 4 s left and guests to fence: the countdown runs out at the lease's expiry + 1 s unless something changes.
        leaseLeft = TimeSpan.FromSeconds(4);
        keeper.Tick();
        leaseLeft = TimeSpan.Zero;
        keeper.Tick();
        Assert.Equal(2, device.Keepalives);

        // Renewed again (a short etcd hiccup): keepalives resume.
        leaseLeft = TimeSpan.FromSeconds(9);
        keeper.Tick();
        Assert.Equal(3, device.Keepalives);
    }

    [Fact]
    public void Without_a_lease_keepalives_go_on_only_while_nothing_here_needs_fencing()
    {
        var device = new RecordingDevice();
        var nothingToFence = true;
        var keeper = new HaWatchdogKeeper(device, () => TimeSpan.Zero, () => nothingToFence, Slack, new FakeTimeProvider(), NullLogger.Instance);

        keeper.Tick();
        Assert.Equal(1, device.Keepalives);

        // An HA guest runs here and the lease is gone (the fence has not killed it yet): no keepalive.
        nothingToFence = false;
        keeper.Tick();
        keeper.Tick();
        Assert.Equal(1, device.Keepalives);

        // The fence killed every HA guest: the host need not reset.
        nothingToFence = true;
        keeper.Tick();
        Assert.Equal(2, device.Keepalives);
    }

    [Fact]
    public async Task The_timer_keeps_the_device_alive_and_a_clean_stop_disarms_it()
    {
        var device = new RecordingDevice();
        var time = new FakeTimeProvider();
        var keeper = new HaWatchdogKeeper(device, () => TimeSpan.FromSeconds(10), () => false, Slack, time, NullLogger.Instance);

        keeper.Start();
        await WaitForAsync(() => device.Keepalives >= 1);
        for (var tick = 0; tick < 4; tick++)
        {
            time.Advance(keeper.Interval);
            var expected = tick + 2;
            await WaitForAsync(() => device.Keepalives >= expected);
        }

        await keeper.DisposeAsync();
        Assert.True(device.Disarmed);
        var after = device.Keepalives;
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(after, device.Keepalives);
    }

    [Fact]
    public void A_keepalive_the_driver_refuses_is_logged_and_tried_again_at_the_next_tick()
    {
        var device = new RecordingDevice { Fail = true };
        var keeper = new HaWatchdogKeeper(device, () => TimeSpan.FromSeconds(10), () => false, Slack, new FakeTimeProvider(), NullLogger.Instance);

        keeper.Tick();
        device.Fail = false;
        keeper.Tick();

        Assert.Equal(1, device.Keepalives);
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        for (var waited = 0; !condition(); waited++)
        {
            Assert.True(waited < 500, "the keeper did not keep the device alive");
            await Task.Delay(10, TestContext.Current.CancellationToken);
        }
    }

    private sealed class RecordingDevice : IWatchdogDevice
    {
        private int _keepalives;

        public TimeSpan Timeout => TimeSpan.FromSeconds(5);

        public int Keepalives => Volatile.Read(ref _keepalives);

        public bool Disarmed { get; private set; }

        public bool Fail { get; set; }

        public void Keepalive()
        {
            if (Fail)
            {
                throw new Virt.Clustering.ClusterException(VirtErrorKind.Failed, "the watchdog device /dev/null: WDIOC_KEEPALIVE failed (Input/output error)");
            }

            Interlocked.Increment(ref _keepalives);
        }

        public void Disarm() => Disarmed = true;

        public void Dispose()
        {
        }
    }
}
