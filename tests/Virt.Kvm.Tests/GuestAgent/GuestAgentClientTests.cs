using System.Text;
using System.Text.Json.Nodes;
using Virt.Kvm.GuestAgent;
using Virt.Kvm.Testing;
using Virt.Kvm.Tests.Fakes;
using Virt.VirtualMachines;

namespace Virt.Kvm.Tests.GuestAgent;

public sealed class GuestAgentClientTests
{
    private static readonly GuestAgentOptions Fast = new() { DefaultTimeout = TimeSpan.FromSeconds(2), SyncTimeout = TimeSpan.FromMilliseconds(300) };

    [Fact]
    public async Task The_first_command_resynchronizes_with_0xFF_and_skips_the_parse_error_it_provokes()
    {
        await using var agent = new FakeGuestAgent();
        await using var client = await GuestAgentClient.ConnectAsync(agent.SocketPath, Fast, cancellationToken: TestContext.Current.CancellationToken);

        var info = await client.GetOsInfoAsync(TestContext.Current.CancellationToken);

        Assert.Equal("6.1.0-56-amd64", info.KernelRelease);
        Assert.Equal("x86_64", info.Machine);
        Assert.True(info.Other!.ContainsKey("future-member"));
        Assert.Equal(1, agent.Syncs);
        Assert.Contains("guest-sync-delimited", agent.Received[0], StringComparison.Ordinal);
        await client.PingAsync(TestContext.Current.CancellationToken);
        Assert.Equal(1, agent.Syncs);
    }

