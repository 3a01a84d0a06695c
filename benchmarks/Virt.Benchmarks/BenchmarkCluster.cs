using Virt.Clustering;
using Virt.Hosting;
using Virt.Kvm.Host;
using Virt.Kvm.Hosting;
using Virt.Kvm.Tls;
using Virt.Kvm.VirtualMachines;
using Virt.Processes;

namespace Virt.Benchmarks;

/// <summary>
/// What the cluster benchmarks share: a 3-member etcd on loopback (scripts/etcd-cluster.sh, stopped by its pids when
/// disposed), cluster nodes under one key prefix, each node's VM manager (its own state directory, the node's name as
/// host identity, its start gate the node) and, for migrations between nodes, one throwaway CA issuing every node a
/// certificate for 127.0.0.1. Run from the repository root.
/// </summary>
internal sealed class BenchmarkCluster : IDisposable
{
    private readonly string _etcdDirectory = Path.Combine("/tmp", "vb-etcd-" + Guid.NewGuid().ToString("N")[..8]);
    private HostCertificateAuthority? _authority;

    private BenchmarkCluster(string basePort)
    {
        Endpoints = HostCommand.Run("bash", "scripts/etcd-cluster.sh", "start", _etcdDirectory, basePort).Trim().Split('\n')[^1].Split(',');
    }

    /// <summary>The etcd client URLs.</summary>
    public string[] Endpoints { get; }

    /// <summary>A working directory for the run, deleted with the cluster.</summary>
    public string Root { get; } = Directory.CreateTempSubdirectory("vb-cluster-").FullName;

    public static BenchmarkCluster Start(string basePort = "23790") => new(basePort);

    /// <summary>A node (not joined) under <paramref name="prefix"/>, its state in <paramref name="directory"/>.</summary>
    public ClusterManager Node(string name, string prefix, string directory, TimeSpan? lease = null)
    {
        var options = new ClusterOptions { NodeName = name, KeyPrefix = prefix, StateDirectory = Path.Combine(directory, name) };
        options.LeaseTtl = lease ?? options.LeaseTtl;
        foreach (var endpoint in Endpoints)
        {
            options.Endpoints.Add(endpoint);
        }

        return new ClusterManager(options);
    }

    /// <summary>Node <paramref name="node"/>'s VM manager, asking <paramref name="gate"/> before every start.</summary>
    public KvmVirtualMachineManager Vms(string node, string state, IGuestStartGate gate)
    {
        var runner = new ProcessRunner();
        var files = new System.IO.Abstractions.FileSystem();
        return new KvmVirtualMachineManager(new KvmOptions { StateDirectory = state, MigrationTlsDirectory = TlsDirectoryOf(node) }, runner, new QemuCapabilityProbe(runner), new AcceleratorProbe(files), TimeProvider.System, fileSystem: files, hostIdentity: new VirtHostIdentity(node), startGate: gate);
    }

    /// <summary>Node <paramref name="node"/>'s TLS directory (CN = the node's name, address 127.0.0.1), issued on first use.</summary>
    public string TlsDirectoryOf(string node)
    {
        var directory = Path.Combine(Root, "tls", node);
        _authority ??= HostCertificateAuthority.Create("virt benchmark CA", TimeSpan.FromDays(2));
        if (!Directory.Exists(directory))
        {
            _authority.WriteHostDirectory(new System.IO.Abstractions.FileSystem(), directory, new HostCertificateRequest(new VirtHostIdentity(node)) { Addresses = ["127.0.0.1"], Lifetime = TimeSpan.FromDays(1) });
        }

        return directory;
    }

    /// <summary>Polls <paramref name="condition"/> every 50 ms for up to 2 minutes.</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition)
    {
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        while (!await condition())
        {
            if (deadline.Elapsed > TimeSpan.FromSeconds(120))
            {
                throw new TimeoutException("waited 120 s");
            }

            await Task.Delay(50);
        }
    }

    public void Dispose()
    {
        HostCommand.Run("bash", "scripts/etcd-cluster.sh", "stop", _etcdDirectory);
        _authority?.Dispose();
        Directory.Delete(Root, recursive: true);
    }
}
