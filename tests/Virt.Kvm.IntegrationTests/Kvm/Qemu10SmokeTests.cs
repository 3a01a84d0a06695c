using Virt.Kvm.IntegrationTests.Infrastructure;
using Virt.Kvm.Qmp;
using Virt.VirtualMachines;

namespace Virt.Kvm.IntegrationTests.Kvm;

/// <summary>The smoke lane on QEMU 10.0 (bookworm-backports): start, QMP, shutdown, re-attach.</summary>
[Collection(TestGuestCollection.Name)]
public sealed class Qemu10SmokeTests
{
    [Fact(Timeout = 180_000)]
    public async Task A_VM_on_QEMU_10_starts_answers_QMP_survives_a_manager_restart_and_shuts_down()
    {
        Qemu10.Require();
        await using var host = VmTestHost.Create();
        host.Options.QemuBinary = Qemu10.Binary;
        host.Options.QemuDataDirectory = Qemu10.DataDirectory;
        await host.RestartManagerAsync();
        var ct = TestContext.Current.CancellationToken;
        var vm = await host.Manager.CreateAsync(VmTestHost.GuestSpec("ten"), ct);

        await vm.StartAsync(ct);
        await VmTestHost.WaitForSerialAsync(vm, TestGuest.ReadyMarker);
        var status = await vm.GetStatusAsync(ct);
        Assert.StartsWith("10.0.", status.QemuVersion, StringComparison.Ordinal);

        await host.RestartManagerAsync();
        var again = await host.Manager.GetAsync("ten", ct);
        Assert.Equal(status.Pid, (await again.GetStatusAsync(ct)).Pid);
        await again.PauseAsync(ct);
        Assert.Equal(VmState.Paused, (await again.GetStatusAsync(ct)).State);
        await again.ResumeAsync(ct);
        await again.ShutdownAsync(TimeSpan.FromSeconds(60), cancellationToken: ct);
        Assert.Equal("guest shut down", (await again.GetStatusAsync(ct)).LastExit!.Reason);
    }

    [Fact(Timeout = 60_000)]
    public async Task The_QMP_client_handshakes_with_QEMU_10_and_runs_typed_commands()
    {
        Qemu10.Require();
        await using var qemu = await QemuProcess.StartAsync(["-L", Qemu10.DataDirectory, "-machine", "none", "-S"], binary: Qemu10.Binary);
        await using var client = await QmpClient.ConnectAsync(qemu.QmpSocket, cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(10, client.Greeting.Version.Major);
        Assert.Equal("prelaunch", (await client.QueryStatusAsync(TestContext.Current.CancellationToken)).Status.Value);
        Assert.True((await client.ExecuteAsync("query-qmp-schema", cancellationToken: TestContext.Current.CancellationToken)).GetArrayLength() > 1000);
        await client.QuitAsync(TestContext.Current.CancellationToken);
    }
}

/// <summary>The schema check against the two real QEMU versions.</summary>
public sealed class QmpSchemaCheckTests
{
    [Fact(Timeout = 60_000)]
    public async Task A_command_only_QEMU_10_has_is_refused_on_7_2_before_sending_and_accepted_on_10()
    {
        QemuBinary.Require();
        Qemu10.Require();
        var options = new QmpClientOptions { CheckCommandsAgainstSchema = true };
        var ct = TestContext.Current.CancellationToken;
        await using (var qemu72 = await QemuProcess.StartAsync(["-machine", "none", "-S"]))
        await using (var client = await QmpClient.ConnectAsync(qemu72.QmpSocket, options, cancellationToken: ct))
        {
            var error = await Assert.ThrowsAsync<QmpUnsupportedException>(() => client.ExecuteAsync("query-audiodevs", cancellationToken: ct));
            Assert.StartsWith("7.2.", error.QemuVersion, StringComparison.Ordinal);
        }

        await using (var qemu100 = await QemuProcess.StartAsync(["-L", Qemu10.DataDirectory, "-machine", "none", "-S"], binary: Qemu10.Binary))
        await using (var client = await QmpClient.ConnectAsync(qemu100.QmpSocket, options, cancellationToken: ct))
        {
            var audio = await client.ExecuteAsync("query-audiodevs", cancellationToken: ct);
            Assert.Equal(System.Text.Json.JsonValueKind.Array, audio.ValueKind);
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task The_schema_is_fetched_once_per_QEMU_binary()
    {
        QemuBinary.Require();
        var options = new QmpClientOptions { CheckCommandsAgainstSchema = true };
        var ct = TestContext.Current.CancellationToken;
        await using var first = await QemuProcess.StartAsync(["-machine", "none", "-S"]);
        await using var second = await QemuProcess.StartAsync(["-machine", "none", "-S"]);
        await using var one = await QmpClient.ConnectAsync(first.QmpSocket, options, cancellationToken: ct);
        var logger = new TranscriptLogger();

        await using var two = await QmpClient.ConnectAsync(second.QmpSocket, options, logger, ct);

        Assert.Same(await one.GetSchemaAsync(ct), await two.GetSchemaAsync(ct));
        Assert.DoesNotContain(logger.Lines, line => line.Contains("query-qmp-schema", StringComparison.Ordinal));
        Assert.Contains(logger.Lines, line => line.Contains("qmp_capabilities", StringComparison.Ordinal));
    }
}
