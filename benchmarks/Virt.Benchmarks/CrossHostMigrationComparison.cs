using System.Globalization;
using Virt.Tests.Lab;

namespace Virt.Benchmarks;

/// <summary>
/// Live migration of the test guest between two hosts running the SDK against a migration of the same guest on one
/// host, in one run: total time and the guest's downtime (QEMU's own figure) for the same-host path, the cross-host
/// path over TLS and the cross-host path in clear text. The two hosts are two SDK processes (the test host agent of
/// tests/Virt.Tests.ChildManager, through its HostLab), each in its own network namespace, joined through a bridge, so
/// the stream crosses links; each round migrates to the other host and back. The three paths take turns going first.
/// </summary>
internal static class CrossHostMigrationComparison
{
    private const string Vm = "migbench";

    public static async Task<int> RunAsync(string[] args)
    {
        // cross-host-migration [rounds] [--downtime-limit MS]: without it the SDK's adaptive limit (5 ms doubling to 300 ms)
        // and, for the plain QEMU floor, QEMU's default 300 ms.
        var limitAt = Array.IndexOf(args, "--downtime-limit");
        string[] limit = limitAt > 0 ? [args[limitAt + 1]] : [];
        args = limitAt > 0 ? [.. args[..limitAt], .. args[(limitAt + 2)..]] : args;
        var rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5;
        var options = new HostLabOptions
        {
            QemuBinary = Environment.GetEnvironmentVariable("VIRT_QEMU") ?? "/usr/bin/qemu-system-x86_64",
            GuestDirectory = Environment.GetEnvironmentVariable("VIRT_GUEST_DIR") ?? Virt.Kvm.Testing.EmbeddedGuest.DefaultDirectory,
            NamespacePrefix = "virt-bmig",
        };
        HostLab? lab = null;
        PlainQemuMigrationFloor? plain = null;
        try
        {
            lab = await HostLab.CreateAsync(["host-a", "host-b"], options, CancellationToken.None);
            plain = await PlainQemuMigrationFloor.CreateAsync(options.QemuBinary, options.GuestDirectory, Vm);
            var (a, b) = (lab.Hosts[0], lab.Hosts[1]);
            await a.RunAsync("start", Vm);

            var sameHost = new List<(double Total, double Downtime)>();
            var tls = new List<(double Total, double Downtime)>();
            var clear = new List<(double Total, double Downtime)>();
            var plainTls = new List<(double Total, double Downtime)>();
            var plainClear = new List<(double Total, double Downtime)>();
            var paths = new (string Name, Func<Task> Run)[]
            {
                ("cross-host TLS", async () => tls.AddRange(await RoundTripAsync(a, b, secure: true, limit))),
                ("same host", async () => sameHost.Add(Parse(await a.RunAsync(["migrate-local", Vm, .. limit]), "same host"))),
                ("cross-host clear text", async () => clear.AddRange(await RoundTripAsync(a, b, secure: false, limit))),
                ("plain QEMU, TLS", async () => AddIfMeasured(plainTls, await plain.MigrateAsync(a, b, secure: true, limit))),
                ("plain QEMU, clear text", async () => AddIfMeasured(plainClear, await plain.MigrateAsync(a, b, secure: false, limit))),
            };

            // A first migration of each kind warms both processes' code paths (JIT) before anything is counted.
            foreach (var path in paths)
            {
                await path.Run();
            }

            sameHost.Clear();
            tls.Clear();
            clear.Clear();
            plainTls.Clear();
            plainClear.Clear();
            for (var round = 0; round < rounds; round++)
            {
                for (var i = 0; i < paths.Length; i++)
                {
                    await paths[(round + i) % paths.Length].Run();
                }
            }

            Console.WriteLine($"downtime limit: {(limit.Length > 0 ? limit[0] + " ms" : "the SDK's default (adaptive: 5 ms, doubled per pass that did not converge, up to 300 ms); plain QEMU: its default 300 ms")}");
            Console.WriteLine($"{rounds} rounds; each cross-host round is A → B and B → A (both counted); the test guest (256 MiB, TCG), idle; two namespaces joined through a bridge (two veth links)");
            Console.WriteLine("| path | migrations | total, median (ms) | downtime, median (ms) |");
            Console.WriteLine("|---|---|---|---|");
            Row("same host (unix socket)", sameHost);
            Row("cross-host, TLS (x509)", tls);
            Row("cross-host, clear text", clear);
            Row("plain QEMU between the hosts, TLS (C floor, fresh guest)", plainTls);
            Row("plain QEMU between the hosts, clear text (C floor, fresh guest)", plainClear);
            var downtimeRatio = Median(tls, m => m.Downtime) / Median(sameHost, m => m.Downtime);
            Console.WriteLine($"downtime cross-host TLS / same host: {downtimeRatio:0.00}× (target ≤ 1.5×)");
            Console.WriteLine($"TLS's share of the cross-host total: SDK {TlsShare(tls, clear) * 100:0.0} % (target ≤ 20 %), plain QEMU {TlsShare(plainTls, plainClear) * 100:0.0} %");
            return 0;
        }
        catch (Exception ex)
        {
            Console.Error.WriteLine(ex);
            return 1;
        }
        finally
        {
            if (lab is not null)
            {
                foreach (var host in lab.Hosts)
                {
                    await DeleteVmAsync(host);
                }

                await lab.DisposeAsync();
            }

            plain?.Dispose();
        }
    }

    /// <summary>What TLS adds, as a share of the TLS migration's total: (TLS − clear text) / TLS, medians.</summary>
    private static double TlsShare(List<(double Total, double Downtime)> tls, List<(double Total, double Downtime)> clear) =>
        (Median(tls, m => m.Total) - Median(clear, m => m.Total)) / Median(tls, m => m.Total);

    private static void AddIfMeasured(List<(double Total, double Downtime)> runs, (double Total, double Downtime)? run)
    {
        if (run is { } measured)
        {
            runs.Add(measured);
        }
    }

    private static async Task DeleteVmAsync(LabHost host)
    {
        try
        {
            await host.RunAsync("delete", Vm);
        }
        catch (HostCommandException)
        {
            // Not on this host.
        }
    }

    /// <summary>A → B, then B → A; each host prepares when it receives, as an application on two hosts would.</summary>
    private static async Task<List<(double Total, double Downtime)>> RoundTripAsync(LabHost a, LabHost b, bool secure, string[] limit) =>
    [
        await MigrateAsync(a, b, secure, limit),
        await MigrateAsync(b, a, secure, limit),
    ];

    private static async Task<(double Total, double Downtime)> MigrateAsync(LabHost source, LabHost destination, bool secure, string[] limit)
    {
        var ticket = await destination.RunAsync("prepare", Vm, destination.Address, secure ? destination.TlsDirectory : "-", secure ? source.Name : "-", "300", "default");
        var result = Parse(await source.RunAsync(["migrate-timed", Vm, ticket, secure ? source.TlsDirectory : "-", "0", .. limit]), $"{source.Name} → {destination.Name}, {(secure ? "TLS" : "clear text")}");
        await destination.WaitForStateAsync(Vm, "Running", TimeSpan.FromMinutes(1));
        return result;
    }

    /// <summary>Reads <c>completed TOTAL_MS DOWNTIME_MS</c>.</summary>
    private static (double Total, double Downtime) Parse(string answer, string path)
    {
        // Every migration's own figures, for the record (stderr: the table stays on stdout).
        Console.Error.WriteLine($"{path}: {answer}");
        var parts = answer.Split(' ');
        if (parts.Length != 3 || parts[0] != "completed")
        {
            throw new InvalidOperationException($"unexpected migration result '{answer}'");
        }

        return (double.Parse(parts[1], CultureInfo.InvariantCulture), double.Parse(parts[2], CultureInfo.InvariantCulture));
    }

    private static void Row(string path, List<(double Total, double Downtime)> runs) =>
        Console.WriteLine($"| {path} | {runs.Count} | {Median(runs, m => m.Total):0.0} | {Median(runs, m => m.Downtime):0.0} |");

    private static double Median(List<(double Total, double Downtime)> runs, Func<(double Total, double Downtime), double> pick) =>
        BenchmarkVms.Median(runs.Select(pick));
}
