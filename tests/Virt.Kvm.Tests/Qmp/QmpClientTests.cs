using System.Text.Json;
using System.Text.Json.Nodes;
using Virt.Kvm.Qmp;
using Virt.Kvm.Qmp.Api;
using Virt.Kvm.Testing;
using Virt.Kvm.Tests.Fakes;

namespace Virt.Kvm.Tests.Qmp;

public sealed class QmpClientTests
{
    private static readonly QmpClientOptions FastOptions = new() { HandshakeTimeout = TimeSpan.FromSeconds(5), DefaultTimeout = TimeSpan.FromSeconds(5) };

    [Fact]
    public async Task Connect_parses_the_greeting_and_negotiates_oob_when_offered()
    {
        await using var server = new FakeQmpServer();
        await using var client = await QmpClient.ConnectAsync(server.SocketPath, FastOptions, cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(new QmpVersion(7, 2, 22, "Debian 1:7.2+dfsg-7+deb12u18"), client.Greeting.Version);
        Assert.Equal(["oob"], client.Greeting.Capabilities);
        Assert.True(client.OutOfBandEnabled);
        var connection = await server.FirstConnection;
        var capabilities = connection.Received[0];
        Assert.Equal("qmp_capabilities", FakeQmpConnection.NameOf(capabilities));
        Assert.Equal("oob", capabilities["arguments"]!["enable"]![0]!.GetValue<string>());
    }

    [Fact]
    public async Task Connect_does_not_ask_for_oob_when_the_server_does_not_offer_it()
    {
        await using var server = new FakeQmpServer("""{"QMP": {"version": {"qemu": {"micro": 0, "minor": 0, "major": 8}, "package": ""}, "capabilities": []}}""");
        await using var client = await QmpClient.ConnectAsync(server.SocketPath, FastOptions, cancellationToken: TestContext.Current.CancellationToken);

        Assert.False(client.OutOfBandEnabled);
        Assert.Null((await server.FirstConnection).Received[0]["arguments"]);
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => client.ExecuteAsync("yank", null, new QmpCallOptions { OutOfBand = true }, TestContext.Current.CancellationToken));
        Assert.Contains("oob", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Typed_query_status_deserializes_the_reply()
    {
        await using var server = new FakeQmpServer();
        await using var client = await QmpClient.ConnectAsync(server.SocketPath, FastOptions, cancellationToken: TestContext.Current.CancellationToken);

        var status = await client.QueryStatusAsync(TestContext.Current.CancellationToken);

        Assert.True(status.Running);
        Assert.Equal(QueryStatusResultStatus.Running, status.Status);
#pragma warning disable CS0618 // singlestep is a QEMU 7.2 member (the fake greets as 7.2): marked obsolete because 10.0 dropped it
        Assert.False(status.Singlestep);
#pragma warning restore CS0618
        Assert.Null(status.ExtensionData);
    }

    [Fact]
    public async Task Replies_are_matched_by_id_when_they_arrive_out_of_order_from_many_threads()
    {
        var held = new List<(FakeQmpConnection Connection, JsonObject Command)>();
        const int count = 200;
        await using var server = new FakeQmpServer(handler: async (connection, command) =>
        {
            if (FakeQmpConnection.NameOf(command) != "echo")
            {
                return false;
            }

            List<(FakeQmpConnection, JsonObject)>? release = null;
            lock (held)
            {
                held.Add((connection, command));
                if (held.Count == count)
                {
                    release = [.. held];
                }
            }

            if (release is not null)
            {
                release.Reverse();
                foreach (var (c, cmd) in release)
                {
                    await c.ReturnAsync(cmd, new JsonObject { ["n"] = cmd["arguments"]!["n"]!.GetValue<int>() });
                }
            }

            return true;
        });
        await using var client = await QmpClient.ConnectAsync(server.SocketPath, FastOptions, cancellationToken: TestContext.Current.CancellationToken);

        var calls = Enumerable.Range(0, count).Select(n => Task.Run(() => client.ExecuteAsync("echo", new JsonObject { ["n"] = n }, cancellationToken: TestContext.Current.CancellationToken))).ToArray();
        var results = await Task.WhenAll(calls);

        for (var n = 0; n < count; n++)
        {
            Assert.Equal(n, results[n].GetProperty("n").GetInt32());
        }
    }

    [Fact]
    public async Task An_error_reply_becomes_a_QmpException_and_the_connection_stays_usable()
    {
        await using var server = new FakeQmpServer();
        await using var client = await QmpClient.ConnectAsync(server.SocketPath, FastOptions, cancellationToken: TestContext.Current.CancellationToken);

        var error = await Assert.ThrowsAsync<QmpException>(() => client.ExecuteAsync("no-such-command", cancellationToken: TestContext.Current.CancellationToken));

        Assert.Equal("CommandNotFound", error.ErrorClass);
        Assert.Equal("The command no-such-command has not been found", error.Description);
        Assert.Equal("no-such-command", error.Command);
        Assert.Contains(server.SocketPath, error.Message, StringComparison.Ordinal);
        Assert.True((await client.QueryStatusAsync(TestContext.Current.CancellationToken)).Running);
    }

    [Fact]
    public async Task A_timed_out_call_fails_with_a_TimeoutException_the_late_reply_is_discarded_and_the_connection_stays_usable()
    {
        var slow = new TaskCompletionSource<(FakeQmpConnection, JsonObject)>();
        await using var server = new FakeQmpServer(handler: (connection, command) =>
        {
            if (FakeQmpConnection.NameOf(command) == "slow")
            {
                slow.TrySetResult((connection, command));
                return Task.FromResult(true);
            }

            return Task.FromResult(false);
        });
        await using var client = await QmpClient.ConnectAsync(server.SocketPath, FastOptions, cancellationToken: TestContext.Current.CancellationToken);

        var error = await Assert.ThrowsAsync<QmpTimeoutException>(() => client.ExecuteAsync("slow", null, new QmpCallOptions { Timeout = TimeSpan.FromMilliseconds(100) }, TestContext.Current.CancellationToken));
        Assert.IsAssignableFrom<TimeoutException>(error);
        Assert.Equal("slow", error.Operation);
        Assert.Equal(TimeSpan.FromMilliseconds(100), error.Timeout);

        var (connection, command) = await slow.Task;
        await connection.ReturnAsync(command, new JsonObject { ["late"] = true });
        var status = await client.QueryStatusAsync(TestContext.Current.CancellationToken);
        Assert.True(status.Running);
        Assert.True(client.IsConnected);
    }

    [Fact]
    public async Task The_per_command_timeout_table_applies_when_the_call_names_none()
    {
        await using var server = new FakeQmpServer(handler: (_, command) => Task.FromResult(FakeQmpConnection.NameOf(command) == "never"));
        var options = FastOptions with { CommandTimeouts = new Dictionary<string, TimeSpan> { ["never"] = TimeSpan.FromMilliseconds(50) } };
        await using var client = await QmpClient.ConnectAsync(server.SocketPath, options, cancellationToken: TestContext.Current.CancellationToken);

        var error = await Assert.ThrowsAsync<QmpTimeoutException>(() => client.ExecuteAsync("never", cancellationToken: TestContext.Current.CancellationToken));

        Assert.Equal(TimeSpan.FromMilliseconds(50), error.Timeout);
        Assert.Equal(TimeSpan.FromSeconds(60), new QmpClientOptions().GetTimeout("device_add"));
        Assert.Equal(TimeSpan.FromSeconds(5), new QmpClientOptions().GetTimeout("query-status"));
    }

    [Fact]
    public async Task Cancelling_a_call_cancels_only_that_call()
    {
        await using var server = new FakeQmpServer(handler: (_, command) => Task.FromResult(FakeQmpConnection.NameOf(command) == "never"));
        await using var client = await QmpClient.ConnectAsync(server.SocketPath, FastOptions, cancellationToken: TestContext.Current.CancellationToken);
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(50));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.ExecuteAsync("never", cancellationToken: cancel.Token));

        Assert.True((await client.QueryStatusAsync(TestContext.Current.CancellationToken)).Running);
    }

