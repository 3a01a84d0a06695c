using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Virt.Hosting;
using Virt.Kvm.Tls;

namespace Virt.Benchmarks;

/// <summary>
/// Live migration of the test guest between two hosts running the SDK against a migration of the same guest on one
/// host, in one run: total time and the guest's downtime (QEMU's own figure) for the same-host path, the cross-host
/// path over TLS and the cross-host path in clear text. The two hosts are two SDK processes (the test host agent of
/// tests/Virt.Tests.ChildManager), each in its own network namespace, joined by a veth pair, so the stream crosses a
/// link; each round migrates to the other host and back. The three paths take turns going first.
/// </summary>
internal static class CrossHostMigrationComparison
{
    private const string Vm = "migbench";
    private const string AddressA = "192.0.2.1";
    private const string AddressB = "192.0.2.2";

    public static async Task<int> RunAsync(string[] args)
    {
        // cross-host-migration [rounds] [--downtime-limit MS]: QEMU's default limit is 300 ms.
        var limitAt = Array.IndexOf(args, "--downtime-limit");
        string[] limit = limitAt > 0 ? [args[limitAt + 1]] : [];
        args = limitAt > 0 ? [.. args[..limitAt], .. args[(limitAt + 2)..]] : args;
        var rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5;
        var root = Directory.CreateTempSubdirectory("virt-bench-hosts-").FullName;
        var suffix = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(3)).ToLowerInvariant();
        var (nsA, nsB) = ($"virt-bmig-a-{suffix}", $"virt-bmig-b-{suffix}");
        var namespaces = new List<string>();
        AgentProcess? a = null;
        AgentProcess? b = null;
        try
        {
            var (tlsA, tlsB) = WriteTls(root);
            foreach (var ns in new[] { nsA, nsB })
            {
                await IpAsync("netns", "add", ns);
                namespaces.Add(ns);
                await IpAsync("-n", ns, "link", "set", "lo", "up");
            }

            var (vethA, vethB) = ($"bma{suffix}", $"bmb{suffix}");
            await IpAsync("link", "add", vethA, "netns", nsA, "type", "veth", "peer", "name", vethB, "netns", nsB);
            foreach (var (ns, veth, address) in new[] { (nsA, vethA, AddressA), (nsB, vethB, AddressB) })
            {
                await IpAsync("-n", ns, "addr", "add", $"{address}/24", "dev", veth);
                await IpAsync("-n", ns, "link", "set", veth, "up");
            }

            a = await AgentProcess.StartAsync("host-a", nsA, Path.Combine(root, "state-a"));
            b = await AgentProcess.StartAsync("host-b", nsB, Path.Combine(root, "state-b"));
            await a.RunAsync("start", Vm);

            var sameHost = new List<(double Total, double Downtime)>();
            var tls = new List<(double Total, double Downtime)>();
            var clear = new List<(double Total, double Downtime)>();
            var paths = new (string Name, Func<Task> Run)[]
            {
                ("cross-host TLS", async () => tls.AddRange(await RoundTripAsync(a, b, tlsA, tlsB, limit))),
                ("same host", async () => sameHost.Add(Parse(await a.RunAsync(["migrate-local", Vm, .. limit])))),
                ("cross-host clear text", async () => clear.AddRange(await RoundTripAsync(a, b, "-", "-", limit))),
            };

            // A first migration of each kind warms both processes' code paths (JIT) before anything is counted.
            foreach (var path in paths)
            {
                await path.Run();
            }

            sameHost.Clear();
            tls.Clear();
            clear.Clear();
            for (var round = 0; round < rounds; round++)
            {
                for (var i = 0; i < paths.Length; i++)
                {
                    await paths[(round + i) % paths.Length].Run();
                }
            }

            Console.WriteLine($"downtime limit: {(limit.Length > 0 ? limit[0] + " ms" : "QEMU's default (300 ms)")}");
            Console.WriteLine($"{rounds} rounds; each cross-host round is A → B and B → A (both counted); the test guest (256 MiB, TCG), idle; veth between two namespaces");
            Console.WriteLine("| path | migrations | total, median (ms) | downtime, median (ms) |");
            Console.WriteLine("|---|---|---|---|");
            Row("same host (unix socket)", sameHost);
            Row("cross-host, TLS (x509)", tls);
            Row("cross-host, clear text", clear);
            var downtimeRatio = Median(tls, m => m.Downtime) / Median(sameHost, m => m.Downtime);
            var tlsShare = (Median(tls, m => m.Total) - Median(clear, m => m.Total)) / Median(tls, m => m.Total);
            Console.WriteLine($"downtime cross-host TLS / same host: {downtimeRatio:0.00}× (target ≤ 1.5×); TLS's share of the cross-host total: {tlsShare * 100:0.0} % (target ≤ 20 %)");
            return 0;
        }
        catch (Exception ex)
        {
            Console.Error.WriteLine(ex);
            return 1;
        }
        finally
        {
            foreach (var agent in new[] { a, b })
            {
                if (agent is not null)
                {
                    await agent.DisposeAsync();
                }
            }

            foreach (var ns in namespaces)
            {
                await IpAsync("netns", "delete", ns);
            }

            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>A → B, then B → A; each host prepares when it receives, as an application on two hosts would.</summary>
    private static async Task<List<(double Total, double Downtime)>> RoundTripAsync(AgentProcess a, AgentProcess b, string tlsA, string tlsB, string[] limit)
    {
        var results = new List<(double, double)>
        {
            await MigrateAsync(a, b, tlsA, tlsB, AddressB, limit),
            await MigrateAsync(b, a, tlsB, tlsA, AddressA, limit),
        };
        return results;
    }

    private static async Task<(double Total, double Downtime)> MigrateAsync(AgentProcess source, AgentProcess destination, string sourceTls, string destinationTls, string destinationAddress, string[] limit)
    {
        var ticket = await destination.RunAsync("prepare", Vm, destinationAddress, destinationTls, destinationTls == "-" ? "-" : source.Name, "300", "default");
        var result = Parse(await source.RunAsync(["migrate-timed", Vm, ticket, sourceTls, "0", .. limit]));
        await destination.WaitForRunningAsync(Vm);
        return result;
    }

    /// <summary>Reads <c>completed TOTAL_MS DOWNTIME_MS</c>.</summary>
    private static (double Total, double Downtime) Parse(string answer)
    {
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

    /// <summary>One CA, one directory per host in QEMU's layout, through the SDK's own certificate authority.</summary>
    private static (string A, string B) WriteTls(string root)
    {
        var fileSystem = new System.IO.Abstractions.FileSystem();
        using var authority = HostCertificateAuthority.Create("Virt benchmark hosts CA");
        var a = Path.Combine(root, "tls-a");
        var b = Path.Combine(root, "tls-b");
        authority.WriteHostDirectory(fileSystem, a, new HostCertificateRequest(new VirtHostIdentity("host-a")) { Addresses = [AddressA] });
        authority.WriteHostDirectory(fileSystem, b, new HostCertificateRequest(new VirtHostIdentity("host-b")) { Addresses = [AddressB] });
        return (a, b);
    }

    private static async Task IpAsync(params string[] arguments)
    {
        var result = await CFloor.RunAsync("ip", arguments, TimeSpan.FromSeconds(30));
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"ip {string.Join(' ', arguments)} failed: {result.Error}");
        }
    }

    /// <summary>One host: the test host agent (an SDK manager driven over stdin/stdout) in its network namespace.</summary>
    private sealed class AgentProcess : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly ConcurrentDictionary<string, TaskCompletionSource<string>> _answers = new();
        private readonly Task _reader;
        private int _nextId;

        private AgentProcess(string name, Process process)
        {
            Name = name;
            _process = process;
            _answers["ready"] = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            _reader = Task.Run(ReadAsync);
        }

        public string Name { get; }

        public static async Task<AgentProcess> StartAsync(string name, string ns, string stateDirectory)
        {
            var guest = Environment.GetEnvironmentVariable("VIRT_GUEST_DIR") ?? Virt.Kvm.Testing.EmbeddedGuest.DefaultDirectory;
            var qemu = Environment.GetEnvironmentVariable("VIRT_QEMU") ?? "/usr/bin/qemu-system-x86_64";
            var start = new ProcessStartInfo("ip") { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
            foreach (var argument in new[] { "netns", "exec", ns, "dotnet", Path.Combine(AppContext.BaseDirectory, "Virt.Tests.ChildManager.dll"), "host", stateDirectory, qemu, name, guest })
            {
                start.ArgumentList.Add(argument);
            }

            var agent = new AgentProcess(name, Process.Start(start)!);
            var ready = await agent._answers["ready"].Task.WaitAsync(TimeSpan.FromSeconds(60));
            return ready == "ok" ? agent : throw new InvalidOperationException($"{name} did not start: {ready}");
        }

        public async Task<string> RunAsync(params string[] command)
        {
            var id = Interlocked.Increment(ref _nextId).ToString(CultureInfo.InvariantCulture);
            var answer = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            _answers[id] = answer;
            await _process.StandardInput.WriteLineAsync(JsonSerializer.Serialize<string[]>([id, .. command]));
            await _process.StandardInput.FlushAsync();
            var line = await answer.Task.WaitAsync(TimeSpan.FromMinutes(5));
            return line.StartsWith("ok ", StringComparison.Ordinal) ? line[3..] : throw new InvalidOperationException($"{Name}: {string.Join(' ', command.Take(2))}: {line}");
        }

        /// <summary>The destination resumes the guest just after the source sees completion.</summary>
        public async Task WaitForRunningAsync(string vm)
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
            while (!(await RunAsync("status", vm)).StartsWith("Running ", StringComparison.Ordinal))
            {
                if (DateTime.UtcNow > deadline)
                {
                    throw new InvalidOperationException($"{Name}: VM '{vm}' did not reach Running after the migration");
                }

                await Task.Delay(20);
            }
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                await RunAsync("delete", Vm);
            }
            catch (InvalidOperationException)
            {
                // Not on this host.
            }

            await _process.StandardInput.WriteLineAsync(JsonSerializer.Serialize<string[]>(["0", "exit"]));
            await _process.StandardInput.FlushAsync();
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            await _reader;
            _process.Dispose();
        }

        private async Task ReadAsync()
        {
            while (await _process.StandardOutput.ReadLineAsync() is { } line)
            {
                // "ID ok PAYLOAD" / "ID error MESSAGE"; progress lines are not needed here.
                var space = line.IndexOf(' ', StringComparison.Ordinal);
                if (space > 0 && _answers.TryGetValue(line[..space], out var answer) && !line[(space + 1)..].StartsWith("progress ", StringComparison.Ordinal))
                {
                    answer.TrySetResult(line[(space + 1)..]);
                }
            }
        }
    }
}