    [Fact]
    public async Task A_silent_agent_is_a_typed_timeout_within_the_deadline()
    {
        await using var agent = new FakeGuestAgent { Silent = true };
        await using var client = await GuestAgentClient.ConnectAsync(agent.SocketPath, Fast, cancellationToken: TestContext.Current.CancellationToken);
        var watch = System.Diagnostics.Stopwatch.StartNew();

        var error = await Assert.ThrowsAsync<GuestAgentTimeoutException>(() => client.PingAsync(TestContext.Current.CancellationToken));

        Assert.Equal("guest-sync-delimited", error.Command);
        Assert.Contains("qemu-ga", error.Message, StringComparison.Ordinal);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2), $"took {watch.Elapsed}");
    }

    [Fact]
    public async Task After_a_timeout_the_client_resyncs_and_discards_the_stale_reply()
    {
        await using var agent = new FakeGuestAgent();
        // The agent is sequential: the stale reply (after 250 ms) comes before the sync reply, so the
        // sync deadline must cover it; the command's own deadline (100 ms) is what passes.
        await using var client = await GuestAgentClient.ConnectAsync(agent.SocketPath, Fast with { SyncTimeout = TimeSpan.FromSeconds(5) }, cancellationToken: TestContext.Current.CancellationToken);
        await client.PingAsync(TestContext.Current.CancellationToken);
        var slow = new TaskCompletionSource();
        agent.Replies["guest-info"] = _ =>
        {
            slow.TrySetResult();
            Thread.Sleep(250);
            return """{"return": {"version": "stale", "supported_commands": []}}""";
        };

        await Assert.ThrowsAsync<GuestAgentTimeoutException>(() => client.ExecuteAsync("guest-info", null, TimeSpan.FromMilliseconds(100), TestContext.Current.CancellationToken));
        await slow.Task;
        agent.Replies["guest-info"] = _ => """{"return": {"version": "7.2.22", "supported_commands": [{"name": "guest-ping", "enabled": true, "success-response": true}]}}""";

        var info = await client.GetInfoAsync(TestContext.Current.CancellationToken);

        Assert.Equal("7.2.22", info.Version);
        Assert.True(Assert.Single(info.SupportedCommands).SuccessResponse);
        Assert.Equal(2, agent.Syncs);
    }

    [Fact]
    public async Task WaitForReady_keeps_trying_while_the_guest_reboots()
    {
        await using var agent = new FakeGuestAgent { Silent = true };
        await using var client = await GuestAgentClient.ConnectAsync(agent.SocketPath, Fast, cancellationToken: TestContext.Current.CancellationToken);
        _ = Task.Delay(700, TestContext.Current.CancellationToken).ContinueWith(_ => agent.Silent = false, TaskScheduler.Default);

        await client.WaitForReadyAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);

        Assert.True(agent.Syncs >= 1);
        var never = new FakeGuestAgent { Silent = true };
        await using (never)
        {
            await using var other = await GuestAgentClient.ConnectAsync(never.SocketPath, Fast, cancellationToken: TestContext.Current.CancellationToken);
            var error = await Assert.ThrowsAsync<GuestAgentTimeoutException>(() => other.WaitForReadyAsync(TimeSpan.FromMilliseconds(700), TestContext.Current.CancellationToken));
            Assert.Equal("guest-ping", error.Command);
        }
    }

    [Fact]
    public async Task Exec_polls_until_exit_and_decodes_output()
    {
        await using var agent = new FakeGuestAgent();
        var polls = 0;
        agent.Replies["guest-exec"] = command =>
        {
            Assert.True(command["arguments"]!["capture-output"]!.GetValue<bool>());
            Assert.Equal("aW5wdXQ=", command["arguments"]!["input-data"]!.GetValue<string>());
            return """{"return": {"pid": 42}}""";
        };
        agent.Replies["guest-exec-status"] = _ => ++polls < 3
            ? """{"return": {"exited": false}}"""
            : $$$"""{"return": {"exited": true, "exitcode": 3, "out-data": "{{{Convert.ToBase64String("hi\n"u8)}}}", "err-data": "{{{Convert.ToBase64String("err\n"u8)}}}"}}""";
        await using var client = await GuestAgentClient.ConnectAsync(agent.SocketPath, Fast, cancellationToken: TestContext.Current.CancellationToken);

        var result = await client.ExecAsync("/bin/sh", ["-c", "cat; exit 3"], Encoding.UTF8.GetBytes("input"), cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(42, result.Pid);
        Assert.Equal(3, result.ExitCode);
        Assert.Equal("hi\n", result.StandardOutputText);
        Assert.Equal("err\n", result.StandardErrorText);
        Assert.False(result.OutputTruncated);
        Assert.Equal(3, polls);
    }

    [Fact]
    public async Task Agent_errors_are_typed_and_name_the_command()
    {
        await using var agent = new FakeGuestAgent();
        await using var client = await GuestAgentClient.ConnectAsync(agent.SocketPath, Fast, cancellationToken: TestContext.Current.CancellationToken);

        var error = await Assert.ThrowsAsync<GuestAgentException>(() => client.ExecuteAsync("guest-nonsense", cancellationToken: TestContext.Current.CancellationToken));

        Assert.Equal("CommandNotFound", error.ErrorClass);
        Assert.Equal("guest-nonsense", error.Command);
        await client.PingAsync(TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task Shutdown_succeeds_without_a_reply_and_freeze_status_is_typed()
    {
        await using var agent = new FakeGuestAgent();
        agent.Replies["guest-fsfreeze-status"] = _ => """{"return": "frozen"}""";
        await using var client = await GuestAgentClient.ConnectAsync(agent.SocketPath, Fast, cancellationToken: TestContext.Current.CancellationToken);

        await client.ShutdownAsync(GuestShutdownMode.Reboot, TestContext.Current.CancellationToken);

        Assert.Contains(agent.Received, line => line.Contains("\"mode\":\"reboot\"", StringComparison.Ordinal));
        Assert.Equal(GuestFsFreezeStatus.Frozen, await client.GetFreezeStatusAsync(TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task A_closed_channel_is_a_connection_error()
    {
        await using var agent = new FakeGuestAgent();
        await using var client = await GuestAgentClient.ConnectAsync(agent.SocketPath, Fast, cancellationToken: TestContext.Current.CancellationToken);
        await client.PingAsync(TestContext.Current.CancellationToken);
        agent.Disconnect();

        var error = await Assert.ThrowsAnyAsync<Exception>(() => client.PingAsync(TestContext.Current.CancellationToken));

        Assert.IsType<GuestAgentConnectionException>(error);
    }

    [Fact]
    public async Task A_missing_socket_is_named_in_the_error()
    {
        var path = $"/tmp/virt-missing-{Guid.NewGuid():N}.sock";

        var error = await Assert.ThrowsAsync<GuestAgentConnectionException>(() => GuestAgentClient.ConnectAsync(path, cancellationToken: TestContext.Current.CancellationToken));

        Assert.Contains(path, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Files_round_trip_through_open_read_write_close()
    {
        await using var agent = new FakeGuestAgent();
        var stored = Array.Empty<byte>();
        var closed = 0;
        agent.Replies["guest-file-open"] = _ => """{"return": 1000}""";
        agent.Replies["guest-file-write"] = command =>
        {
            stored = Convert.FromBase64String(command["arguments"]!["buf-b64"]!.GetValue<string>());
            return $$$"""{"return": {"count": {{{stored.Length}}}, "eof": false}}""";
        };
        agent.Replies["guest-file-read"] = _ => $$$"""{"return": {"count": {{{stored.Length}}}, "buf-b64": "{{{Convert.ToBase64String(stored)}}}", "eof": true}}""";
        agent.Replies["guest-file-close"] = _ =>
        {
            closed++;
            return """{"return": {}}""";
        };
        await using var client = await GuestAgentClient.ConnectAsync(agent.SocketPath, Fast, cancellationToken: TestContext.Current.CancellationToken);

        await client.WriteFileAsync("/tmp/x", "hello guest"u8.ToArray(), TestContext.Current.CancellationToken);
        var back = await client.ReadFileAsync("/tmp/x", cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal("hello guest", Encoding.UTF8.GetString(back));
        Assert.Equal(2, closed);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => client.ReadFileAsync("/tmp/x", maxBytes: 4, cancellationToken: TestContext.Current.CancellationToken));
        Assert.Equal(3, closed);
    }
}
