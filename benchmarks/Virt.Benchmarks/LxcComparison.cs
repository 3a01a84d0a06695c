using System.Diagnostics;
using Virt.Containers;
using Virt.Lxc.Containers;
using Virt.Lxc.Hosting;
using Virt.Processes;

namespace Virt.Benchmarks;

/// <summary>
/// The SDK against the plain LXC tools on the same container (same config file and rootfs), alternating
/// in one run: start + exec + stop against <c>lxc-start -d</c> / <c>lxc-attach -- true</c> / <c>lxc-stop -k</c>;
/// a state query through the command socket against <c>lxc-info -s</c>; exec of <c>true</c> against
/// <c>lxc-attach -- true</c>.
/// </summary>
internal static class LxcComparison
{
    public static async Task<int> RunAsync(string[] args)
    {
        var iterations = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 20;
        var lxcPath = "/tmp/vb-" + Guid.NewGuid().ToString("N")[..8];
        Directory.CreateDirectory(lxcPath);
        var manager = new LxcContainerManager(new LxcOptions { LxcPath = lxcPath }, new System.IO.Abstractions.FileSystem(), new ProcessRunner());
        try
        {
            var container = await manager.CreateAsync(new ContainerSpec("bench", ContainerRootfs.Busybox()));
            var cli = new Cli(lxcPath, "bench");

            // Warm up both paths (JIT, page cache), and let the SDK write the config the CLI then uses too.
            await SdkCycleAsync(container);
            await cli.CycleAsync();
            var sdkCycle = new List<double>();
            var cliCycle = new List<double>();
            for (var i = 0; i < iterations; i++)
            {
                // Which side goes first alternates: the second start of a pair follows the first's kill at once
                // (its monitor may still be tearing down), and that cost must not always fall on the same side.
                if (i % 2 == 0)
                {
                    cliCycle.Add(await cli.CycleAsync());
                    sdkCycle.Add(await SdkCycleAsync(container));
                }
                else
                {
                    sdkCycle.Add(await SdkCycleAsync(container));
                    cliCycle.Add(await cli.CycleAsync());
                }
            }

            await container.StartAsync();
            var sdkState = new List<double>();
            var cliState = new List<double>();
            var sdkExec = new List<double>();
            var cliExec = new List<double>();
            for (var i = 0; i < iterations * 3; i++)
            {
                cliState.Add(await cli.TimeAsync("lxc-info", "-s"));
                sdkState.Add(await TimeAsync(() => container.GetStatusAsync()));
                cliExec.Add(await cli.TimeAsync("lxc-attach", "--", "true"));
                sdkExec.Add(await TimeAsync(() => container.ExecAsync(new ContainerExecRequest(["true"]))));
            }

            await container.KillAsync();
            Console.WriteLine($"{iterations} alternating start+exec+stop cycles, {iterations * 3} state queries and execs; busybox container, no network");
            Console.WriteLine("| | LXC CLI, median (ms) | SDK, median (ms) | SDK / CLI |");
            Console.WriteLine("|---|---|---|---|");
            Row("start + exec `true` + kill (`lxc-start -d`, `lxc-attach`, `lxc-stop -k`)", cliCycle, sdkCycle);
            Row("… of which start (`lxc-start -d` vs `StartAsync`)", cli.Phases[0], SdkPhases[0]);
            Console.WriteLine($"| … start, median of the {iterations} pairwise ratios (each SDK start over the CLI start next to it) | | | {PairwiseMedianRatio(cli.Phases[0], SdkPhases[0]):0.00}× |");
            Row("… of which exec (`lxc-attach -- true` vs `ExecAsync`)", cli.Phases[1], SdkPhases[1]);
            Row("… of which kill (`lxc-stop -k` vs `KillAsync`)", cli.Phases[2], SdkPhases[2]);
            Row("state query (`lxc-info -s` vs command socket)", cliState, sdkState);
            Row("exec `true` (`lxc-attach -- true` vs `ExecAsync`)", cliExec, sdkExec);
            return 0;
        }
        catch (Exception ex)
        {
            Console.Error.WriteLine(ex);
            return 1;
        }
        finally
        {
            foreach (var container in await manager.ListAsync())
            {
                await manager.DeleteAsync(container.Name, force: true);
            }

            Directory.Delete(lxcPath, recursive: true);
        }
    }

    private static void Row(string what, List<double> cli, List<double> sdk) =>
        Console.WriteLine($"| {what} | {BenchmarkVms.Median(cli):0.00} | {BenchmarkVms.Median(sdk):0.00} | {BenchmarkVms.Median(sdk) / BenchmarkVms.Median(cli):0.00}× |");

    /// <summary>The median of SDK/CLI over pairs run next to each other: a load spike then lands in one pair, not in one side's median.</summary>
    private static double PairwiseMedianRatio(List<double> cli, List<double> sdk) =>
        BenchmarkVms.Median([.. cli.Zip(sdk, (floor, ours) => ours / floor)]);

    private static readonly List<double>[] SdkPhases = [[], [], []];

    private static async Task<double> SdkCycleAsync(IContainer container)
    {
        var watch = Stopwatch.StartNew();
        await container.StartAsync();
        var started = watch.Elapsed.TotalMilliseconds;
        var result = await container.ExecAsync(new ContainerExecRequest(["true"]));
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException("true failed in the container");
        }

        var executed = watch.Elapsed.TotalMilliseconds;
        await container.KillAsync();
        var total = watch.Elapsed.TotalMilliseconds;
        SdkPhases[0].Add(started);
        SdkPhases[1].Add(executed - started);
        SdkPhases[2].Add(total - executed);
        return total;
    }

    private static async Task<double> TimeAsync(Func<Task> action)
    {
        var watch = Stopwatch.StartNew();
        await action();
        return watch.Elapsed.TotalMilliseconds;
    }

    private sealed class Cli(string lxcPath, string name)
    {
        public List<double>[] Phases { get; } = [[], [], []];

        public async Task<double> CycleAsync()
        {
            var watch = Stopwatch.StartNew();
            await RunAsync("lxc-start", "-d");
            var started = watch.Elapsed.TotalMilliseconds;
            await RunAsync("lxc-attach", "--", "true");
            var executed = watch.Elapsed.TotalMilliseconds;
            await RunAsync("lxc-stop", "-k");
            var total = watch.Elapsed.TotalMilliseconds;
            Phases[0].Add(started);
            Phases[1].Add(executed - started);
            Phases[2].Add(total - executed);
            return total;
        }

        public async Task<double> TimeAsync(string tool, params string[] arguments)
        {
            var watch = Stopwatch.StartNew();
            await RunAsync(tool, arguments);
            return watch.Elapsed.TotalMilliseconds;
        }

        private async Task RunAsync(string tool, params string[] arguments)
        {
            var start = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var argument in new[] { "-n", name, "-P", lxcPath }.Concat(arguments))
            {
                start.ArgumentList.Add(argument);
            }

            using var process = Process.Start(start)!;
            await process.StandardOutput.ReadToEndAsync();
            await process.WaitForExitAsync();
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"{tool} failed: {await process.StandardError.ReadToEndAsync()}");
            }
        }
    }
}
