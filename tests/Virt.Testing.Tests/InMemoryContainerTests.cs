using System.Text;
using Microsoft.Extensions.Time.Testing;
using Virt.Containers;

namespace Virt.Testing.Tests;

/// <summary>What the in-memory container adds beyond the shared contract: scripted exec, fault injection, the file tree, settable stats.</summary>
public sealed class InMemoryContainerTests
{
    private readonly InMemoryContainerManager _manager = new();

    private static ContainerSpec Busybox(string name) => new(name, ContainerRootfs.Busybox());

    [Fact]
    public async Task Watchers_see_every_state_in_order_and_their_stream_ends_on_delete()
    {
        var ct = TestContext.Current.CancellationToken;
        var container = (InMemoryContainer)await _manager.CreateAsync(Busybox("watched"), ct);
        var events = container.WatchAsync(ct).GetAsyncEnumerator(ct);
        await using (events)
        {
            Assert.True(await events.MoveNextAsync());
            await container.StartAsync(cancellationToken: ct);
            await container.FreezeAsync(TimeSpan.FromSeconds(1), ct);
            await container.UnfreezeAsync(TimeSpan.FromSeconds(1), ct);
            await container.RebootAsync(TimeSpan.FromSeconds(1), ct);
            container.Crash("init segfaulted");
            await _manager.DeleteAsync("watched", cancellationToken: ct);

            var states = new List<ContainerState> { events.Current.State };
            while (await events.MoveNextAsync())
            {
                states.Add(events.Current.State);
            }

            Assert.Equal(
                [ContainerState.Stopped, ContainerState.Starting, ContainerState.Running, ContainerState.Freezing, ContainerState.Frozen, ContainerState.Thawed,
                 ContainerState.Stopping, ContainerState.Starting, ContainerState.Running, ContainerState.Stopping, ContainerState.Stopped],
                states);
        }

        Assert.Contains("init segfaulted", await container.ReadConsoleLogAsync(cancellationToken: ct), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_reboot_gives_a_new_init_and_a_stopped_or_frozen_container_is_refused()
    {
        var ct = TestContext.Current.CancellationToken;
        var container = await _manager.CreateAsync(Busybox("reboot"), ct);
        var stopped = await Assert.ThrowsAsync<ContainerStateException>(() => container.RebootAsync(TimeSpan.FromSeconds(1), ct));
        Assert.Equal(ContainerState.Stopped, stopped.State);
        await container.StartAsync(cancellationToken: ct);
        var before = (await container.GetStatusAsync(ct)).InitPid;
        await container.RebootAsync(TimeSpan.FromSeconds(1), ct);
        Assert.NotEqual(before, (await container.GetStatusAsync(ct)).InitPid);

        await container.FreezeAsync(TimeSpan.FromSeconds(1), ct);
        Assert.Equal(ContainerState.Frozen, (await Assert.ThrowsAsync<ContainerStateException>(() => container.RebootAsync(TimeSpan.FromSeconds(1), ct))).State);
        await Assert.ThrowsAsync<ContainerExecTimeoutException>(() => container.ExecAsync(new(["true"]), ct));
        var delete = await Assert.ThrowsAsync<ContainerStateException>(() => _manager.DeleteAsync("reboot", cancellationToken: ct));
        Assert.Equal(ContainerState.Frozen, delete.State);
        await _manager.DeleteAsync("reboot", force: true, ct);
        Assert.Empty(await _manager.ListAsync(ct));
    }

    [Fact]
    public async Task An_injected_start_failure_fails_one_start_and_leaves_the_container_stopped()
    {
        var ct = TestContext.Current.CancellationToken;
        var container = (InMemoryContainer)await _manager.CreateAsync(Busybox("failing"), ct);
        container.FailNextStart(ContainerStartFailure.MissingNetworkLink, "bridge 'vmbr9' does not exist");
        var error = await Assert.ThrowsAsync<ContainerStartException>(() => container.StartAsync(cancellationToken: ct));
        Assert.Equal((ContainerStartFailure.MissingNetworkLink, VirtErrorKind.Failed), (error.Failure, error.ErrorKind));
        Assert.Contains("vmbr9", error.Message, StringComparison.Ordinal);
        Assert.Equal(new ContainerStatus(ContainerState.Stopped, null), await container.GetStatusAsync(ct));
        await container.StartAsync(cancellationToken: ct);
        Assert.Equal(ContainerState.Running, container.State);
    }

    [Fact]
    public async Task A_scripted_command_decides_its_output_and_exit_code_and_the_rest_fall_back_to_the_built_in_ones()
    {
        var ct = TestContext.Current.CancellationToken;
        var container = (InMemoryContainer)await _manager.CreateAsync(Busybox("scripted") with { Hostname = "web-1" }, ct);
        container.ExecHandler = (request, _) => Task.FromResult(request.Command[0] switch
        {
            "apt-get" => new InMemoryExecResponse(100, "Reading package lists...\n", "E: Unable to locate package nope\n"),
            "sleep" => new InMemoryExecResponse(137),
            _ => null,
        });
        await container.StartAsync(cancellationToken: ct);

        var apt = await container.ExecAsync(new(["apt-get", "install", "nope"]), ct);
        Assert.Equal((ContainerExecOutcome.Exited, 100, "Reading package lists...\n", "E: Unable to locate package nope\n"), (apt.Outcome, apt.ExitCode, apt.StandardOutput, apt.StandardError));
        var killed = await container.ExecAsync(new(["sleep", "60"]), ct);
        Assert.Equal((ContainerExecOutcome.Signaled, 9), (killed.Outcome, killed.Signal));
        Assert.Equal("web-1\n", (await container.ExecAsync(new(["hostname"]), ct)).StandardOutput);
        var missing = await container.ExecAsync(new(["nosuch"]), ct);
        Assert.Equal((ContainerExecOutcome.CommandNotFound, 127), (missing.Outcome, missing.ExitCode));

        var combined = await container.ExecAsync(new(["apt-get"]) { CombineOutput = true }, ct);
        Assert.Equal(("Reading package lists...\nE: Unable to locate package nope\n", ""), (combined.StandardOutput, combined.StandardError));
        var capped = await container.ExecAsync(new(["echo", "0123456789"]) { MaxCollectedOutputBytes = 4 }, ct);
        Assert.Equal(("0123", true), (capped.StandardOutput, capped.StandardOutputTruncated));
        using var streamed = new MemoryStream();
        var toStream = await container.ExecAsync(new(["cat"]) { StandardInput = new MemoryStream("from stdin"u8.ToArray()), StandardOutput = streamed }, ct);
        Assert.Equal(("", "from stdin"), (toStream.StandardOutput, Encoding.UTF8.GetString(streamed.ToArray())));
        Assert.Throws<ArgumentException>(() => { _ = container.ExecAsync(new([]), ct); });
    }

    [Fact]
    public async Task A_command_that_outlives_its_timeout_is_killed_with_the_timeout_exception()
    {
        var ct = TestContext.Current.CancellationToken;
        var time = new FakeTimeProvider();
        var manager = new InMemoryContainerManager(time);
        var container = (InMemoryContainer)await manager.CreateAsync(Busybox("hang"), ct);
        var running = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        container.ExecHandler = async (_, token) =>
        {
            running.SetResult();
            await Task.Delay(Timeout.Infinite, token);
            return null;
        };
        await container.StartAsync(cancellationToken: ct);

        var exec = container.ExecAsync(new(["hang"]) { Timeout = TimeSpan.FromSeconds(5) }, ct);
        await running.Task;
        time.Advance(TimeSpan.FromSeconds(5));
        var timeout = await Assert.ThrowsAsync<ContainerExecTimeoutException>(() => exec);
        Assert.Equal(TimeSpan.FromSeconds(5), timeout.Timeout);
    }

    [Fact]
    public async Task Files_follow_the_backend_path_rules_and_outlive_a_restart()
    {
        var ct = TestContext.Current.CancellationToken;
        var container = (InMemoryContainer)await _manager.CreateAsync(Busybox("files"), ct);
        container.CreateDirectory("/etc/app");
        container.WriteFile("/etc/app/config", "port=80\n"u8);
        await container.StartAsync(cancellationToken: ct);

        Assert.Equal("port=80\n", (await container.ExecAsync(new(["cat", "/etc/app/config"]), ct)).StandardOutput);
        var noDirectory = await Assert.ThrowsAsync<ContainerPathException>(() => container.PushFileAsync("/opt/app/x", new MemoryStream([1]), cancellationToken: ct));
        Assert.Equal(VirtErrorKind.Failed, noDirectory.ErrorKind);
        var directory = await Assert.ThrowsAsync<ContainerPathException>(() => container.PullFileAsync("/etc/app", Stream.Null, ct));
        Assert.Equal(VirtErrorKind.Refused, directory.ErrorKind);
        var dotDot = await Assert.ThrowsAsync<ContainerPathException>(() => container.PushFileAsync("/tmp/../etc/passwd", new MemoryStream([1]), cancellationToken: ct));
        Assert.Equal(VirtErrorKind.InvalidInput, dotDot.ErrorKind);

        await container.PushFileAsync("/etc/app/config", new MemoryStream("port=8080\n"u8.ToArray()), cancellationToken: ct);
        await container.StopAsync(TimeSpan.FromSeconds(1), ct);
        await container.StartAsync(cancellationToken: ct);
        Assert.Equal("port=8080\n", Encoding.UTF8.GetString(container.ReadFile("/etc/app/config")));
    }

    [Fact]
    public async Task Stats_are_what_the_test_set_and_only_while_it_runs()
    {
        var ct = TestContext.Current.CancellationToken;
        var container = (InMemoryContainer)await _manager.CreateAsync(Busybox("stats") with { Limits = new ContainerLimits { MemoryMiB = 64 } }, ct);
        await Assert.ThrowsAsync<ContainerStateException>(() => container.GetStatsAsync(ct));
        await container.StartAsync(cancellationToken: ct);
        Assert.Equal(64L << 20, (await container.GetStatsAsync(ct)).MemoryLimitBytes);
        container.Stats = new ContainerStats(48L << 20, 64L << 20, TimeSpan.FromSeconds(3), 12, 1000, 2000);
        Assert.Equal(container.Stats, await container.GetStatsAsync(ct));
    }
}
