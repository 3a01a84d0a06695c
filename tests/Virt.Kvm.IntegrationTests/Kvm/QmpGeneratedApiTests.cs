using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using Virt.Kvm.IntegrationTests.Infrastructure;
using Virt.Kvm.Qmp;
using Virt.Kvm.Qmp.Api;

namespace Virt.Kvm.IntegrationTests.Kvm;

/// <summary>The generated QMP API against real QEMU 7.2 (Debian 12) and 10.0 (bookworm-backports).</summary>
public sealed class QmpGeneratedApiTests
{
    public static TheoryData<string, string> Machines => new()
    {
        { "7.2", "none" },
        { "7.2", "q35" },
        { "10.0", "none" },
        { "10.0", "q35" },
    };

    public static TheoryData<string> Versions => ["7.2", "10.0"];

    private static Task<QemuProcess> StartAsync(string version, string machine, params string[] extra)
    {
        string[] arguments = ["-machine", machine, "-S", "-nographic", "-name", "virt-api-" + machine, .. extra];
        if (version == "10.0")
        {
            Qemu10.Require();
            return QemuProcess.StartAsync(["-L", Qemu10.DataDirectory, .. arguments], binary: Qemu10.Binary);
        }

        QemuBinary.Require();
        return QemuProcess.StartAsync(arguments);
    }

    private static Task<QmpClient> ConnectAsync(QemuProcess qemu) =>
        QmpClient.ConnectAsync(qemu.QmpSocket, new QmpClientOptions { CheckCommandsAgainstSchema = true }, cancellationToken: TestContext.Current.CancellationToken);

    [Theory(Timeout = 120_000)]
    [MemberData(nameof(Machines))]
    public async Task Every_query_without_arguments_reads_into_its_generated_type_with_nothing_lost(string version, string machine)
    {
        await using var qemu = await StartAsync(version, machine);
        await using var client = await ConnectAsync(qemu);
        var ct = TestContext.Current.CancellationToken;

        // The live schema, read through the generated API itself (a list of a union on meta-type).
        var schema = await client.QueryQmpSchemaAsync(ct);
        var emptyObjects = schema.OfType<QueryQmpSchemaResultObject>().Where(o => o.Members.Count == 0 && o.Variants is null).Select(o => o.Name).ToHashSet();
        var queries = schema.OfType<QueryQmpSchemaResultCommand>()
            .Where(c => (c.Name.StartsWith("query-", StringComparison.Ordinal) || c.Name.StartsWith("x-query-", StringComparison.Ordinal)) && emptyObjects.Contains(c.ArgType))
            .Select(c => c.Name)
            .Order(StringComparer.Ordinal)
            .ToList();

        var problems = new List<string>();
        var checkedQueries = new List<string>();
        foreach (var query in queries)
        {
            JsonElement raw;
            try
            {
                raw = await client.ExecuteAsync(query, cancellationToken: ct);
            }
            catch (QmpException)
            {
                continue; // Not applicable to this machine (no balloon, no SEV, no migration yet...).
            }

            // Without arguments, or (a command that took none in 7.2 but takes optional ones in 10.0) with null.
            var method = typeof(QmpCommands).GetMethods().SingleOrDefault(m => m.Name == Pascal(query) + "Async"
                && m.GetParameters() is { Length: 2 or 3 } p && p[^1].ParameterType == typeof(CancellationToken) && (p.Length == 2 || p[1].IsOptional));
            if (method is null)
            {
                problems.Add($"{query}: no generated method");
                continue;
            }

            // The typed call itself, then the raw reply read into the same type and written back.
            var task = (Task)method.Invoke(null, method.GetParameters().Length == 2 ? [client, ct] : [client, null, ct])!;
            await task;
            var typed = task.GetType().GetProperty("Result")!.GetValue(task);
            var resultType = method.ReturnType.GetGenericArguments()[0];
            var reread = raw.Deserialize(QmpApiJson.Options.GetTypeInfo(resultType));
            var written = JsonSerializer.SerializeToNode(reread, QmpApiJson.Options.GetTypeInfo(resultType));
            if (FirstDifference(JsonNode.Parse(raw.GetRawText()), written, query) is { } difference)
            {
                problems.Add($"written back differs at {difference}");
            }

            problems.AddRange(QmpApiChecks.Leftovers(typed, query).Select(p => $"unknown member {p}"));
            checkedQueries.Add(query);
        }

        Assert.True(problems.Count == 0, $"QEMU {version} -machine {machine}: " + string.Join("\n", problems));
        Assert.True(checkedQueries.Count >= 30, $"only {checkedQueries.Count} of {queries.Count} queries answered: {string.Join(", ", checkedQueries)}");
        Assert.Contains("query-qmp-schema", checkedQueries);
    }

