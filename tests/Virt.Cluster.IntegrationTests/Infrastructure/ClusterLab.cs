using Virt.Cluster.Membership;
using Virt.Clustering;

namespace Virt.Cluster.IntegrationTests.Infrastructure;

/// <summary>
/// Cluster nodes for one test: every manager writes under the test's own key prefix in the shared etcd, keeps its node
/// state in the test's temporary directory, and publishes the capacity it is given (so placement is deterministic). The
/// lease is 6 s (renewed every 2 s, each renewal allowed 2 s): short enough for the death tests, long enough that a
/// loaded 2-core machine does not miss renewals.
/// Disposing the lab disposes every manager it made.
/// </summary>
public sealed class ClusterLab(EtcdCluster etcd, TimeSpan? leaseTtl = null) : IAsyncDisposable
{
    /// <summary>The nodes' lease.</summary>
    public TimeSpan LeaseTtl { get; } = leaseTtl ?? TimeSpan.FromSeconds(6);

    private readonly List<ClusterManager> _managers = [];
    private readonly List<Virt.Kvm.VirtualMachines.KvmVirtualMachineManager> _vmManagers = [];
    private readonly List<IAsyncDisposable> _agents = [];
    private readonly List<IDisposable> _backends = [];
    private Virt.Kvm.Tls.HostCertificateAuthority? _authority;

    public string Prefix { get; } = $"/virt-test-{Guid.NewGuid():N}/";

    public string Root { get; } = Directory.CreateTempSubdirectory("virt-cluster-").FullName;

    public static NodeCapacity Capacity(long freeMib = 4096, int cpus = 4, string[]? networks = null, string[]? pools = null, long totalMib = 16384) =>
        new(cpus, totalMib << 20, freeMib << 20, networks ?? ["lan"], pools ?? ["rbd"], "10.0.2");

    /// <summary>A manager for node <paramref name="name"/>, with its own state directory unless <paramref name="stateDirectory"/> is given.</summary>
    public ClusterManager Node(string name, NodeCapacity? capacity = null, string? stateDirectory = null, TimeSpan? operationTimeout = null, IReadOnlyList<string>? endpoints = null, TimeSpan? drainPickupTimeout = null, IReadOnlyDictionary<string, string>? nodeValues = null)
    {
        var options = new ClusterOptions
        {
            NodeName = name,
            KeyPrefix = Prefix,
            LeaseTtl = LeaseTtl,
            OperationTimeout = operationTimeout ?? TimeSpan.FromSeconds(5),
            StateDirectory = stateDirectory ?? Path.Combine(Root, name),
        };
        options.DrainPickupTimeout = drainPickupTimeout ?? options.DrainPickupTimeout;
        foreach (var (key, value) in nodeValues ?? new Dictionary<string, string>())
        {
            options.NodeValues[key] = value;
        }

        foreach (var url in endpoints ?? etcd.ClientUrls)
        {
            options.Endpoints.Add(url);
        }

        var manager = new ClusterManager(options, null, new FixedCapacity(capacity ?? Capacity()), new System.IO.Abstractions.FileSystem(), null, null);
        _managers.Add(manager);
        return manager;
    }

    /// <summary>
    /// A VM manager for node <paramref name="node"/> (its own state directory, the node's name as its host identity, and
    /// the node's TLS directory from <see cref="TlsDirectoryOf"/>) whose start gate is <paramref name="gate"/>.
    /// </summary>
    public Virt.Kvm.VirtualMachines.KvmVirtualMachineManager VmManager(string node, IGuestStartGate gate, Virt.Storage.IVolumeResolver? volumes = null)
    {
        var runner = new Virt.Processes.ProcessRunner();
        var files = new System.IO.Abstractions.FileSystem();
        var options = new Virt.Kvm.Hosting.KvmOptions { StateDirectory = Path.Combine(Root, node + "-vms"), MigrationTlsDirectory = TlsDirectoryOf(node) };
        var vms = new Virt.Kvm.VirtualMachines.KvmVirtualMachineManager(
            options, runner, new Virt.Kvm.VirtualMachines.QemuCapabilityProbe(runner), new Virt.Kvm.Host.AcceleratorProbe(files), TimeProvider.System, volumes: volumes, fileSystem: files, hostIdentity: new Virt.Hosting.VirtHostIdentity(node), startGate: gate);
        _vmManagers.Add(vms);
        return vms;
    }

    /// <summary>
    /// Node <paramref name="node"/>'s TLS directory in QEMU's layout, issued (on first use) by one throwaway CA for the lab
    /// with the node's name as common name and 127.0.0.1 as its address: the nodes migrate to each other over loopback.
    /// </summary>
    public string TlsDirectoryOf(string node)
    {
        var directory = Path.Combine(Root, "tls", node);
        lock (_managers)
        {
            _authority ??= Virt.Kvm.Tls.HostCertificateAuthority.Create("virt cluster test CA", TimeSpan.FromDays(2));
            if (!Directory.Exists(directory))
            {
                _authority.WriteHostDirectory(new System.IO.Abstractions.FileSystem(), directory, new Virt.Kvm.Tls.HostCertificateRequest(new Virt.Hosting.VirtHostIdentity(node)) { Addresses = ["127.0.0.1"], Lifetime = TimeSpan.FromDays(1) });
            }
        }

        return directory;
    }

    /// <summary>Makes and joins <paramref name="names"/>.</summary>
    public async Task<ClusterManager[]> JoinAsync(params string[] names)
    {
        var nodes = names.Select(n => Node(n)).ToArray();
        foreach (var node in nodes)
        {
            await node.JoinAsync(cancellationToken: TestContext.Current.CancellationToken);
        }

        return nodes;
    }

    /// <summary>Disposes <paramref name="agent"/> with the lab, before the VM managers and the nodes it works with.</summary>
    public void OnDispose(IAsyncDisposable agent) => _agents.Add(agent);

    /// <summary>Disposes <paramref name="backend"/> (e.g. a storage manager) with the lab, after the VM managers that use it.</summary>
    public void OnDispose(IDisposable backend) => _backends.Add(backend);

    public async ValueTask DisposeAsync()
    {
        foreach (var agent in _agents)
        {
            await agent.DisposeAsync();
        }

        // Every VM a test left running is killed by its manager (by the pid it started), then the managers go.
        foreach (var vms in _vmManagers)
        {
            foreach (var vm in await vms.ListAsync())
            {
                try
                {
                    await vm.KillAsync();
                }
                catch (VirtException)
                {
                    // Not running.
                }
            }

            await vms.DisposeAsync();
        }

        foreach (var backend in _backends)
        {
            backend.Dispose();
        }

        foreach (var manager in _managers)
        {
            await manager.DisposeAsync();
        }

        _authority?.Dispose();
        Directory.Delete(Root, recursive: true);
    }

    private sealed class FixedCapacity(NodeCapacity capacity) : INodeCapacityProbe
    {
        public Task<NodeCapacity> MeasureAsync(CancellationToken cancellationToken) => Task.FromResult(capacity);
    }
}
