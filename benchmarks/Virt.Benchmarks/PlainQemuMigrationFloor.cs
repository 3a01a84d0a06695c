using System.Diagnostics;
using System.Globalization;
using Virt.Kvm.Host;
using Virt.Kvm.Testing;
using Virt.Kvm.VirtualMachines;
using Virt.Processes;
using Virt.Tests.Lab;

namespace Virt.Benchmarks;

/// <summary>
/// The floor for a migration between two lab hosts: the SDK's own QEMU argv for the benchmark guest, launched by hand in
/// each host's namespace (the source from <c>-S</c>, the destination with <c>-incoming defer</c>), migrated by the C tool
/// <c>benchmarks/floor/migrate-floor.c</c> with TLS or in clear text. What it measures is QEMU's migration alone: no
/// ticket, no token gate, no SDK on either side; the figures are QEMU's own (<c>query-migrate</c> on the source).
/// </summary>
internal sealed class PlainQemuMigrationFloor : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromMinutes(2);
    private readonly CFloor _floor;
    private readonly string _qemu;
    private readonly string _root;
    private readonly Func<string, IReadOnlyList<string>> _argvFor;
    private int _runs;

    private PlainQemuMigrationFloor(CFloor floor, string qemu, string root, Func<string, IReadOnlyList<string>> argvFor)
    {
        (_floor, _qemu, _root, _argvFor) = (floor, qemu, root, argvFor);
    }

    public static async Task<PlainQemuMigrationFloor> CreateAsync(string qemu, string guest, string vmName)
    {
        var capabilities = await new QemuCapabilityProbe(new ProcessRunner()).GetAsync(qemu);
        var spec = BenchmarkVms.Spec(vmName, guest, 256);
        var floor = await CFloor.BuildAsync();
        var root = Directory.CreateTempSubdirectory("virt-bench-plain-migration-").FullName;
        return new PlainQemuMigrationFloor(floor, qemu, root, directory => QemuCommandLine.Build(spec, new QemuLaunchContext(capabilities, "tcg", directory)));
    }

    /// <summary>One migration from <paramref name="source"/>'s namespace to <paramref name="destination"/>'s; null when it failed (reported).</summary>
    public Task<(double Total, double Downtime)?> MigrateAsync(LabHost source, LabHost destination, bool secure, string[] limit) =>
        MigrateAsync(FloorHost.Of(source), FloorHost.Of(destination), secure, limit);

    /// <summary>One migration between two floor hosts (a lab host's namespace, or this namespace); null when it failed (reported).</summary>
    public async Task<(double Total, double Downtime)?> MigrateAsync(FloorHost source, FloorHost destination, bool secure, string[] limit)
    {
        var run = Interlocked.Increment(ref _runs);
        var (sourceDirectory, destinationDirectory) = (Path.Combine(_root, $"{run}-source"), Path.Combine(_root, $"{run}-destination"));
        var sourceQemu = Launch(source.Namespace, sourceDirectory, []);
        var destinationQemu = Launch(destination.Namespace, destinationDirectory, ["-incoming", "defer"]);
        try
        {
            var result = await CFloor.RunAsync(_floor.MigrateFloor,
            [
                Path.Combine(sourceDirectory, "qmp.sock"), Path.Combine(destinationDirectory, "qmp.sock"), Path.Combine(sourceDirectory, "serial.log"), EmbeddedGuest.ReadyMarker,
                destination.Address, (49152 + run).ToString(CultureInfo.InvariantCulture),
                secure ? source.TlsDirectory : "-", secure ? destination.TlsDirectory : "-", destination.Name,
                limit.Length > 0 ? limit[0] : "0", Deadline.TotalMilliseconds.ToString(CultureInfo.InvariantCulture),
            ], Deadline + TimeSpan.FromSeconds(10));
            if (result.ExitCode != 0)
            {
                Console.Error.WriteLine($"plain QEMU migration failed: {(result.TimedOut ? "timed out" : $"exit {result.ExitCode}")} {result.Error.Trim()}");
                return null;
            }

            return (CFloor.Value(result.Output, "total_ms"), CFloor.Value(result.Output, "downtime_ms"));
        }
        finally
        {
            foreach (var qemu in new[] { sourceQemu, destinationQemu })
            {
                if (!qemu.HasExited)
                {
                    qemu.Kill();
                    await qemu.WaitForExitAsync();
                }

                qemu.Dispose();
            }
        }
    }

    public void Dispose()
    {
        _floor.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    /// <summary>Starts the argv in the namespace (or this one when null); <c>ip netns exec</c> execs QEMU, so the process is QEMU itself.</summary>
    private Process Launch(string? ns, string directory, string[] extra)
    {
        Directory.CreateDirectory(directory);
        var start = new ProcessStartInfo(ns is null ? _qemu : "ip") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in (ns is null ? Array.Empty<string>() : ["netns", "exec", ns, _qemu]).Concat(PathMonitors.Replace(_argvFor(directory), directory, Path.Combine(directory, "qmp.sock"))).Concat(extra))
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is { Length: > 0 } text)
            {
                Console.Error.WriteLine($"plain QEMU in {ns ?? "this namespace"}: {text}");
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }
}

/// <summary>Where one side of a floor migration runs: a lab host's namespace, or this namespace (<see cref="Namespace"/> null).</summary>
internal sealed record FloorHost(string? Namespace, string Address, string TlsDirectory, string Name)
{
    public static FloorHost Of(LabHost host) => new(host.Namespace, host.Address, host.TlsDirectory, host.Name);
}
