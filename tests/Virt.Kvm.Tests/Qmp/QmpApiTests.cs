using System.Text.Json;
using System.Text.Json.Nodes;
using Virt.Kvm.Qmp;
using Virt.Kvm.Qmp.Api;
using Virt.Kvm.Testing;
using Virt.Kvm.Tests.Fakes;
using Virt.Tools.QmpCodegen;

namespace Virt.Kvm.Tests.Qmp;

/// <summary>The generated QMP API: up to date with the schemas, and its wire forms.</summary>
public sealed class QmpApiTests
{
    private static string Serialize<T>(T value) => JsonSerializer.Serialize(value, QmpApiJson.TypeInfo<T>());

    private static T Deserialize<T>(string json) => JsonSerializer.Deserialize(json, QmpApiJson.TypeInfo<T>())!;

    [Fact]
    public void The_checked_in_API_is_what_the_generator_makes_of_the_stored_schemas()
    {
        var generated = Generator.Generate(Path.Combine(RepositoryFiles.Root, "schemas", "qmp"));

        var stale = Generator.Compare(generated, Path.Combine(RepositoryFiles.Root, "src", "Virt.Kvm", "Qmp", "Generated"));

        Assert.True(stale.Count == 0, "run scripts/generate-qmp-api.sh: " + string.Join("; ", stale));
    }

    [Fact]
    public void The_merged_model_covers_every_command_and_event_of_both_versions()
    {
        var model = ModelBuilder.Build(SchemaFile.LoadAll(Path.Combine(RepositoryFiles.Root, "schemas", "qmp")));

        Assert.Equal(["7.2.22", "10.0.2"], model.Schemas.Select(s => s.Version));
        Assert.Equal(235, model.Commands.Count);
        Assert.Equal(57, model.Events.Count);
        Assert.Equal([0], model.Commands.Single(c => c.Name == "x-query-profile").Versions);
        Assert.Equal([1], model.Commands.Single(c => c.Name == "blockdev-set-active").Versions);
        Assert.Equal([0, 1], model.Commands.Single(c => c.Name == "query-status").Versions);
    }

    [Fact]
    public void Versions_are_annotated_and_removed_commands_kept_as_obsolete()
    {
        var removed = typeof(QmpCommands).GetMethods().First(m => m.Name == "XQueryProfileAsync");
        var added = typeof(QmpCommands).GetMethods().First(m => m.Name == "BlockdevSetActiveAsync");
        var common = typeof(QmpCommands).GetMethods().First(m => m.Name == "QueryStatusAsync");

        Assert.Equal(["7.2.22"], removed.GetCustomAttributes(typeof(QmpAvailabilityAttribute), false).Cast<QmpAvailabilityAttribute>().Single().Versions);
        Assert.Contains("10.0.2", ((ObsoleteAttribute)removed.GetCustomAttributes(typeof(ObsoleteAttribute), false).Single()).Message, StringComparison.Ordinal);
        Assert.Equal(["10.0.2"], added.GetCustomAttributes(typeof(QmpAvailabilityAttribute), false).Cast<QmpAvailabilityAttribute>().Single().Versions);
        Assert.Empty(added.GetCustomAttributes(typeof(ObsoleteAttribute), false));
        Assert.Empty(common.GetCustomAttributes(typeof(QmpAvailabilityAttribute), false));
        Assert.NotNull(typeof(QueryStatusResult).GetProperty(nameof(QueryStatusResult.Status))!.GetCustomAttributes(typeof(System.Text.Json.Serialization.JsonPropertyNameAttribute), false).SingleOrDefault());
    }

    [Fact]
    public void A_flat_union_writes_its_discriminator_and_reads_it_in_any_position()
    {
        var raw = new BlockdevAddArgumentsRaw
        {
            NodeName = "disk0",
            ReadOnly = true,
            File = new BlockdevAddArgumentsBlkdebugImage(new BlockdevAddArgumentsFile { Filename = "/var/a.img", Aio = BlockdevAddArgumentsFileAio.Threads }),
        };

        var json = Serialize<BlockdevAddArguments>(raw);
        var read = Deserialize<BlockdevAddArguments>("""{"node-name": "disk0", "file": "other-node", "driver": "raw"}""");

        Assert.Equal("""{"driver":"raw","file":{"driver":"file","filename":"/var/a.img","aio":"threads"},"node-name":"disk0","read-only":true}""", json);
        var typed = Assert.IsType<BlockdevAddArgumentsRaw>(read);
        Assert.Equal(BlockdevAddArgumentsDriver.Raw, typed.Driver.GetValueOrDefault());
        Assert.Equal("other-node", typed.File.AsString);
        Assert.Null(typed.File.AsObject);
    }

