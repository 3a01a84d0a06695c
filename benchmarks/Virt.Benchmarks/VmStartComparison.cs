using Virt.Kvm.Testing;
using System.Diagnostics;
using System.Net.Sockets;
using Virt.Kvm.Host;
using Virt.Kvm.Hosting;
using Virt.Kvm.VirtualMachines;
using Virt.Processes;
using Virt.VirtualMachines;

namespace Virt.Benchmarks;

/// <summary>
/// <c>StartAsync</c> against launching the same argv by hand, in one run, alternating: time to a
/// served QMP monitor (and a running guest), time to the guest's ready marker, and the memory the
/// manager holds per running VM.
/// </summary>
internal static partial class VmStartComparison
{
    private const string Marker = EmbeddedGuest.ReadyMarker;
    private const int Attempts = 3;
    private static readonly TimeSpan RawDeadline = TimeSpan.FromSeconds(60);

    public static async Task<int> RunAsync(string[] args)
    {
        var iterations = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 10;
        var guest = EmbeddedGuest.DefaultDirectory;
        var state = Directory.CreateTempSubdirectory("virt-bench-vms-").FullName;
        try
        {
            var options = new KvmOptions { StateDirectory = state };
            await using var manager = BenchmarkVms.NewManager(options);
            var spec = BenchmarkVms.Spec("bench", guest, 256);
            var vm = await manager.CreateAsync(spec);
            var argv = QemuCommandLine.Build(spec, new QemuLaunchContext(await new QemuCapabilityProbe(new ProcessRunner()).GetAsync(options.QemuBinary), "tcg", Path.Combine(state, "raw")));

            using var floor = await CFloor.BuildAsync();
            await SdkAsync(vm, toMarker: false);
            await RetryAsync("raw launch", () => RawAsync(argv, state, toMarker: false));
            await CFloorStartAsync(floor, argv, state);
            var sdkQmp = new List<double>();
            var rawQmp = new List<double>();
            var cQmp = new List<double>();
            var sdkMarker = new List<double>();
            var rawMarker = new List<double>();
            for (var i = 0; i < iterations; i++)
            {
                AddIfMeasured(cQmp, await CFloorStartAsync(floor, argv, state));
                AddIfMeasured(rawQmp, await RetryAsync("raw launch", () => RawAsync(argv, state, toMarker: false)));
                sdkQmp.Add(await SdkAsync(vm, toMarker: false));
            }

            for (var i = 0; i < iterations; i++)
            {
                AddIfMeasured(rawMarker, await RetryAsync("raw launch to the marker", () => RawAsync(argv, state, toMarker: true)));
                sdkMarker.Add(await SdkAsync(vm, toMarker: true));
            }

            Console.WriteLine($"{iterations} alternating starts to QMP ready (C plain launch, .NET raw launch, SDK), {iterations} to the guest marker (.NET raw, SDK); TCG");
            Console.WriteLine("| | C plain launch (posix_spawn), median (ms) | .NET raw launch, median (ms) | SDK StartAsync, median (ms) | SDK − C (ms) | SDK − .NET raw (ms) |");
            Console.WriteLine("|---|---|---|---|---|---|");
            Console.WriteLine($"| spawn → QMP ready, guest running | {BenchmarkVms.Median(cQmp):0.0} | {BenchmarkVms.Median(rawQmp):0.0} | {BenchmarkVms.Median(sdkQmp):0.0} | {BenchmarkVms.Median(sdkQmp) - BenchmarkVms.Median(cQmp):+0.0;-0.0} | {BenchmarkVms.Median(sdkQmp) - BenchmarkVms.Median(rawQmp):+0.0;-0.0} |");
            Console.WriteLine($"| spawn → guest ready marker | — | {BenchmarkVms.Median(rawMarker):0.0} | {BenchmarkVms.Median(sdkMarker):0.0} | — | {BenchmarkVms.Median(sdkMarker) - BenchmarkVms.Median(rawMarker):+0.0;-0.0} |");
            Console.WriteLine($"C plain launch: {cQmp.Count} of {iterations} measured; .NET raw: {rawQmp.Count} and {rawMarker.Count} of {iterations} (failures are reported above and retried up to {Attempts} times)");
            await MeasureMemoryAsync(options, guest);
            return 0;
        }
        catch (Exception ex)
        {
            Console.Error.WriteLine(ex);
            return 1;
        }
        finally
        {
            Directory.Delete(state, recursive: true);
        }
    }

    private static async Task<double> SdkAsync(IVirtualMachine vm, bool toMarker)
    {
        File.Delete(vm.Endpoints.SerialLog);
        var watch = Stopwatch.StartNew();
        await vm.StartAsync();
        if (toMarker)
        {
            await WaitForMarkerAsync(vm.Endpoints.SerialLog);
        }

        var elapsed = watch.Elapsed.TotalMilliseconds;
        await vm.KillAsync();
        return elapsed;
    }

    /// <summary>The same argv launched by hand: Process.Start, a path monitor, poll for the socket, a raw handshake and cont.</summary>
    private static async Task<double> RawAsync(IReadOnlyList<string> argv, string state, bool toMarker)
    {
        var directory = Path.Combine(state, "raw");
        Directory.CreateDirectory(directory);
        var qmp = Path.Combine(directory, "raw-qmp.sock");
        var serial = Path.Combine(directory, "serial.log");
        File.Delete(serial);
        File.Delete(qmp); // a killed QEMU leaves its socket file behind
        var start = new ProcessStartInfo("/usr/bin/qemu-system-x86_64") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in PathMonitors.Replace(argv, directory, qmp))
        {
            start.ArgumentList.Add(argument);
        }