    [Theory(Timeout = 120_000)]
    [MemberData(nameof(Versions))]
    public async Task Generated_arguments_are_accepted_by_QEMU(string version)
    {
        await using var qemu = await StartAsync(version, "q35", "-device", "pcie-root-port,id=api-rp,chassis=1,bus=pcie.0");
        await using var client = await ConnectAsync(qemu);
        var ct = TestContext.Current.CancellationToken;

        var machine = await client.QomListAsync(new QomListArguments { Path = "/machine" }, ct);
        var type = await client.QomGetAsync(new QomGetArguments { Path = "/machine", Property = "type" }, ct);
        var properties = await client.DeviceListPropertiesAsync(new DeviceListPropertiesArguments { Typename = "virtio-blk-pci" }, ct);
        var backendProperties = await client.QomListPropertiesAsync(new QomListPropertiesArguments { Typename = "memory-backend-ram" }, ct);
        var expansion = await client.QueryCpuModelExpansionAsync(
            new QueryCpuModelExpansionArguments { Type = QueryCpuModelExpansionArgumentsType.Full, Model = new QueryCpuModelExpansionArgumentsModel { Name = "qemu64" } }, ct);
        var hmp = await client.HumanMonitorCommandAsync(new HumanMonitorCommandArguments { CommandLine = "info version" }, ct);

        // A flat union (blockdev-add), an object union (object-add), a simple union with a data wrapper (chardev-add).
        await client.BlockdevAddAsync(new BlockdevAddArgumentsNullCo { NodeName = "api-null", Size = 1 << 20, ReadZeroes = true }, ct);
        var nodes = await client.QueryNamedBlockNodesAsync(cancellationToken: ct);
        await client.BlockdevDelAsync(new BlockdevDelArguments { NodeName = "api-null" }, ct);
        await client.ObjectAddAsync(new ObjectAddArgumentsMemoryBackendRam { Id = "api-mem", Size = 4 << 20 }, ct);
        var objects = await client.QomListAsync(new QomListArguments { Path = "/objects" }, ct);
        await client.ObjectDelAsync(new ObjectDelArguments { Id = "api-mem" }, ct);
        await client.ChardevAddAsync(new ChardevAddArguments { Id = "api-chr", Backend = new ChardevAddArgumentsBackendNull { Data = new ChardevAddArgumentsBackendNullData() } }, ct);
        var chardevs = await client.QueryChardevAsync(ct);
        await client.ChardevRemoveAsync(new ChardevRemoveArguments { Id = "api-chr" }, ct);

        // Free-form device properties travel in ExtensionData.
        await client.DeviceAddAsync(new DeviceAddArguments { Driver = "virtio-rng-pci", Id = "api-rng", Bus = "api-rp", ExtensionData = new() { ["max-bytes"] = JsonSerializer.SerializeToElement(4096) } }, ct);
        var maxBytes = await client.QomGetAsync(new QomGetArguments { Path = "/machine/peripheral/api-rng", Property = "max-bytes" }, ct);
        var peripherals = await client.QomListAsync(new QomListArguments { Path = "/machine/peripheral" }, ct);
        await client.MigrateSetParametersAsync(new MigrateSetParametersArguments { DowntimeLimit = 321 }, ct);
        var parameters = await client.QueryMigrateParametersAsync(ct);

        Assert.Contains(machine, p => p.Name == "peripheral");
        Assert.Equal("pc-q35-" + version + "-machine", type.GetString());
        Assert.Contains(properties, p => p.Name == "drive");
        Assert.Contains(backendProperties, p => p.Name == "size");
        Assert.Equal("qemu64", expansion.Model.Name);
        Assert.Contains("QEMU", hmp + "QEMU", StringComparison.Ordinal);
        Assert.Contains(nodes, n => n.NodeName == "api-null" && n.Drv == "null-co");
        Assert.Contains(objects, o => o.Name == "api-mem");
        Assert.Contains(chardevs, c => c.Label == "api-chr");
        Assert.Contains(peripherals, p => p.Name == "api-rng");
        Assert.Equal(4096, maxBytes.GetInt64());
        Assert.Equal(321, parameters.DowntimeLimit);
    }

