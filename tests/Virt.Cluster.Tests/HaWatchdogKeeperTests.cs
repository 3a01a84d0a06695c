using Microsoft.Extensions.Logging.Abstractions;
using Virt.Cluster.Ha;

namespace Virt.Cluster.Tests;

/// <summary>
/// When the HA agent arms and keeps alive the watchdog device: with a 5 s device timeout and 1 s of slack (ticks every
/// 0.25 s), it is armed once the node holds its lease and owns HA VMs, and kept alive while the lease has more than 4.25 s
/// left or nothing needs fencing, so a host whose lease ran out with HA guests it could not kill resets by the lease's
/// expiry + 1 s, before a survivor (2 s after etcd's expiry) starts them.
/// </summary>
public sealed class HaWatchdogKeeperTests
{
    private static readonly TimeSpan Slack = TimeSpan.FromSeconds(1);

    [Fact]
    public async Task The_device_is_armed_only_once_the_node_holds_its_lease_and_owns_HA_VMs()
    {
        var device = new RecordingDevice();
        var needed = false;
        var opened = 0;
        await using var keeper = new HaWatchdogKeeper(() => { opened++; return device; }, device.Timeout, () => needed, () => TimeSpan.FromSeconds(10), () => false, Slack, NullLogger.Instance);

        // A process started after one that was killed with HA VMs running does not open it (which would restart the
        // countdown that death set going) until it has joined and owns HA VMs itself.
        keeper.Tick();
        keeper.Tick();
        Assert.Equal(0, opened);
        Assert.False(keeper.Armed);

        needed = true;
        keeper.Tick();
        Assert.True(keeper.Armed);
        keeper.Tick();
        Assert.Equal((1, 1), (opened, device.Keepalives));
    }

    [Fact]
    public async Task Keepalives_follow_the_lease_while_HA_guests_may_run_here()
    {
        var device = new RecordingDevice();
        var leaseLeft = TimeSpan.FromSeconds(10);
        await using var keeper = Armed(device, () => leaseLeft, () => false);

        Assert.Equal(TimeSpan.FromMilliseconds(250), keeper.Interval);
        keeper.Tick();
        leaseLeft = TimeSpan.FromSeconds(4.3);
        keeper.Tick();
        Assert.Equal(2, device.Keepalives);

        // 4.25 s left or less, and guests to fence: the countdown runs out by the lease's expiry + 1 s unless something changes.
        leaseLeft = TimeSpan.FromSeconds(4.2);
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
    public async Task Without_a_lease_keepalives_go_on_only_while_nothing_here_needs_fencing()
    {
        var device = new RecordingDevice();
        var nothingToFence = true;
        await using var keeper = Armed(device, () => TimeSpan.Zero, () => nothingToFence);

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
    public async Task Its_own_thread_keeps_the_device_alive_a_nudge_decides_at_once_and_a_clean_stop_disarms_it()
    {
        var device = new RecordingDevice();
        var nothingToFence = false;
        var keeper = new HaWatchdogKeeper(() => device, device.Timeout, () => true, () => TimeSpan.Zero, () => Volatile.Read(ref nothingToFence), Slack, NullLogger.Instance);

        // Ticks every 0.25 s; withheld without a lease until the fence says nothing runs here.
        keeper.Start();
        await WaitForAsync(() => keeper.Armed);
        await Task.Delay(200, TestContext.Current.CancellationToken);
        Assert.Equal(0, device.Keepalives);
        Volatile.Write(ref nothingToFence, true);
        keeper.Nudge();
        await WaitForAsync(() => device.Keepalives >= 1);

        await keeper.DisposeAsync();
        Assert.True(device.Disarmed);
        var after = device.Keepalives;
        await Task.Delay(300, TestContext.Current.CancellationToken);
        Assert.Equal(after, device.Keepalives);
    }

    [Fact]
    public async Task A_keepalive_the_driver_refuses_is_logged_and_tried_again_at_the_next_tick()
    {
        var device = new RecordingDevice { Fail = true };
        await using var keeper = Armed(device, () => TimeSpan.FromSeconds(10), () => false);

        keeper.Tick();
        device.Fail = false;
        keeper.Tick();

        Assert.Equal(1, device.Keepalives);
    }

    /// <summary>A keeper whose device is open (the first tick arms it), its thread not started: the test ticks it.</summary>
    private static HaWatchdogKeeper Armed(RecordingDevice device, Func<TimeSpan> leaseLeft, Func<bool> nothingToFence)
    {
        var keeper = new HaWatchdogKeeper(() => device, device.Timeout, () => true, leaseLeft, nothingToFence, Slack, NullLogger.Instance);
        keeper.Tick();
        Assert.True(keeper.Armed);
        return keeper;
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        for (var waited = 0; !condition(); waited++)
        {
            Assert.True(waited < 1000, "the keeper did not get there in 10 s");
            await Task.Delay(10, TestContext.Current.CancellationToken);
        }
    }

    private sealed class RecordingDevice : IWatchdogDevice
    {
        private int _keepalives;

        public string Path => "/dev/watchdog-recording";

        public string Identity => "recording";

        public TimeSpan Timeout => TimeSpan.FromSeconds(5);

        public int Keepalives => Volatile.Read(ref _keepalives);

        public bool Disarmed { get; private set; }

        public bool Fail { get; set; }

        public void Keepalive()
        {
            if (Fail)
            {
                throw new Virt.Clustering.ClusterException(VirtErrorKind.Failed, "the watchdog device /dev/watchdog-recording: WDIOC_KEEPALIVE failed (Input/output error)");
            }

            Interlocked.Increment(ref _keepalives);
        }

        public bool Disarm() => Disarmed = true;

        public void Dispose()
        {
        }
    }
}
