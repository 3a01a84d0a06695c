using System.Diagnostics;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Win32.SafeHandles;
using Virt.Kvm.IntegrationTests.Infrastructure;
using Virt.Kvm.Qmp;
using Virt.Kvm.Qmp.Api;

namespace Virt.Kvm.IntegrationTests.Kvm;

/// <summary>The QMP client against a real qemu-system-x86_64 on <c>-machine none -S</c>.</summary>
public sealed class QmpAgainstQemuTests
{
    private static readonly string[] MachineNone = ["-machine", "none", "-S", "-name", "virt-it-none"];

    [Fact(Timeout = 60_000)]
    public async Task Handshake_queries_errors_and_a_large_reply_against_real_QEMU()
    {
        QemuBinary.Require();
        await using var qemu = await QemuProcess.StartAsync(MachineNone);
        var logger = new TranscriptLogger();
        await using var client = await QmpClient.ConnectAsync(qemu.QmpSocket, logger: logger, cancellationToken: TestContext.Current.CancellationToken);
        var ct = TestContext.Current.CancellationToken;

        var version = await client.QueryVersionAsync(ct);
        Assert.Equal(client.Greeting.Version.Major, version.Qemu.Major);
        Assert.Equal(client.Greeting.Version.Minor, version.Qemu.Minor);
        Assert.True(client.Greeting.Version.Major >= 6);
        Assert.True(client.OutOfBandEnabled);
        Assert.Equal("virt-it-none", (await client.QueryNameAsync(ct)).Name);

        var status = await client.QueryStatusAsync(ct);
        Assert.False(status.Running);
        Assert.Equal(QueryStatusResultStatus.Prelaunch, status.Status);
        await client.ContAsync(ct);
        Assert.True((await client.QueryStatusAsync(ct)).Running);
        await client.StopAsync(ct);
        Assert.Equal(QueryStatusResultStatus.Paused, (await client.QueryStatusAsync(ct)).Status);

        var notFound = await Assert.ThrowsAsync<QmpException>(() => client.ExecuteAsync("no-such-command", cancellationToken: ct));
        Assert.Equal("CommandNotFound", notFound.ErrorClass);
        var badArgument = await Assert.ThrowsAsync<QmpException>(() => client.DeviceDelAsync(new DeviceDelArguments { Id = "no-such-device" }, ct));
        Assert.Equal("DeviceNotFound", badArgument.ErrorClass);

        var yank = await client.ExecuteAsync("query-yank", null, new QmpCallOptions { OutOfBand = true }, ct);
        Assert.Equal(JsonValueKind.Array, yank.ValueKind);
        var notOob = await Assert.ThrowsAsync<QmpException>(() => client.ExecuteAsync("query-status", null, new QmpCallOptions { OutOfBand = true }, ct));
        Assert.Contains("does not support OOB", notOob.Description, StringComparison.Ordinal);

        var schema = await client.ExecuteAsync("query-qmp-schema", cancellationToken: ct);
        Assert.True(schema.GetArrayLength() > 1000, $"schema has {schema.GetArrayLength()} entries");
        Assert.Contains("QEMU", await client.HumanMonitorCommandAsync(new HumanMonitorCommandArguments { CommandLine = "info version" }, ct) + "QEMU", StringComparison.Ordinal);
        Assert.Empty(await client.QueryBlockAsync(ct));

        Assert.Contains(logger.Lines, line => line.Contains("\"execute\":\"query-status\"", StringComparison.Ordinal));
        Assert.Contains(logger.Lines, line => line.Contains("\"return\"", StringComparison.Ordinal));
    }