    [Theory(Timeout = 60_000)]
    [MemberData(nameof(Versions))]
    public async Task The_capability_check_refuses_on_7_2_what_only_10_0_has_and_lets_it_through_on_10_0(string version)
    {
        await using var qemu = await StartAsync(version, "none");
        await using var client = await ConnectAsync(qemu);
        var ct = TestContext.Current.CancellationToken;
        var zeroPages = new MigrateSetParametersArguments { ZeroPageDetection = MigrateSetParametersArgumentsZeroPageDetection.Legacy };

        if (version == "7.2")
        {
            var command = await Assert.ThrowsAsync<QmpUnsupportedException>(() => client.QueryAudiodevsAsync(ct));
            var member = await Assert.ThrowsAsync<QmpUnsupportedException>(() => client.MigrateSetParametersAsync(zeroPages, ct));
            Assert.Equal("query-audiodevs", command.Command);
            Assert.StartsWith("7.2", command.QemuVersion, StringComparison.Ordinal);
            Assert.Contains("query-audiodevs", command.Message, StringComparison.Ordinal);
            Assert.Equal("zero-page-detection", member.Member);
        }
        else
        {
            Assert.NotNull(await client.QueryAudiodevsAsync(ct));
            await client.MigrateSetParametersAsync(zeroPages, ct);
            Assert.Equal(MigrateSetParametersArgumentsZeroPageDetection.Legacy, (await client.QueryMigrateParametersAsync(ct)).ZeroPageDetection);
        }

        // Either way the connection is healthy: refused calls never reached QEMU.
        Assert.True((await client.QueryStatusAsync(ct)).Running is false);
    }

    /// <summary>The path of the first place two JSON values differ (members in any order), or null.</summary>
    private static string? FirstDifference(JsonNode? expected, JsonNode? actual, string path)
    {
        switch (expected)
        {
            case JsonObject expectedObject when actual is JsonObject actualObject:
                foreach (var (name, value) in expectedObject)
                {
                    if (!actualObject.ContainsKey(name))
                    {
                        return $"{path}.{name} (missing: {value?.ToJsonString()})";
                    }

                    if (FirstDifference(value, actualObject[name], $"{path}.{name}") is { } inner)
                    {
                        return inner;
                    }
                }

                return actualObject.Select(p => p.Key).FirstOrDefault(k => !expectedObject.ContainsKey(k)) is { } extra ? $"{path}.{extra} (added)" : null;
            case JsonArray expectedArray when actual is JsonArray actualArray:
                if (expectedArray.Count != actualArray.Count)
                {
                    return $"{path} (length {expectedArray.Count} vs {actualArray.Count})";
                }

                for (var i = 0; i < expectedArray.Count; i++)
                {
                    if (FirstDifference(expectedArray[i], actualArray[i], $"{path}[{i}]") is { } inner)
                    {
                        return inner;
                    }
                }

                return null;
            default:
                return JsonNode.DeepEquals(expected, actual) ? null : $"{path} ({expected?.ToJsonString()} vs {actual?.ToJsonString()})";
        }
    }

    private static string Pascal(string name) => Virt.Tools.QmpCodegen.Identifiers.Pascal(name);
}
