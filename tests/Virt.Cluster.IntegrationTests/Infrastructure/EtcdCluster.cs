using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Virt.Cluster.IntegrationTests.Infrastructure;

/// <summary>
/// A 3-member etcd cluster on loopback ports (or another address of this host: <see cref="StartOnAsync"/>), started by hand the way CLUSTER-NOTES measured (each member its own data
/// directory, peer and client URL), stopped by the pids it started and its directories removed. Members can be stopped
/// and started again to take the quorum away and give it back.
/// </summary>
public sealed class EtcdCluster : IAsyncLifetime
{
    private const string EtcdPath = "/usr/bin/etcd";
    private readonly string _root = Path.Combine(Path.GetTempPath(), "virt-etcd-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly Member[] _members = new Member[3];

    // Where the members listen: loopback for the fixture; an address lab hosts in network namespaces reach for StartOnAsync.
    private IPAddress _address = IPAddress.Loopback;

    public IReadOnlyList<string> ClientUrls => _members.Select(m => m.ClientUrl).ToArray();

    /// <summary>
    /// A cluster whose members listen on <paramref name="address"/> (e.g. the Ceph fixture's services address, which the
    /// hosts of a HostLab with a root link reach over their link), for one test; dispose it at the test's end.
    /// </summary>
    public static async Task<EtcdCluster> StartOnAsync(string address)
    {
        var cluster = new EtcdCluster { _address = IPAddress.Parse(address) };
        try
        {
            await cluster.InitializeAsync();
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    public async ValueTask InitializeAsync()
    {
        HostRequirement.Require(File.Exists(EtcdPath), "etcd (apt-get install etcd-server etcd-client)");
        Directory.CreateDirectory(_root);
        var ports = FreePorts(_address, 6);
        for (var i = 0; i < 3; i++)
        {
            _members[i] = new Member($"m{i + 1}", Path.Combine(_root, $"m{i + 1}"), $"http://{_address}:{ports[2 * i]}", $"http://{_address}:{ports[(2 * i) + 1]}");
        }

        foreach (var member in _members)
        {
            Start(member);
        }

        foreach (var member in _members)
        {
            await WaitHealthyAsync(member);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var member in _members.Where(m => m is not null))
        {
            await StopAsync(member);
        }

        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
            // Never made: etcd was missing.
        }
    }

    /// <summary>Stops member <paramref name="index"/> (0–2) by its pid and waits until it is gone.</summary>
    public Task StopMemberAsync(int index) => StopAsync(_members[index]);

    /// <summary>Starts member <paramref name="index"/> again on its data directory and waits until it answers.</summary>
    public async Task StartMemberAsync(int index)
    {
        if (_members[index].Process is { HasExited: false })
        {
            return;
        }

        Start(_members[index]);
        await WaitHealthyAsync(_members[index], requireQuorum: false);
    }

    /// <summary>Waits until every running member says the cluster is healthy (it has a leader).</summary>
    public async Task WaitHealthyAsync()
    {
        foreach (var member in _members.Where(m => m.Process is { HasExited: false }))
        {
            await WaitHealthyAsync(member);
        }
    }

    private void Start(Member member)
    {
        var initialCluster = string.Join(",", _members.Select(m => $"{m.Name}={m.PeerUrl}"));
        var start = new ProcessStartInfo(EtcdPath)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[]
        {
            "--name", member.Name, "--data-dir", member.DataDirectory,
            "--listen-client-urls", member.ClientUrl, "--advertise-client-urls", member.ClientUrl,
            "--listen-peer-urls", member.PeerUrl, "--initial-advertise-peer-urls", member.PeerUrl,
            "--initial-cluster", initialCluster, "--initial-cluster-token", Path.GetFileName(_root),
            "--initial-cluster-state", "new", "--logger", "zap", "--log-outputs", Path.Combine(_root, member.Name + ".log"),
        })
        {
            start.ArgumentList.Add(argument);
        }

        member.Process = Process.Start(start) ?? throw new InvalidOperationException($"etcd member {member.Name} did not start");
        member.Process.BeginOutputReadLine();
        member.Process.BeginErrorReadLine();
    }

    private async Task WaitHealthyAsync(Member member, bool requireQuorum = true)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        string last = "";
        while (DateTime.UtcNow < deadline)
        {
            if (member.Process is { HasExited: true } exited)
            {
                throw new InvalidOperationException($"etcd member {member.Name} exited with {exited.ExitCode}; see {Path.Combine(_root, member.Name + ".log")}");
            }

            var check = new ProcessStartInfo("/usr/bin/etcdctl") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            // "endpoint health" reads through the quorum; "endpoint status" only asks the member (one restarted alone has no quorum yet).
            foreach (var argument in new[] { "--endpoints", member.ClientUrl, "--command-timeout", "2s", "endpoint", requireQuorum ? "health" : "status" })
            {
                check.ArgumentList.Add(argument);
            }

            check.Environment["ETCDCTL_API"] = "3";
            using var process = Process.Start(check)!;
            last = await process.StandardOutput.ReadToEndAsync() + await process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            if (process.ExitCode == 0)
            {
                return;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"etcd member {member.Name} at {member.ClientUrl} was not healthy within 60 s: {last}");
    }

    private static async Task StopAsync(Member member)
    {
        if (member.Process is not { } process)
        {
            return;
        }

        if (!process.HasExited)
        {
            process.Kill();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await process.WaitForExitAsync(timeout.Token);
        }

        process.Dispose();
        member.Process = null;
    }

    private static int[] FreePorts(IPAddress address, int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(address, 0)).ToList();
        foreach (var listener in listeners)
        {
            listener.Start();
        }

        var ports = listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToArray();
        foreach (var listener in listeners)
        {
            listener.Stop();
        }

        return ports;
    }

    private sealed class Member(string name, string dataDirectory, string clientUrl, string peerUrl)
    {
        public string Name { get; } = name;

        public string DataDirectory { get; } = dataDirectory;

        public string ClientUrl { get; } = clientUrl;

        public string PeerUrl { get; } = peerUrl;

        public Process? Process { get; set; }

        public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Name} {ClientUrl}");
    }
}