    [Fact(Timeout = 60_000)]
    public async Task Two_hundred_commands_from_many_threads_all_complete()
    {
        QemuBinary.Require();
        await using var qemu = await QemuProcess.StartAsync(MachineNone);
        await using var client = await QmpClient.ConnectAsync(qemu.QmpSocket, cancellationToken: TestContext.Current.CancellationToken);

        var calls = Enumerable.Range(0, 200).Select(i => Task.Run(async () => i % 2 == 0
            ? (await client.QueryStatusAsync(TestContext.Current.CancellationToken)).Status.Value
            : (await client.QueryNameAsync(TestContext.Current.CancellationToken)).Name)).ToArray();
        var results = await Task.WhenAll(calls);

        for (var i = 0; i < results.Length; i++)
        {
            Assert.Equal(i % 2 == 0 ? "prelaunch" : "virt-it-none", results[i]);
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task An_already_connected_socketpair_end_handed_to_QEMU_works()
    {
        QemuBinary.Require();
        var (ours, theirs) = Native.CreateSocketPair();
        var socket = new Socket(new SafeSocketHandle(ours, ownsHandle: true));
        QemuProcess qemu;
        try
        {
            qemu = await QemuProcess.StartAsync(
                ["-machine", "none", "-S", "-chardev", $"socket,id=mon0,fd={theirs}", "-mon", "chardev=mon0,mode=control"],
                withQmpSocket: false);
        }
        finally
        {
            Native.Close(theirs);
        }

        await using (qemu)
        {
            await using var client = await QmpClient.ConnectAsync(socket, "socketpair monitor", cancellationToken: TestContext.Current.CancellationToken);

            Assert.Equal("prelaunch", (await client.QueryStatusAsync(TestContext.Current.CancellationToken)).Status.Value);
            Assert.Equal("socketpair monitor", client.Endpoint);
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task QEMU_opens_a_file_it_can_only_reach_through_a_passed_fd_set()
    {
        QemuBinary.Require();
        await using var qemu = await QemuProcess.StartAsync(MachineNone);
        await using var client = await QmpClient.ConnectAsync(qemu.QmpSocket, cancellationToken: TestContext.Current.CancellationToken);
        var ct = TestContext.Current.CancellationToken;
        var image = Path.Combine(qemu.Directory, "passed.img");
        await File.WriteAllBytesAsync(image, new byte[3 * 1024 * 1024], ct);
        using var handle = File.OpenHandle(image, FileMode.Open, FileAccess.ReadWrite);
        File.Delete(image);

        var added = await client.AddFdAsync(handle, new AddFdArguments { Opaque = "passed.img" }, cancellationToken: ct);
        await client.BlockdevAddAsync(
            new BlockdevAddArgumentsRaw
            {
                NodeName = "passed0",
                File = new BlockdevAddArgumentsBlkdebugImage(new BlockdevAddArgumentsFile { Filename = $"/dev/fdset/{added.FdsetId}" }),
            },
            ct);
        var nodes = await client.ExecuteAsync("query-named-block-nodes", cancellationToken: ct);

        var node = nodes.EnumerateArray().Single(n => n.GetProperty("node-name").GetString() == "passed0");
        Assert.Equal(3 * 1024 * 1024, node.GetProperty("image").GetProperty("virtual-size").GetInt64());
        Assert.Equal($"/dev/fdset/{added.FdsetId}", node.GetProperty("file").GetString());
        var fdsets = await client.ExecuteAsync("query-fdsets", cancellationToken: ct);
        var fds = fdsets.EnumerateArray().Single(set => set.GetProperty("fdset-id").GetInt32() == added.FdsetId).GetProperty("fds");
        Assert.Equal("passed.img", fds[0].GetProperty("opaque").GetString());
        Assert.Equal(added.Fd, fds[0].GetProperty("fd").GetInt32());
        await client.BlockdevDelAsync(new BlockdevDelArguments { NodeName = "passed0" }, ct);
        await client.RemoveFdAsync(new RemoveFdArguments { FdsetId = added.FdsetId, Fd = added.Fd }, ct);
    }

    [Fact(Timeout = 60_000)]
    public async Task Getfd_files_a_descriptor_under_a_name_that_closefd_then_releases()
    {
        QemuBinary.Require();
        await using var qemu = await QemuProcess.StartAsync(MachineNone);
        await using var client = await QmpClient.ConnectAsync(qemu.QmpSocket, cancellationToken: TestContext.Current.CancellationToken);
        var ct = TestContext.Current.CancellationToken;
        using var handle = File.OpenHandle("/dev/null", FileMode.Open, FileAccess.ReadWrite);

        var name = new ClosefdArguments { Fdname = "virt-fd" };
        var unknown = await Assert.ThrowsAsync<QmpException>(() => client.ClosefdAsync(name, ct));
        await client.GetfdAsync(new GetfdArguments { Fdname = "virt-fd" }, handle, cancellationToken: ct);
        await client.ClosefdAsync(name, ct);
        var again = await Assert.ThrowsAsync<QmpException>(() => client.ClosefdAsync(name, ct));

        Assert.Contains("virt-fd", unknown.Description, StringComparison.Ordinal);
        Assert.Equal(unknown.Description, again.Description);
    }

    [Fact(Timeout = 60_000)]
    public async Task When_QEMU_is_SIGKILLed_every_call_in_flight_fails_within_one_second()
    {
        QemuBinary.Require();
        await using var qemu = await QemuProcess.StartAsync(MachineNone);
        await using var client = await QmpClient.ConnectAsync(qemu.QmpSocket, new QmpClientOptions { DefaultTimeout = TimeSpan.FromMinutes(5) }, cancellationToken: TestContext.Current.CancellationToken);
        qemu.Signal(Native.SigStop);
        var inFlight = Enumerable.Range(0, 50).Select(_ => client.QueryStatusAsync(TestContext.Current.CancellationToken)).ToArray();
        await Task.Delay(200, TestContext.Current.CancellationToken);
        Assert.All(inFlight, call => Assert.False(call.IsCompleted));

        var killed = Stopwatch.StartNew();
        qemu.Signal(Native.SigKill);
        foreach (var call in inFlight)
        {
            var error = await Assert.ThrowsAsync<QmpConnectionException>(() => call);
            Assert.Contains(qemu.QmpSocket, error.Message, StringComparison.Ordinal);
        }

        var elapsed = killed.Elapsed;
        Assert.True(elapsed < TimeSpan.FromSeconds(1), $"in-flight calls took {elapsed.TotalMilliseconds:0} ms to fail");
        Assert.False(client.IsConnected);
    }

    [Fact(Timeout = 60_000)]
    public async Task Events_from_real_QEMU_arrive_in_subscriptions()
    {
        QemuBinary.Require();
        await using var qemu = await QemuProcess.StartAsync(MachineNone);
        await using var client = await QmpClient.ConnectAsync(qemu.QmpSocket, cancellationToken: TestContext.Current.CancellationToken);
        using var events = client.Subscribe(new QmpSubscriptionOptions { EventNames = ["RESUME", "STOP"] });

        var resumed = client.WaitForEventAsync("RESUME", null, TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        await client.ContAsync(TestContext.Current.CancellationToken);
        await resumed;
        await client.StopAsync(TestContext.Current.CancellationToken);

        Assert.Equal("RESUME", (await events.ReadAsync(TestContext.Current.CancellationToken))!.Name);
        Assert.Equal("STOP", (await events.ReadAsync(TestContext.Current.CancellationToken))!.Name);
        var shutdown = client.WaitForEventAsync("SHUTDOWN", null, TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        await client.QuitAsync(TestContext.Current.CancellationToken);
        Assert.Equal("host-qmp-quit", (await shutdown).GetString("reason"));
        await qemu.WaitForExitAsync(TimeSpan.FromSeconds(10));
    }
}