        var watch = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        using var deadline = new CancellationTokenSource(RawDeadline);
        try
        {
            return await HandshakeAsync(process, qmp, serial, watch, toMarker, deadline.Token);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill();
                await process.WaitForExitAsync();
            }
        }
    }

    private static async Task<double> HandshakeAsync(Process process, string qmp, string serial, Stopwatch watch, bool toMarker, CancellationToken cancellationToken)
    {
        while (!File.Exists(qmp))
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"QEMU exited: {await process.StandardError.ReadToEndAsync(cancellationToken)}");
            }

            await Task.Delay(1, cancellationToken);
        }

        using (var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(qmp), cancellationToken);
            await ReadUntilAsync(socket, "\"QMP\""u8.ToArray(), cancellationToken);
            await socket.SendAsync("{\"execute\":\"qmp_capabilities\"}\n"u8.ToArray(), cancellationToken);
            await ReadUntilAsync(socket, "\"return\""u8.ToArray(), cancellationToken);
            await socket.SendAsync("{\"execute\":\"cont\"}\n"u8.ToArray(), cancellationToken);
            await ReadUntilAsync(socket, "\"return\""u8.ToArray(), cancellationToken);
            if (toMarker)
            {
                await WaitForMarkerAsync(serial, cancellationToken);
            }

            return watch.Elapsed.TotalMilliseconds;
        }
    }

    /// <summary>Reads until a complete line containing the text arrived (events may come in between).</summary>
    private static async Task ReadUntilAsync(Socket socket, byte[] text, CancellationToken cancellationToken)
    {
        var received = new List<byte>();
        var buffer = new byte[65536];
        while (true)
        {
            var read = await socket.ReceiveAsync(buffer, cancellationToken);
            if (read == 0)
            {
                throw new InvalidOperationException("QEMU closed the monitor");
            }

            received.AddRange(buffer.AsSpan(0, read));
            var data = received.ToArray().AsSpan();
            var at = data.IndexOf(text);
            if (at >= 0 && data[at..].IndexOf((byte)'\n') >= 0)
            {
                return;
            }
        }
    }

    private static async Task WaitForMarkerAsync(string serialLog, CancellationToken cancellationToken = default)
    {
        while (!File.Exists(serialLog) || !(await File.ReadAllTextAsync(serialLog, cancellationToken)).Contains(Marker, StringComparison.Ordinal))
        {
            await Task.Delay(5, cancellationToken);
        }
    }

    /// <summary>The same argv started by the C floor: posix_spawn, connect, handshake, cont, query-status until running.</summary>
    private static async Task<double?> CFloorStartAsync(CFloor floor, IReadOnlyList<string> argv, string state)
    {
        var directory = Path.Combine(state, "c-floor");
        Directory.CreateDirectory(directory);
        var qmp = Path.Combine(directory, "qmp.sock");
        var arguments = new List<string> { qmp, RawDeadline.TotalMilliseconds.ToString(System.Globalization.CultureInfo.InvariantCulture), "/usr/bin/qemu-system-x86_64" };
        arguments.AddRange(PathMonitors.Replace(argv, directory, qmp));
        for (var attempt = 1; attempt <= Attempts; attempt++)
        {
            var result = await CFloor.RunAsync(floor.StartFloor, arguments, RawDeadline + TimeSpan.FromSeconds(10));
            if (result.ExitCode == 0)
            {
                return CFloor.Value(result.Output, "spawn_to_running_ms");
            }

            Console.Error.WriteLine($"C plain launch failed (attempt {attempt}/{Attempts}): {(result.TimedOut ? "timed out" : $"exit {result.ExitCode}")} {result.Error.Trim()}");
        }

        return null;
    }

    /// <summary>Runs a baseline; one that fails or passes its deadline is reported and retried, never thrown.</summary>
    private static async Task<double?> RetryAsync(string name, Func<Task<double>> measure)
    {
        for (var attempt = 1; attempt <= Attempts; attempt++)
        {
            try
            {
                return await measure();
            }
            catch (Exception ex) when (ex is OperationCanceledException or InvalidOperationException or SocketException or IOException)
            {
                Console.Error.WriteLine($"{name} failed (attempt {attempt}/{Attempts}): {(ex is OperationCanceledException ? $"no QMP handshake within {RawDeadline.TotalSeconds:0} s" : ex.Message)}");
            }
        }

        return null;
    }

    private static void AddIfMeasured(List<double> samples, double? value)
    {
        if (value is { } measured)
        {
            samples.Add(measured);
        }
    }

    private static async Task MeasureMemoryAsync(KvmOptions options, string guest)
    {
        const int count = 20;
        var before = GC.GetTotalMemory(forceFullCollection: true);
        var manager = BenchmarkVms.NewManager(options);
        var vms = new List<IVirtualMachine>();
        for (var i = 0; i < count; i++)
        {
            vms.Add(await manager.CreateAsync(BenchmarkVms.Spec($"mem-{i:00}", guest, 128)));
        }

        await Task.WhenAll(vms.Select(vm => vm.StartAsync()));
        await Task.Delay(2000);
        var after = GC.GetTotalMemory(forceFullCollection: true);
        Console.WriteLine($"managed memory held by the manager with {count} running VMs: {(after - before) / 1024.0 / count:0.0} KB per VM (GC.GetTotalMemory after a full collection)");
        await Task.WhenAll(vms.Select(vm => vm.KillAsync()));
        foreach (var vm in vms)
        {
            await manager.DeleteAsync(vm.Name);
        }

        await manager.DisposeAsync();
    }
}
