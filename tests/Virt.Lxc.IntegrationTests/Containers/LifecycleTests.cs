using Virt.Containers;
using Virt.Lxc.IntegrationTests.Infrastructure;

namespace Virt.Lxc.IntegrationTests.Containers;

/// <summary>A busybox container through its whole life on real LXC: create, start, exec, events, stop, reboot, delete.</summary>
public sealed class LifecycleTests
{
    [Fact(Timeout = 120_000)]
    public async Task A_busybox_container_starts_runs_a_command_reports_its_states_and_stops()
    {
        await using var host = LxcTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var container = await host.Manager.CreateAsync(LxcTestHost.Busybox("life") with { Hostname = "life-host" }, ct);
        Assert.Equal(ContainerState.Stopped, (await container.GetStatusAsync(ct)).State);

        using var watch = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var events = new List<ContainerState>();
        var watcher = Task.Run(
            async () =>
            {
                await foreach (var change in container.WatchAsync(watch.Token))
                {
                    lock (events)
                    {
                        events.Add(change.State);
                    }
                }
            },
            ct);

        await container.StartAsync(cancellationToken: ct);
        var status = await container.GetStatusAsync(ct);
        Assert.Equal(ContainerState.Running, status.State);
        Assert.NotNull(status.InitPid);
        Assert.True(Directory.Exists($"/proc/{status.InitPid}"));
        Assert.Equal("life-host\n", await InContainer.OutputAsync(container, "hostname"));

        // A second start finds the running init on the command socket and refuses, leaving it running.
        var again = await Assert.ThrowsAsync<ContainerStateException>(() => container.StartAsync(cancellationToken: ct));
        Assert.Equal(ContainerState.Running, again.State);
        Assert.Equal(status.InitPid, (await container.GetStatusAsync(ct)).InitPid);

        // A clean stop: busybox init halts on SIGUSR1 within the deadline.
        await container.StopAsync(TimeSpan.FromSeconds(20), ct);
        Assert.Equal(ContainerState.Stopped, (await container.GetStatusAsync(ct)).State);
        await WaitUntilAsync(() => { lock (events) { return events.Contains(ContainerState.Stopped) && events.Contains(ContainerState.Running) && events.Contains(ContainerState.Stopping); } }, ct);
        await watch.CancelAsync();
        await watcher.ContinueWith(_ => { }, TaskScheduler.Default);
        lock (events)
        {
            var running = events.IndexOf(ContainerState.Running);
            Assert.True(running >= 0 && events.IndexOf(ContainerState.Stopping, running) > running && events.LastIndexOf(ContainerState.Stopped) > running, "events: " + string.Join(", ", events));
        }
    }

    [Fact(Timeout = 120_000)]
    public async Task Reboot_gives_a_new_init_and_delete_refuses_a_running_container_unless_forced()
    {
        await using var host = LxcTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var container = await host.Manager.CreateAsync(LxcTestHost.Busybox("reboot"), ct);
        await container.StartAsync(cancellationToken: ct);
        var before = (await container.GetStatusAsync(ct)).InitPid;
        await container.RebootAsync(TimeSpan.FromSeconds(30), ct);
        var after = await container.GetStatusAsync(ct);
        Assert.Equal(ContainerState.Running, after.State);
        Assert.NotEqual(before, after.InitPid);

        var refused = await Assert.ThrowsAsync<ContainerStateException>(() => host.Manager.DeleteAsync("reboot", cancellationToken: ct));
        Assert.Contains("force", refused.Message, StringComparison.Ordinal);
        Assert.Equal(ContainerState.Running, (await container.GetStatusAsync(ct)).State);

        await host.Manager.DeleteAsync("reboot", force: true, ct);
        Assert.False(Directory.Exists(Path.Combine(host.LxcPath, "reboot")));
        await Assert.ThrowsAsync<ContainerNotFoundException>(() => host.Manager.GetAsync("reboot", ct));
    }

    [Fact(Timeout = 120_000)]
    public async Task A_missing_init_is_reported_from_the_lxc_log_and_nothing_is_left_running()
    {
        await using var host = LxcTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var container = await host.Manager.CreateAsync(LxcTestHost.Busybox("noinit") with { Init = new ContainerInit(["/no/such/init"]) }, ct);
        var error = await Assert.ThrowsAsync<ContainerStartException>(() => container.StartAsync(cancellationToken: ct));
        Assert.Equal(ContainerStartFailure.Init, error.Failure);
        Assert.Contains("/no/such/init", error.Message, StringComparison.Ordinal);
        Assert.True(File.Exists(error.LogPath));
        Assert.Equal(ContainerState.Stopped, (await container.GetStatusAsync(ct)).State);
        Assert.Empty(Leaks.CgroupsOf("noinit"));
    }

    [Fact(Timeout = 60_000)]
    public async Task A_missing_bridge_is_refused_before_lxc_start_with_the_fix()
    {
        await using var host = LxcTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var container = await host.Manager.CreateAsync(LxcTestHost.Busybox("nobridge") with { Network = [new ContainerNic(ContainerNicKind.Veth, "vtbmissing0")] }, ct);
        var error = await Assert.ThrowsAsync<ContainerPreflightException>(() => container.StartAsync(cancellationToken: ct));
        Assert.Contains("bridge 'vtbmissing0' does not exist", error.Message, StringComparison.Ordinal);
        Assert.Contains("ip link add vtbmissing0 type bridge", error.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 60_000)]
    public async Task The_console_log_holds_what_the_container_printed_on_its_console()
    {
        await using var host = LxcTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var container = await host.Manager.CreateAsync(LxcTestHost.Busybox("console"), ct);
        await container.StartAsync(cancellationToken: ct);
        await InContainer.OutputAsync(container, "sh", "-c", "echo virt-console-marker > /dev/console");
        await WaitUntilAsync(async () => (await container.ReadConsoleLogAsync(cancellationToken: ct)).Contains("virt-console-marker", StringComparison.Ordinal), ct);
        await container.KillAsync(ct);
    }

    internal static async Task WaitUntilAsync(Func<bool> condition, CancellationToken ct) => await WaitUntilAsync(() => Task.FromResult(condition()), ct);

    internal static async Task WaitUntilAsync(Func<Task<bool>> condition, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met within 20 s");
            await Task.Delay(20, ct);
        }
    }
}