    [Fact]
    public void A_union_case_this_API_does_not_know_reads_as_its_other_case_class_with_nothing_lost()
    {
        const string Json = """{"driver":"future-driver","node-name":"n1","future-option":5}""";

        var read = Deserialize<BlockdevAddArguments>(Json);

        var other = Assert.IsType<BlockdevAddArgumentsOtherCase>(read);
        Assert.Equal("future-driver", other.Driver?.Value);
        Assert.Equal("n1", other.NodeName);
        Assert.Equal(5, other.ExtensionData!["future-option"].GetInt32());
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(Json), JsonNode.Parse(Serialize(read))));
    }

    [Fact]
    public void Unknown_enum_values_and_members_of_a_newer_QEMU_round_trip_unchanged()
    {
        const string Reply = """{"running":true,"status":"future-state","future-member":{"a":[1,2]}}""";

        var status = Deserialize<QueryStatusResult>(Reply);

        Assert.Equal("future-state", status.Status.Value);
        Assert.DoesNotContain(status.Status, QueryStatusResultStatus.Values);
        Assert.Equal(QueryStatusResultStatus.Running, Deserialize<QueryStatusResult>("""{"running":true,"status":"running"}""").Status);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(Reply), JsonNode.Parse(Serialize(status))));
    }

    [Fact]
    public void Alternates_are_told_apart_by_JSON_kind_including_null()
    {
        var reset = new MigrateSetParametersArguments { TlsCreds = MigrateSetParametersArgumentsTlsCreds.Null, TlsHostname = "host.example" };

        var json = Serialize(reset);
        var back = Deserialize<MigrateSetParametersArguments>(json);

        Assert.Equal("""{"tls-creds":null,"tls-hostname":"host.example"}""", json);
        Assert.True(back.TlsCreds!.IsNull);
        Assert.Equal("host.example", back.TlsHostname!.AsString);
        Assert.Throws<JsonException>(() => Deserialize<MigrateSetParametersArguments>("""{"tls-creds": 5}"""));
    }

    [Fact]
    public void Events_read_into_their_generated_classes()
    {
        var data = JsonDocument.Parse("""{"guest": true, "reason": "guest-shutdown"}""").RootElement;
        var shutdown = new QmpEvent("SHUTDOWN", DateTimeOffset.UnixEpoch, data);

        var typed = Assert.IsType<ShutdownEvent>(shutdown.ToTyped());
        var powerdown = new QmpEvent("POWERDOWN", DateTimeOffset.UnixEpoch, null).ToTyped();

        Assert.True(typed.Guest);
        Assert.Equal(ResetEventReason.GuestShutdown, typed.Reason);
        Assert.IsType<PowerdownEvent>(powerdown);
        Assert.Null(new QmpEvent("FUTURE_EVENT", DateTimeOffset.UnixEpoch, null).ToTyped());
        Assert.Throws<ArgumentException>(() => shutdown.As<PowerdownEvent>());
        Assert.Equal(typeof(ShutdownEvent), QmpEventTypes.DataType("SHUTDOWN"));
    }

    [Fact]
    public async Task The_schema_check_refuses_typed_calls_the_connected_QEMU_lacks_before_sending()
    {
        // The fake greets as QEMU 7.2.22 and answers query-qmp-schema with 7.2.22's real schema.
        await using var server = new FakeQmpServer();
        await using var client = await QmpClient.ConnectAsync(server.SocketPath, new QmpClientOptions { CheckCommandsAgainstSchema = true }, cancellationToken: TestContext.Current.CancellationToken);
        var ct = TestContext.Current.CancellationToken;

        var command = await Assert.ThrowsAsync<QmpUnsupportedException>(() => client.BlockdevSetActiveAsync(new BlockdevSetActiveArguments { Active = true }, ct));
        var member = await Assert.ThrowsAsync<QmpUnsupportedException>(() => client.MigrateSetParametersAsync(new MigrateSetParametersArguments { ZeroPageDetection = MigrateSetParametersArgumentsZeroPageDetection.None }, ct));
        await client.QueryStatusAsync(ct);

        Assert.Equal("blockdev-set-active", command.Command);
        Assert.Equal("7.2.22", command.QemuVersion);
        Assert.Equal("zero-page-detection", member.Member);
        Assert.Contains("zero-page-detection", member.Message, StringComparison.Ordinal);
        Assert.Equal(["qmp_capabilities", "query-qmp-schema", "query-status"], (await server.FirstConnection).Received.Select(FakeQmpConnection.NameOf));
    }

    [Fact]
    public void The_schema_check_knows_union_cases_and_free_form_device_properties()
    {
        var schema = QmpSchema.Parse(JsonDocument.Parse(RepositoryFiles.Qemu72Schema.ToJsonString()).RootElement);

        Assert.Null(schema.FindUnsupportedArgument("blockdev-add", new JsonObject { ["driver"] = "raw", ["node-name"] = "a", ["file"] = "b", ["offset"] = 0 }));
        Assert.Equal("offset", schema.FindUnsupportedArgument("blockdev-add", new JsonObject { ["driver"] = "qcow2", ["node-name"] = "a", ["file"] = "b", ["offset"] = 0 }));
        Assert.Equal("driver=no-such-driver", schema.FindUnsupportedArgument("blockdev-add", new JsonObject { ["driver"] = "no-such-driver" }));
        Assert.Null(schema.FindUnsupportedArgument("device_add", new JsonObject { ["driver"] = "virtio-blk-pci", ["drive"] = "d0", ["id"] = "vdb" }));
    }
}
