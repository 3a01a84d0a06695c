using BenchmarkDotNet.Attributes;
using Virt.Kvm.Qmp;

namespace Virt.Benchmarks;

/// <summary><c>query-status</c> round trips against a real QEMU.</summary>
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

    [Benchmark]
    public Task<QmpStatusInfo> QueryStatus() => _client.QueryStatusAsync();
}
