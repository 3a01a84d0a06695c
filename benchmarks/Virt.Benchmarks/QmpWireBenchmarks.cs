using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using BenchmarkDotNet.Attributes;
using Virt.Kvm.Qmp;
using Virt.Kvm.Qmp.Api;
using Virt.Kvm.Qmp.Wire;

namespace Virt.Benchmarks;

/// <summary>Parsing and serializing QMP messages, with allocations.</summary>
[MemoryDiagnoser]
public class QmpWireBenchmarks
{
    private static readonly byte[] StatusReply = """{"return": {"status": "running", "singlestep": false, "running": true}, "id": 12345}"""u8.ToArray();
    private static readonly byte[] ShutdownEvent = """{"timestamp": {"seconds": 1795760307, "microseconds": 938776}, "event": "SHUTDOWN", "data": {"guest": true, "reason": "guest-shutdown"}}"""u8.ToArray();
    private static readonly JsonObject DeviceArguments = new() { ["driver"] = "virtio-blk-pci", ["drive"] = "disk1", ["id"] = "vdb", ["bus"] = "rp1" };
    private readonly QmpCommandWriter _writer = new();

    [Benchmark]
    public long ParseReply() => QmpMessageParser.Parse(StatusReply).Id ?? 0;

    [Benchmark]
    public string? ParseEvent() => QmpMessageParser.Parse(ShutdownEvent).EventName;

    [Benchmark]
    public bool ParseAndDeserializeStatus()
    {
        var message = QmpMessageParser.Parse(StatusReply);
        return JsonSerializer.Deserialize(StatusReply.AsSpan(message.PayloadStart, message.PayloadLength), QmpApiJson.TypeInfo<QueryStatusResult>())!.Running;
    }

    [Benchmark]
    public int FormatQueryStatus() => _writer.Format("query-status", 12345, false, (JsonObject?)null, BenchJson.Default.JsonObject).Length;

    [Benchmark]
    public int FormatDeviceAdd() => _writer.Format("device_add", 12345, false, DeviceArguments, BenchJson.Default.JsonObject).Length;
}

[JsonSerializable(typeof(JsonObject))]
[JsonSerializable(typeof(JsonNode))]
internal sealed partial class BenchJson : JsonSerializerContext;
