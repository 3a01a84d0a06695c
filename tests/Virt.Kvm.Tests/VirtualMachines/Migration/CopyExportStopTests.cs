using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Virt.Kvm.Qmp;
using Virt.Kvm.Testing;
using Virt.Kvm.VirtualMachines.Migration;

namespace Virt.Kvm.Tests.VirtualMachines.Migration;

/// <summary>
/// The destination's NBD exports of copied disks after the VM's state is in: every export of a copy goes, even one that
/// outlived <c>nbd-server-stop</c> (it would let a client of the hosts' CA write to the running VM's disk), and one that
/// cannot be removed is an error in the log, never an exception (the VM is the only running copy by then).
/// </summary>
public sealed class CopyExportStopTests
{
    [Fact]
    public async Task An_export_that_outlived_the_server_stop_is_removed_by_force_and_no_other_export_is_touched()
    {
        await using var server = new FakeQmpServer(handler: (connection, command) => Answer(connection, command, deleteFails: false));
        await using var qmp = await QmpClient.ConnectAsync(server.SocketPath, cancellationToken: TestContext.Current.CancellationToken);
        var log = new RecordingLogger();

        await CrossHostDiskCopy.StopExportsAsync(qmp, "web", log);

        var deletes = (await server.FirstConnection).Received.Where(command => FakeQmpConnection.NameOf(command) == "block-export-del").ToList();
        Assert.Equal("virt-copy-data", Assert.Single(deletes)["arguments"]!["id"]!.GetValue<string>());
        Assert.Equal("hard", deletes[0]["arguments"]!["mode"]!.GetValue<string>());
        Assert.Empty(log.Errors);
    }

    [Fact]
    public async Task An_export_that_cannot_be_removed_is_logged_as_an_error_naming_it_and_the_fix()
    {
        await using var server = new FakeQmpServer(handler: (connection, command) => Answer(connection, command, deleteFails: true));
        await using var qmp = await QmpClient.ConnectAsync(server.SocketPath, cancellationToken: TestContext.Current.CancellationToken);
        var log = new RecordingLogger();

        await CrossHostDiskCopy.StopExportsAsync(qmp, "web", log);

        var error = Assert.Single(log.Errors);
        Assert.Contains("VM web: the NBD export virt-copy-data", error, StringComparison.Ordinal);
        Assert.Contains("export is busy", error, StringComparison.Ordinal);
        Assert.Contains("block-export-del", error, StringComparison.Ordinal);
    }

    /// <summary>A QEMU whose NBD server is already gone but which still has the copy's export and one of its own.</summary>
    private static async Task<bool> Answer(FakeQmpConnection connection, JsonObject command, bool deleteFails)
    {
        switch (FakeQmpConnection.NameOf(command))
        {
            case "nbd-server-stop":
                await connection.ErrorAsync(command, "GenericError", "NBD server not running");
                return true;
            case "query-block-exports":
                await connection.ReturnAsync(command, new JsonArray(
                    new JsonObject { ["id"] = "virt-copy-data", ["type"] = "nbd", ["node-name"] = "data", ["shutting-down"] = false },
                    new JsonObject { ["id"] = "backup-export", ["type"] = "nbd", ["node-name"] = "root", ["shutting-down"] = false }));
                return true;
            case "block-export-del" when deleteFails:
                await connection.ErrorAsync(command, "GenericError", "export is busy");
                return true;
            case "block-export-del":
                await connection.ReturnAsync(command, new JsonObject());
                return true;
            default:
                return false;
        }
    }

    private sealed class RecordingLogger : ILogger
    {
        public List<string> Errors { get; } = [];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel >= LogLevel.Error)
            {
                Errors.Add(formatter(state, exception));
            }
        }
    }
}
