using System.Diagnostics;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Virt.Kvm.Qmp;

namespace Virt.Benchmarks;

/// <summary>
/// The SDK's <c>query-status</c> round trip against a raw floor, in one run against the same QEMU:
/// the floor is a blocking loop on the same monitor socket that writes fixed bytes and reads one
/// line, with no JSON library. Blocks of floor and SDK calls alternate so both see the same noise.
/// </summary>
internal static class QmpRoundTripComparison
{
    private static readonly byte[] Capabilities = """{"execute":"qmp_capabilities"}"""u8.ToArray().Append((byte)'\n').ToArray();
    private static readonly byte[] QueryStatus = """{"execute":"query-status","id":1}"""u8.ToArray().Append((byte)'\n').ToArray();

    public static async Task<int> RunAsync(string[] args)
    {
        var rounds = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 10;
        var perRound = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 2000;
        using var qemu = new QemuUnderTest();
        var raw = new List<double>(rounds * perRound);
        var sdk = new List<double>(rounds * perRound);

        RawBlock(qemu.QmpSocket, 500, []);
        await SdkBlockAsync(qemu.QmpSocket, 500, []);
        for (var round = 0; round < rounds; round++)
        {
            RawBlock(qemu.QmpSocket, perRound, raw);
            await SdkBlockAsync(qemu.QmpSocket, perRound, sdk);
        }

        var (withResult, withoutResult) = await MeasureAllocationsAsync(qemu.QmpSocket, perRound);
        raw.Sort();
        sdk.Sort();
        var p50Ratio = Percentile(sdk, 50) / Percentile(raw, 50);
        Console.WriteLine($"QEMU: {qemu.Version}; {rounds} rounds x {perRound} calls each, alternating");
        Console.WriteLine("| | p50 (µs) | p90 (µs) | p99 (µs) |");
        Console.WriteLine("|---|---|---|---|");
        Console.WriteLine($"| raw floor (blocking socket, fixed bytes, no JSON) | {Percentile(raw, 50):0.0} | {Percentile(raw, 90):0.0} | {Percentile(raw, 99):0.0} |");
        Console.WriteLine($"| Virt QmpClient.QueryStatusAsync | {Percentile(sdk, 50):0.0} | {Percentile(sdk, 90):0.0} | {Percentile(sdk, 99):0.0} |");
        Console.WriteLine($"| ratio SDK / floor | {p50Ratio:0.00} | {Percentile(sdk, 90) / Percentile(raw, 90):0.00} | {Percentile(sdk, 99) / Percentile(raw, 99):0.00} |");
        Console.WriteLine($"allocated per query-status: {withResult:0} B with the typed result, {withoutResult:0} B with the reply's value ignored (the SDK's own cost)");
        Console.WriteLine($"target p50 <= 1.10x floor: {(p50Ratio <= 1.10 ? "met" : "NOT met")}; target <= 1024 B beyond the result: {(withoutResult <= 1024 ? "met" : "NOT met")}");
        return 0;
    }

    private static void RawBlock(string socketPath, int calls, List<double> samples)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Connect(new UnixDomainSocketEndPoint(socketPath));
        var buffer = new byte[65536];
        ReadLine(socket, buffer);
        socket.Send(Capabilities);
        ReadLine(socket, buffer);
        for (var i = 0; i < calls; i++)
        {
            var start = Stopwatch.GetTimestamp();
            socket.Send(QueryStatus);
            ReadLine(socket, buffer);
            samples.Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
        }
    }

    private static void ReadLine(Socket socket, byte[] buffer)
    {
        var filled = 0;
        while (true)
        {
            var read = socket.Receive(buffer, filled, buffer.Length - filled, SocketFlags.None);
            if (read == 0)
            {
                throw new InvalidOperationException("QEMU closed the monitor");
            }

            if (Array.IndexOf(buffer, (byte)'\n', filled, read) >= 0)
            {
                return;
            }

            filled += read;
        }
    }

    private static async Task SdkBlockAsync(string socketPath, int calls, List<double> samples)
    {
        await using var client = await QmpClient.ConnectAsync(socketPath);
        for (var i = 0; i < calls; i++)
        {
            var start = Stopwatch.GetTimestamp();
            await client.QueryStatusAsync();
            samples.Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
        }
    }

    private static async Task<(double WithResult, double WithoutResult)> MeasureAllocationsAsync(string socketPath, int calls)
    {
        await using var client = await QmpClient.ConnectAsync(socketPath);
        for (var i = 0; i < 200; i++)
        {
            await client.QueryStatusAsync();
            await client.ExecuteAsync<JsonObject, object>("query-status", null, BenchJson.Default.JsonObject, null);
        }

        var before = GC.GetTotalAllocatedBytes(precise: true);
        for (var i = 0; i < calls; i++)
        {
            await client.QueryStatusAsync();
        }

        var middle = GC.GetTotalAllocatedBytes(precise: true);
        for (var i = 0; i < calls; i++)
        {
            await client.ExecuteAsync<JsonObject, object>("query-status", null, BenchJson.Default.JsonObject, null);
        }

        var after = GC.GetTotalAllocatedBytes(precise: true);
        return ((middle - before) / (double)calls, (after - middle) / (double)calls);
    }

    private static double Percentile(List<double> sorted, double percent) =>
        sorted[Math.Clamp((int)Math.Ceiling(percent / 100 * sorted.Count) - 1, 0, sorted.Count - 1)];
}
