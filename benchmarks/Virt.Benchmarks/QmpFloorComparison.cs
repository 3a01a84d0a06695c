using System.Diagnostics;
using System.Globalization;
using Virt.Kvm.Qmp;

namespace Virt.Benchmarks;

/// <summary>
/// The SDK's <c>query-status</c> round trip against a minimal C client (<c>benchmarks/floor/qmp-floor.c</c>)
/// on the same QEMU, each on its own monitor: blocks of C calls and SDK calls alternate, and the
/// medians of each block's p50 and p99 are compared. With <c>--guest</c> the QEMU is the booted q35
/// test guest; without, <c>-machine none -S</c>. Run it under <c>--busy</c> for a loaded host.
/// </summary>
internal static class QmpFloorComparison
{
    private const int Attempts = 3;

    public static async Task<int> RunAsync(string[] args)
    {
        var numbers = args.Skip(1).Where(a => !a.StartsWith("--", StringComparison.Ordinal)).ToArray();
        var rounds = numbers.Length > 0 ? int.Parse(numbers[0], CultureInfo.InvariantCulture) : 10;
        var perRound = numbers.Length > 1 ? int.Parse(numbers[1], CultureInfo.InvariantCulture) : 2000;
        var bootGuest = args.Contains("--guest");
        using var floor = await CFloor.BuildAsync();
        using var qemu = new QemuUnderTest(monitors: 2, bootGuest);
        await using var client = await QmpClient.ConnectAsync(qemu.QmpSockets[1]);

        await CBlockAsync(floor, qemu.QmpSockets[0], 500);
        await SdkBlockAsync(client, 500);
        var c = new List<BlockPercentiles>();
        var sdk = new List<BlockPercentiles>();
        for (var round = 0; round < rounds; round++)
        {
            if (await CBlockAsync(floor, qemu.QmpSockets[0], perRound) is { } block)
            {
                c.Add(block);
            }

            sdk.Add(await SdkBlockAsync(client, perRound));
        }

        if (c.Count == 0)
        {
            Console.Error.WriteLine("every C floor block failed; no comparison");
            return 1;
        }

        var cP50 = BenchmarkVms.Median(c.Select(b => b.P50));
        var cP99 = BenchmarkVms.Median(c.Select(b => b.P99));
        var sdkP50 = BenchmarkVms.Median(sdk.Select(b => b.P50));
        var sdkP99 = BenchmarkVms.Median(sdk.Select(b => b.P99));
        Console.WriteLine($"QEMU: {qemu.Version}, {(bootGuest ? "booted q35 test guest (TCG)" : "-machine none -S")}; {rounds} rounds x {perRound} query-status calls, C and SDK alternating on two monitors; medians over rounds of each block's percentiles ({c.Count} C blocks)");
        Console.WriteLine("| | p50 (µs) | p99 (µs) |");
        Console.WriteLine("|---|---|---|");
        Console.WriteLine($"| C client (blocking write/read, fixed bytes) | {cP50:0.0} | {cP99:0.0} |");
        Console.WriteLine($"| Virt QmpClient.QueryStatusAsync | {sdkP50:0.0} | {sdkP99:0.0} |");
        Console.WriteLine($"| ratio SDK / C | {sdkP50 / cP50:0.00} | {sdkP99 / cP99:0.00} |");
        Console.WriteLine($"target p50 <= 1.10x C: {(sdkP50 / cP50 <= 1.10 ? "met" : "NOT met")}; target p99 <= 1.5x C: {(sdkP99 / cP99 <= 1.5 ? "met" : "NOT met")}");
        return 0;
    }

    /// <summary>One block of the C client; a block that fails or hangs is reported and retried.</summary>
    private static async Task<BlockPercentiles?> CBlockAsync(CFloor floor, string socket, int calls)
    {
        for (var attempt = 1; attempt <= Attempts; attempt++)
        {
            // Generous: 2,000 calls take under a second; only a wedged monitor gets near this.
            var result = await CFloor.RunAsync(floor.QmpFloor, [socket, calls.ToString(CultureInfo.InvariantCulture)], TimeSpan.FromSeconds(30 + (calls / 100)));
            if (result.ExitCode == 0)
            {
                return new BlockPercentiles(CFloor.Value(result.Output, "p50_us"), CFloor.Value(result.Output, "p99_us"));
            }

            Console.Error.WriteLine($"C floor block failed (attempt {attempt}/{Attempts}): {(result.TimedOut ? "timed out" : $"exit {result.ExitCode}")} {result.Error.Trim()}");
        }

        return null;
    }

    private static async Task<BlockPercentiles> SdkBlockAsync(QmpClient client, int calls)
    {
        var samples = new double[calls];
        for (var i = 0; i < calls; i++)
        {
            var start = Stopwatch.GetTimestamp();
            await client.QueryStatusAsync();
            samples[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        }

        Array.Sort(samples);
        return new BlockPercentiles(Percentile(samples, 50), Percentile(samples, 99));
    }

    /// <summary>The same nearest-rank percentile as the C client's.</summary>
    private static double Percentile(double[] sorted, double percent) =>
        sorted[Math.Clamp((int)Math.Ceiling(percent / 100 * sorted.Length) - 1, 0, sorted.Length - 1)];

    private sealed record BlockPercentiles(double P50, double P99);
}
