using System.Text.Json;
using System.Text.Json.Nodes;
using Virt.Kvm.Qmp;
using Virt.Kvm.Qmp.Api;
using Virt.Kvm.Testing;
using Virt.Kvm.Tests.Fakes;

namespace Virt.Kvm.Tests.Qmp;

/// <summary>The schema check against the stored schemas of QEMU 7.2 and 10.0, and against a fake server.</summary>
public sealed class QmpSchemaTests
{
    private static QmpSchema Load(string version)
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(directory!.FullName, "Virt.sln")))
        {
            directory = directory.Parent;
        }

        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(directory.FullName, "schemas", "qmp", $"qemu-{version}.json")));
        return QmpSchema.Parse(document.RootElement.GetProperty("schema"));
    }

    [Fact]
    public void The_stored_schemas_differ_where_QEMU_changed()
    {
        var qemu72 = Load("7.2.22");
        var qemu100 = Load("10.0.2");

        Assert.Equal(216, qemu72.Commands.Count);
        Assert.Equal(233, qemu100.Commands.Count);
        Assert.False(qemu72.HasCommand("blockdev-set-active"));
        Assert.True(qemu100.HasCommand("blockdev-set-active"));
        Assert.True(qemu72.HasCommand("x-query-profile"));
        Assert.False(qemu100.HasCommand("x-query-profile"));
        Assert.True(qemu72.HasEvent("SHUTDOWN"));
        Assert.Equal(new HashSet<string> { "id" }, qemu72.ArgumentMembers("device_del"));
        Assert.Null(qemu72.ArgumentMembers("blockdev-add"));
        Assert.Contains("command-line", qemu100.ArgumentMembers("human-monitor-command")!);
    }

    [Fact]
    public async Task With_the_check_on_unknown_commands_and_arguments_are_refused_before_sending()
    {
        const string Schema = """
            [{"name": "query-status", "meta-type": "command", "arg-type": "0", "ret-type": "1"},
             {"name": "qmp_capabilities", "meta-type": "command", "arg-type": "2", "ret-type": "0"},
             {"name": "device_del", "meta-type": "command", "arg-type": "3", "ret-type": "0"},
             {"name": "query-qmp-schema", "meta-type": "command", "arg-type": "0", "ret-type": "1"},
             {"name": "0", "meta-type": "object", "members": []},
             {"name": "2", "meta-type": "object", "members": [{"name": "enable", "type": "str"}]},
             {"name": "3", "meta-type": "object", "members": [{"name": "id", "type": "str"}]},
             {"name": "SHUTDOWN", "meta-type": "event", "arg-type": "0"}]
            """;
        await using var server = new FakeQmpServer(handler: async (connection, command) =>
        {
            switch (FakeQmpConnection.NameOf(command))
            {
                case "query-qmp-schema":
                    await connection.ReturnAsync(command, JsonNode.Parse(Schema)!);
                    return true;
                case "device_del":
                    await connection.ReturnAsync(command, new JsonObject());
                    return true;
                default:
                    return false;
            }
        });
        await using var client = await QmpClient.ConnectAsync(server.SocketPath, new QmpClientOptions { CheckCommandsAgainstSchema = true }, cancellationToken: TestContext.Current.CancellationToken);

        var unknown = await Assert.ThrowsAsync<QmpUnsupportedException>(() => client.ExecuteAsync("blockdev-set-active", cancellationToken: TestContext.Current.CancellationToken));
        var member = await Assert.ThrowsAsync<QmpUnsupportedException>(() => client.ExecuteAsync("device_del", new JsonObject { ["id"] = "x", ["force"] = true }, cancellationToken: TestContext.Current.CancellationToken));
        await client.DeviceDelAsync(new DeviceDelArguments { Id = "disk1" }, TestContext.Current.CancellationToken);

        Assert.Equal("QEMU 7.2.22 at '" + server.SocketPath + "' has no command 'blockdev-set-active' (its query-qmp-schema does not list it); use a QEMU that has it, or check the name", unknown.Message);
        Assert.Equal("force", member.Member);
        Assert.Equal("7.2.22", member.QemuVersion);
        var sent = (await server.FirstConnection).Received.Select(FakeQmpConnection.NameOf).ToArray();
        Assert.Equal(["qmp_capabilities", "query-qmp-schema", "device_del"], sent);
    }

    [Fact]
    public async Task The_schema_is_fetched_once_per_binary_of_the_named_server_process_though_the_socket_was_bound_by_this_process()
    {
        // The SDK binds QEMU's monitor socket and hands it over, so the peer's credentials name the SDK
        // itself; the pid of the QEMU it spawned (here a stand-in process) names the binary instead.
        var schemaRequests = 0;
        await using var server = new FakeQmpServer(handler: async (connection, command) =>
        {
            if (FakeQmpConnection.NameOf(command) != "query-qmp-schema")
            {
                return false;
            }

            Interlocked.Increment(ref schemaRequests);
            await connection.ReturnAsync(command, JsonNode.Parse("""[{"name": "query-status", "meta-type": "command", "arg-type": "0", "ret-type": "0"}, {"name": "0", "meta-type": "object", "members": []}]""")!);
            return true;
        });
        using var standIn = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("/usr/bin/tail", ["-f", "/dev/null"]) { RedirectStandardInput = true })!;
        try
        {
            var named = new QmpClientOptions { CheckCommandsAgainstSchema = true, ServerProcessId = standIn.Id };
            await (await QmpClient.ConnectAsync(server.SocketPath, named, cancellationToken: TestContext.Current.CancellationToken)).DisposeAsync();
            await (await QmpClient.ConnectAsync(server.SocketPath, named, cancellationToken: TestContext.Current.CancellationToken)).DisposeAsync();
            Assert.Equal(1, Volatile.Read(ref schemaRequests));

            // Unnamed, the in-process server is no QEMU binary: its schema is asked for each time.
            await (await QmpClient.ConnectAsync(server.SocketPath, new QmpClientOptions { CheckCommandsAgainstSchema = true }, cancellationToken: TestContext.Current.CancellationToken)).DisposeAsync();
            Assert.Equal(2, Volatile.Read(ref schemaRequests));
        }
        finally
        {
            standIn.Kill();
            await standIn.WaitForExitAsync(TestContext.Current.CancellationToken);
        }
    }
}
