using Virt.Containers;
using Virt.Lxc.Hosting;
using Virt.Lxc.IntegrationTests.Infrastructure;

namespace Virt.Lxc.IntegrationTests.Containers;

/// <summary>Limits are real: enforced by the kernel, read back after start, and a limit the host ignored is caught.</summary>
public sealed class LimitTests
{
    [Fact(Timeout = 120_000)]
    public async Task A_memory_limit_is_enforced_and_a_process_beyond_it_is_oom_killed()
    {
        await using var host = LxcTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var limits = new ContainerLimits { MemoryMiB = 32, SwapMiB = 0, Pids = 64, CpuWeight = 50, CpuQuota = 0.5, Cpuset = "0" };
        var container = await host.Manager.CreateAsync(LxcTestHost.Busybox("oom") with { Limits = limits }, ct);
        await container.StartAsync(cancellationToken: ct);

        var stats = await container.GetStatsAsync(ct);
        Assert.Equal(32L * 1024 * 1024, stats.MemoryLimitBytes);
        Assert.True(stats.Pids >= 1);
        Assert.True(stats.MemoryBytes > 0);

        // busybox awk grows a string until the cgroup's 32 MiB are gone.
        var hog = await InContainer.RunAsync(container, "awk", "BEGIN { s = \"x\"; while (1) s = s s }");
        Assert.Equal((ContainerExecOutcome.Signaled, 9), (hog.Outcome, hog.Signal));
        var oomControl = await File.ReadAllTextAsync("/sys/fs/cgroup/memory/lxc.payload.oom/memory.oom_control", ct);
        var kills = oomControl.Split('\n').Single(line => line.StartsWith("oom_kill ", StringComparison.Ordinal));
        Assert.NotEqual("oom_kill 0", kills);
        Assert.Equal(ContainerState.Running, (await container.GetStatusAsync(ct)).State);
        await container.KillAsync(ct);
    }

    [Fact(Timeout = 120_000)]
    public async Task Limits_written_as_cgroup2_keys_on_this_hybrid_host_are_detected_as_ignored()
    {
        HostRequirement.RequireLxc();
        Assert.True(Directory.Exists("/sys/fs/cgroup/memory"), "this test describes the hybrid (v1 memory controller) hosts these tests run on");
        await using var host = LxcTestHost.Create(options => options.CgroupKeys = LxcCgroupKeys.V2);
        var ct = TestContext.Current.CancellationToken;
        var container = await host.Manager.CreateAsync(LxcTestHost.Busybox("ignored") with { Limits = new ContainerLimits { MemoryMiB = 64 } }, ct);

        // LXC starts it with only a warning in its log; the read-back finds memory.limit_in_bytes unlimited.
        var error = await Assert.ThrowsAsync<ContainerLimitException>(() => container.StartAsync(cancellationToken: ct));
        Assert.Contains("lxc.cgroup2.memory.max was written", error.Message, StringComparison.Ordinal);
        Assert.Contains("memory.limit_in_bytes", error.Message, StringComparison.Ordinal);
        Assert.Equal(ContainerState.Stopped, (await container.GetStatusAsync(ct)).State);
        Assert.Empty(Leaks.CgroupsOf("ignored"));

        // Told to warn only, the same container runs (unlimited, as LXC left it).
        var lenient = await host.NewManager(options => options.LimitEnforcement = LxcLimitEnforcement.Warn).GetAsync("ignored", ct);
        await lenient.StartAsync(cancellationToken: ct);
        Assert.Null((await lenient.GetStatsAsync(ct)).MemoryLimitBytes);
        await lenient.KillAsync(ct);
    }

    [Fact(Timeout = 120_000)]
    public async Task Freeze_stops_every_process_and_unfreeze_lets_them_run_again()
    {
        await using var host = LxcTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var container = await host.Manager.CreateAsync(LxcTestHost.Busybox("freeze"), ct);
        await container.StartAsync(cancellationToken: ct);
        using var watch = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var events = new List<ContainerState>();
        var watcher = Task.Run(async () => { await foreach (var change in container.WatchAsync(watch.Token)) { lock (events) { events.Add(change.State); } } }, ct);

        await container.FreezeAsync(TimeSpan.FromSeconds(10), ct);
        Assert.Equal(ContainerState.Frozen, (await container.GetStatusAsync(ct)).State);
        var cpuBefore = (await container.GetStatsAsync(ct)).CpuTime;
        await container.UnfreezeAsync(TimeSpan.FromSeconds(10), ct);
        Assert.Equal(ContainerState.Running, (await container.GetStatusAsync(ct)).State);
        Assert.Equal("alive\n", await InContainer.OutputAsync(container, "echo", "alive"));
        Assert.True((await container.GetStatsAsync(ct)).CpuTime >= cpuBefore);

        await LifecycleTests.WaitUntilAsync(() => { lock (events) { return events.Contains(ContainerState.Thawed); } }, ct);
        await watch.CancelAsync();
        await watcher.ContinueWith(_ => { }, TaskScheduler.Default);
        lock (events)
        {
            Assert.True(events.IndexOf(ContainerState.Frozen) < events.IndexOf(ContainerState.Thawed), string.Join(", ", events));
        }

        // A frozen container still stops (it is thawed first).
        await container.FreezeAsync(TimeSpan.FromSeconds(10), ct);
        await container.StopAsync(TimeSpan.FromSeconds(10), ct);
        Assert.Equal(ContainerState.Stopped, (await container.GetStatusAsync(ct)).State);
    }
}