    [Fact]
    public async Task A_server_closing_mid_reply_fails_every_pending_call_with_the_cause()
    {
        await using var server = new FakeQmpServer(handler: async (connection, command) =>
        {
            if (FakeQmpConnection.NameOf(command) != "cut")
            {
                return false;
            }

            await connection.SendRawAsync("{\"return\": {\"half\":"u8.ToArray());
            connection.Close();
            return true;
        });
        await using var client = await QmpClient.ConnectAsync(server.SocketPath, FastOptions, cancellationToken: TestContext.Current.CancellationToken);
        var other = client.ExecuteAsync("never-answered-1", cancellationToken: TestContext.Current.CancellationToken);

        var error = await Assert.ThrowsAsync<QmpConnectionException>(() => client.ExecuteAsync("cut", cancellationToken: TestContext.Current.CancellationToken));

        var cause = Assert.IsType<QmpProtocolException>(error.InnerException);
        Assert.Contains("middle of a message", cause.Message, StringComparison.Ordinal);
        Assert.StartsWith("{\"return\"", cause.Received, StringComparison.Ordinal);
        await Assert.ThrowsAnyAsync<VirtException>(() => other);
        Assert.False(client.IsConnected);
        var after = await Assert.ThrowsAsync<QmpConnectionException>(() => client.QueryStatusAsync(TestContext.Current.CancellationToken));
        Assert.Contains("middle of a message", after.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_garbage_line_faults_the_connection_and_every_pending_call()
    {
        await using var server = new FakeQmpServer(handler: async (connection, command) =>
        {
            if (FakeQmpConnection.NameOf(command) != "garbage")
            {
                return false;
            }

            await connection.SendLineAsync("this is not json at all");
            return true;
        });
        await using var client = await QmpClient.ConnectAsync(server.SocketPath, FastOptions, cancellationToken: TestContext.Current.CancellationToken);

        var error = await Assert.ThrowsAsync<QmpConnectionException>(() => client.ExecuteAsync("garbage", cancellationToken: TestContext.Current.CancellationToken));

        var cause = Assert.IsType<QmpProtocolException>(error.InnerException);
        Assert.Equal("this is not json at all", cause.Received);
        Assert.False(client.IsConnected);
    }

    [Fact]
    public async Task A_10_MiB_reply_is_received_whole()
    {
        var big = new string('x', 10 * 1024 * 1024);
        await using var server = new FakeQmpServer(handler: async (connection, command) =>
        {
            if (FakeQmpConnection.NameOf(command) != "big")
            {
                return false;
            }

            await connection.ReturnAsync(command, new JsonObject { ["blob"] = big });
            return true;
        });
        await using var client = await QmpClient.ConnectAsync(server.SocketPath, FastOptions, cancellationToken: TestContext.Current.CancellationToken);

        var result = await client.ExecuteAsync("big", cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(big.Length, result.GetProperty("blob").GetString()!.Length);
        Assert.True((await client.QueryStatusAsync(TestContext.Current.CancellationToken)).Running);
    }

    [Fact]
    public async Task A_reply_over_the_size_cap_closes_the_connection_with_a_clear_error()
    {
        await using var server = new FakeQmpServer(handler: async (connection, command) =>
        {
            if (FakeQmpConnection.NameOf(command) != "big")
            {
                return false;
            }

            await connection.ReturnAsync(command, new JsonObject { ["blob"] = new string('x', 2 * 1024 * 1024) });
            return true;
        });
        await using var client = await QmpClient.ConnectAsync(server.SocketPath, FastOptions with { MaxMessageSize = 1024 * 1024 }, cancellationToken: TestContext.Current.CancellationToken);

        var error = await Assert.ThrowsAsync<QmpConnectionException>(() => client.ExecuteAsync("big", cancellationToken: TestContext.Current.CancellationToken));

        var cause = Assert.IsType<QmpProtocolException>(error.InnerException);
        Assert.Contains("1,048,576-byte cap", cause.Message, StringComparison.Ordinal);
        Assert.Contains(server.SocketPath, cause.Message, StringComparison.Ordinal);
        Assert.StartsWith("{\"return\":{\"blob\":\"xxx", cause.Received, StringComparison.Ordinal);
        Assert.False(client.IsConnected);
    }

    [Fact]
    public async Task An_error_without_id_fails_every_pending_call()
    {
        await using var server = new FakeQmpServer(handler: async (connection, command) =>
        {
            switch (FakeQmpConnection.NameOf(command))
            {
                case "hang":
                    return true;
                case "broken":
                    await connection.SendLineAsync("""{"error": {"class": "GenericError", "desc": "JSON parse error, invalid keyword"}}""");
                    return true;
                default:
                    return false;
            }
        });
        await using var client = await QmpClient.ConnectAsync(server.SocketPath, FastOptions, cancellationToken: TestContext.Current.CancellationToken);
        var hanging = Enumerable.Range(0, 5).Select(_ => client.ExecuteAsync("hang", cancellationToken: TestContext.Current.CancellationToken)).ToArray();

        var error = await Assert.ThrowsAsync<QmpConnectionException>(() => client.ExecuteAsync("broken", cancellationToken: TestContext.Current.CancellationToken));

        Assert.Contains("without an id", error.Message, StringComparison.Ordinal);
        foreach (var call in hanging)
        {
            var pendingError = await Assert.ThrowsAsync<QmpConnectionException>(() => call);
            Assert.IsType<QmpProtocolException>(pendingError.InnerException);
        }
    }

    [Fact]
    public async Task A_flood_of_100000_events_never_stalls_commands_and_overflow_is_counted()
    {
        const int flood = 100_000;
        await using var server = new FakeQmpServer(handler: async (connection, command) =>
        {
            if (FakeQmpConnection.NameOf(command) != "flood")
            {
                return false;
            }

            var payload = new System.Text.StringBuilder();
            for (var i = 0; i < flood; i++)
            {
                payload.Append("{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": \"FLOOD\", \"data\": {\"n\": ").Append(i).Append("}}\r\n");
            }

            await connection.SendRawAsync(System.Text.Encoding.UTF8.GetBytes(payload.ToString()));
            await connection.ReturnAsync(command, new JsonObject());
            return true;
        });
        await using var client = await QmpClient.ConnectAsync(server.SocketPath, FastOptions with { DefaultTimeout = TimeSpan.FromSeconds(60) }, cancellationToken: TestContext.Current.CancellationToken);
        using var stalled = client.Subscribe(new QmpSubscriptionOptions { Capacity = 1000 });
        using var newestDropped = client.Subscribe(new QmpSubscriptionOptions { Capacity = 10, OverflowPolicy = QmpEventOverflowPolicy.DropNewest });
        using var failing = client.Subscribe(new QmpSubscriptionOptions { Capacity = 10, OverflowPolicy = QmpEventOverflowPolicy.Fail });
        using var complete = client.Subscribe(new QmpSubscriptionOptions { Capacity = flood, EventNames = ["FLOOD"] });
        using var unrelated = client.Subscribe(new QmpSubscriptionOptions { EventNames = ["SHUTDOWN"] });

        await client.ExecuteAsync("flood", cancellationToken: TestContext.Current.CancellationToken);
        Assert.True((await client.QueryStatusAsync(TestContext.Current.CancellationToken)).Running);

        Assert.Equal(flood, client.EventsReceived);
        Assert.Equal(flood - 1000, stalled.LostEvents);
        Assert.Equal((flood - 1000), (await stalled.ReadAsync(TestContext.Current.CancellationToken))!.Data!.Value.GetProperty("n").GetInt32());
        Assert.Equal(flood - 10, newestDropped.LostEvents);
        Assert.Equal(0, (await newestDropped.ReadAsync(TestContext.Current.CancellationToken))!.Data!.Value.GetProperty("n").GetInt32());
        await Assert.ThrowsAsync<QmpEventOverflowException>(async () =>
        {
            await foreach (var _ in failing.WithCancellation(TestContext.Current.CancellationToken))
            {
            }
        });
        Assert.Equal(0, complete.LostEvents);
        var seen = 0;
        while (seen < flood)
        {
            var qmpEvent = await complete.ReadAsync(TestContext.Current.CancellationToken);
            Assert.Equal(seen, qmpEvent!.Data!.Value.GetProperty("n").GetInt32());
            seen++;
        }

        Assert.Equal(0, unrelated.LostEvents);
    }

    [Fact]
    public async Task Slow_replies_within_the_deadline_succeed()
    {
        // The slow reply waits for the fast one to be answered, so "not blocked behind it" holds whatever the load.
        var fastAnswered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = new FakeQmpServer(handler: async (connection, command) =>
        {
            if (FakeQmpConnection.NameOf(command) != "slow")
            {
                return false;
            }

            await fastAnswered.Task;
            await Task.Delay(300);
            await connection.ReturnAsync(command, new JsonObject { ["ok"] = true });
            return true;
        });
        await using var client = await QmpClient.ConnectAsync(server.SocketPath, FastOptions, cancellationToken: TestContext.Current.CancellationToken);

        var slow = client.ExecuteAsync("slow", cancellationToken: TestContext.Current.CancellationToken);
        var fast = await client.QueryStatusAsync(TestContext.Current.CancellationToken);

        Assert.True(fast.Running);
        Assert.False(slow.IsCompleted);
        fastAnswered.SetResult();
        Assert.True((await slow).GetProperty("ok").GetBoolean());
    }

    [Fact]
    public async Task A_server_that_never_greets_times_out_the_handshake_and_leaves_nothing_open()
    {
        await using var server = new FakeQmpServer(greeting: null);

        var error = await Assert.ThrowsAsync<QmpTimeoutException>(() => QmpClient.ConnectAsync(server.SocketPath, FastOptions with { HandshakeTimeout = TimeSpan.FromMilliseconds(200) }, cancellationToken: TestContext.Current.CancellationToken));

        Assert.Equal("handshake", error.Operation);
        Assert.Contains(server.SocketPath, error.Message, StringComparison.Ordinal);
        Assert.Contains("one at a time", error.Message, StringComparison.Ordinal);
        var connection = await server.FirstConnection;
        await connection.ClientClosed.Task.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task A_peer_that_is_not_QMP_is_refused_with_what_it_sent()
    {
        await using var server = new FakeQmpServer(greeting: "SSH-2.0-OpenSSH_9.2p1 Debian-2");

        var error = await Assert.ThrowsAsync<QmpProtocolException>(() => QmpClient.ConnectAsync(server.SocketPath, FastOptions, cancellationToken: TestContext.Current.CancellationToken));

        Assert.Contains(server.SocketPath, error.Message, StringComparison.Ordinal);
        Assert.Equal("SSH-2.0-OpenSSH_9.2p1 Debian-2", error.Received);
        await (await server.FirstConnection).ClientClosed.Task.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task A_JSON_peer_that_does_not_greet_like_QMP_is_refused()
    {
        await using var server = new FakeQmpServer(greeting: """{"hello": "world"}""");

        var error = await Assert.ThrowsAsync<QmpProtocolException>(() => QmpClient.ConnectAsync(server.SocketPath, FastOptions, cancellationToken: TestContext.Current.CancellationToken));

        Assert.Contains("not a QMP server", error.Message, StringComparison.Ordinal);
        Assert.Equal("""{"hello": "world"}""", error.Received);
    }

    [Fact]
    public async Task A_QEMU_older_than_6_is_refused()
    {
        await using var server = new FakeQmpServer("""{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 5}, "package": ""}, "capabilities": ["oob"]}}""");

        var error = await Assert.ThrowsAsync<QmpProtocolException>(() => QmpClient.ConnectAsync(server.SocketPath, FastOptions, cancellationToken: TestContext.Current.CancellationToken));

        Assert.Contains("QEMU 5.2.0", error.Message, StringComparison.Ordinal);
        Assert.Contains("older than 6.0", error.Message, StringComparison.Ordinal);
        Assert.Equal("5.2.0", error.Received);
        await (await server.FirstConnection).ClientClosed.Task.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task A_socket_path_that_does_not_exist_is_named_in_the_error()
    {
        var path = Path.Combine(Path.GetTempPath(), $"virt-missing-{Guid.NewGuid():N}.sock");

        var error = await Assert.ThrowsAsync<QmpConnectionException>(() => QmpClient.ConnectAsync(path, FastOptions, cancellationToken: TestContext.Current.CancellationToken));

        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        Assert.Contains("-qmp unix:", error.Message, StringComparison.Ordinal);
        Assert.Equal(path, error.Endpoint);
    }

    [Fact]
    public async Task When_QEMU_goes_away_every_pending_call_fails_promptly()
    {
        await using var server = new FakeQmpServer(handler: (_, command) => Task.FromResult(FakeQmpConnection.NameOf(command) == "hang"));
        await using var client = await QmpClient.ConnectAsync(server.SocketPath, FastOptions with { DefaultTimeout = TimeSpan.FromMinutes(5) }, cancellationToken: TestContext.Current.CancellationToken);
        using var events = client.Subscribe();
        var pending = Enumerable.Range(0, 50).Select(_ => client.ExecuteAsync("hang", cancellationToken: TestContext.Current.CancellationToken)).ToArray();
        var connection = await server.FirstConnection;
        while (connection.Received.Count < 51)
        {
            await Task.Delay(10, TestContext.Current.CancellationToken);
        }

        var closedAt = System.Diagnostics.Stopwatch.StartNew();
        connection.Close();

        foreach (var call in pending)
        {
            var error = await Assert.ThrowsAsync<QmpConnectionException>(() => call);
            Assert.Contains("closed the QMP connection", error.Message, StringComparison.Ordinal);
        }

        Assert.True(closedAt.Elapsed < TimeSpan.FromSeconds(1), $"pending calls took {closedAt.Elapsed} to fail");
        Assert.Null(await events.ReadAsync(TestContext.Current.CancellationToken));
        await client.Completion.WaitAsync(TimeSpan.FromSeconds(1), TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task Dispose_is_idempotent_and_fails_pending_and_later_calls_clearly()
    {
        await using var server = new FakeQmpServer(handler: (_, command) => Task.FromResult(FakeQmpConnection.NameOf(command) == "hang"));
        var client = await QmpClient.ConnectAsync(server.SocketPath, FastOptions, cancellationToken: TestContext.Current.CancellationToken);
        var pending = client.ExecuteAsync("hang", cancellationToken: TestContext.Current.CancellationToken);

        await client.DisposeAsync();
        await client.DisposeAsync();

        var error = await Assert.ThrowsAsync<QmpConnectionException>(() => pending);
        Assert.Contains("disposed", error.Message, StringComparison.Ordinal);
        var later = await Assert.ThrowsAsync<QmpConnectionException>(() => client.QueryStatusAsync(TestContext.Current.CancellationToken));
        Assert.Contains("disposed", later.Message, StringComparison.Ordinal);
        await (await server.FirstConnection).ClientClosed.Task.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task WaitForEvent_returns_the_first_matching_event_and_times_out_clearly()
    {
        await using var server = new FakeQmpServer(handler: async (connection, command) =>
        {
            if (FakeQmpConnection.NameOf(command) != "device_del")
            {
                return false;
            }

            await connection.ReturnAsync(command, new JsonObject());
            await connection.EventAsync("DEVICE_DELETED", new JsonObject { ["device"] = "other", ["path"] = "/machine/peripheral/other" });
            await connection.EventAsync("DEVICE_DELETED", new JsonObject { ["device"] = "disk1", ["path"] = "/machine/peripheral/disk1" });
            return true;
        });
        await using var client = await QmpClient.ConnectAsync(server.SocketPath, FastOptions, cancellationToken: TestContext.Current.CancellationToken);

        var deleted = client.WaitForEventAsync("DEVICE_DELETED", e => e.GetString("device") == "disk1", TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        await client.DeviceDelAsync(new DeviceDelArguments { Id = "disk1" }, TestContext.Current.CancellationToken);
        var qmpEvent = await deleted;

        Assert.Equal("/machine/peripheral/disk1", qmpEvent.GetString("path"));
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1795760260).AddTicks(268180), qmpEvent.Timestamp);
        var timeout = await Assert.ThrowsAsync<QmpTimeoutException>(() => client.WaitForEventAsync("SHUTDOWN", null, TimeSpan.FromMilliseconds(50), TestContext.Current.CancellationToken));
        Assert.Equal("event SHUTDOWN", timeout.Operation);
    }

    [Fact]
    public async Task Out_of_band_calls_are_sent_as_exec_oob()
    {
        await using var server = new FakeQmpServer(handler: async (connection, command) =>
        {
            if (command["exec-oob"] is null)
            {
                return false;
            }

            await connection.ReturnAsync(command, new JsonArray());
            return true;
        });
        await using var client = await QmpClient.ConnectAsync(server.SocketPath, FastOptions, cancellationToken: TestContext.Current.CancellationToken);

        var result = await client.ExecuteAsync("query-yank", null, new QmpCallOptions { OutOfBand = true }, TestContext.Current.CancellationToken);

        Assert.Equal(JsonValueKind.Array, result.ValueKind);
        Assert.Equal("query-yank", (await server.FirstConnection).Received[^1]["exec-oob"]!.GetValue<string>());
    }

    [Fact]
    public async Task Quit_treats_the_socket_closing_before_the_reply_as_success()
    {
        await using var server = new FakeQmpServer(handler: (connection, command) =>
        {
            if (FakeQmpConnection.NameOf(command) != "quit")
            {
                return Task.FromResult(false);
            }

            connection.Close();
            return Task.FromResult(true);
        });
        await using var client = await QmpClient.ConnectAsync(server.SocketPath, FastOptions, cancellationToken: TestContext.Current.CancellationToken);

        await client.QuitAsync(TestContext.Current.CancellationToken);

        Assert.False(client.IsConnected);
    }

    [Fact]
    public async Task Typed_commands_send_the_wire_names_QEMU_expects()
    {
        await using var server = new FakeQmpServer(handler: async (connection, command) =>
        {
            switch (FakeQmpConnection.NameOf(command))
            {
                case "human-monitor-command":
                    await connection.ReturnAsync(command, JsonValue.Create("7.2.22\r\n"));
                    return true;
                case "blockdev-del" or "device_add" or "stop" or "cont" or "system_reset" or "system_powerdown" or "closefd" or "remove-fd":
                    await connection.ReturnAsync(command, new JsonObject());
                    return true;
                default:
                    return false;
            }
        });
        await using var client = await QmpClient.ConnectAsync(server.SocketPath, FastOptions, cancellationToken: TestContext.Current.CancellationToken);
        var ct = TestContext.Current.CancellationToken;

        Assert.Equal("7.2.22\r\n", await client.HumanMonitorCommandAsync(new HumanMonitorCommandArguments { CommandLine = "info version" }, ct));
        await client.BlockdevDelAsync(new BlockdevDelArguments { NodeName = "disk0" }, ct);
        await client.DeviceAddAsync(new DeviceAddArguments { Driver = "virtio-blk-pci", Id = "vdb", Bus = "rp1", ExtensionData = new() { ["drive"] = JsonSerializer.SerializeToElement("disk0") } }, ct);
        await client.StopAsync(ct);
        await client.ContAsync(ct);
        await client.SystemResetAsync(ct);
        await client.SystemPowerdownAsync(ct);
        await client.ClosefdAsync(new ClosefdArguments { Fdname = "tap0" }, ct);
        await client.RemoveFdAsync(new RemoveFdArguments { FdsetId = 3 }, ct);

        var received = (await server.FirstConnection).Received;
        Assert.Equal("info version", received[1]["arguments"]!["command-line"]!.GetValue<string>());
        Assert.Equal("disk0", received[2]["arguments"]!["node-name"]!.GetValue<string>());
        Assert.Equal("""{"driver":"virtio-blk-pci","bus":"rp1","id":"vdb","drive":"disk0"}""", received[3]["arguments"]!.ToJsonString());
        Assert.Equal("tap0", received[8]["arguments"]!["fdname"]!.GetValue<string>());
        Assert.Equal("""{"fdset-id":3}""", received[9]["arguments"]!.ToJsonString());
    }

    [Fact]
    public async Task Typed_commands_refuse_missing_arguments_before_sending()
    {
        await using var server = new FakeQmpServer();
        await using var client = await QmpClient.ConnectAsync(server.SocketPath, FastOptions, cancellationToken: TestContext.Current.CancellationToken);

        var missing = await Assert.ThrowsAsync<ArgumentNullException>(() => client.BlockdevAddAsync(null!, TestContext.Current.CancellationToken));
        await client.QueryStatusAsync(TestContext.Current.CancellationToken);

        Assert.Equal("arguments", missing.ParamName);
        Assert.Equal(["qmp_capabilities", "query-status"], (await server.FirstConnection).Received.Select(FakeQmpConnection.NameOf));
    }
}
