using System.Text.Json;
using System.Text.Json.Nodes;
using BenchmarkDotNet.Attributes;
using Virt.Kvm.Qmp;
using Virt.Kvm.Qmp.Api;

namespace Virt.Benchmarks;

/// <summary>
/// Round trips against a real QEMU: the generated typed API against the raw calls (a
/// <see cref="JsonElement"/> and a <see cref="JsonNode"/> reply), for a small reply
/// (<c>query-status</c>) and a large one (<c>query-qmp-schema</c>, about 400 KB).
/// </summary>
[MemoryDiagnoser]
public class QmpRoundTripBenchmarks
{
    private QemuUnderTest _qemu = null!;
    private QmpClient _client = null!;

    [GlobalSetup]
    public void Setup()
    {
        _qemu = new QemuUnderTest();
        _client = QmpClient.ConnectAsync(_qemu.QmpSocket).GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _client.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _qemu.Dispose();
    }

    [Benchmark(Baseline = true)]
    public async Task<bool> QueryStatusTyped() => (await _client.QueryStatusAsync()).Running;

    [Benchmark]
    public async Task<bool> QueryStatusJsonElement() => (await _client.ExecuteAsync("query-status")).GetProperty("running").GetBoolean();

    [Benchmark]
    public async Task<bool> QueryStatusJsonNode() =>
        (await _client.ExecuteAsync("query-status", null, BenchJson.Default.JsonObject, BenchJson.Default.JsonNode))!["running"]!.GetValue<bool>();

    [Benchmark]
    public async Task<int> QuerySchemaTyped() => (await _client.QueryQmpSchemaAsync()).Count;

    [Benchmark]
    public async Task<int> QuerySchemaJsonElement() => (await _client.ExecuteAsync("query-qmp-schema")).GetArrayLength();

    [Benchmark]
    public async Task<int> QuerySchemaJsonNode() =>
        (await _client.ExecuteAsync("query-qmp-schema", null, BenchJson.Default.JsonObject, BenchJson.Default.JsonNode))!.AsArray().Count;
}
