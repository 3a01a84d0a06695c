using System.Text.Json;
using Virt.Clustering;
using Virt.Kvm.Testing;
using Virt.Kvm.VirtualMachines;
using Virt.Network.Hosting;
using Virt.Network.Manager;
using Virt.Networking;
using Virt.Processes;
using Virt.Storage;
using Virt.Storage.Pools;
using Virt.VirtualMachines;

/// <summary>
/// A lab host as a node of a cluster (the host agent started with <c>cluster ENDPOINTS PREFIX LEASE_S LISTEN TLS_DIR</c>):
/// its cluster manager (the VM manager's start gate), HA agent (with the storage backend's locks), migration agent and
/// definition reconciler (a network backend for the host's namespace, and its storage), and a membership loop that joins
/// again whenever the node has no lease (after a partition), as the panel does. The node's values for shared definitions:
/// <c>underlay</c> (its address on the lab's switch) and <c>pool-dir</c> (a directory for pools in its storage state).
/// </summary>
internal sealed class ClusterNode : IAsyncDisposable
{
    private const ClusterGuestKind Vm = ClusterGuestKind.VirtualMachine;
    private readonly CancellationTokenSource _stop = new();
    private Task _membership = Task.CompletedTask;
    private volatile string? _lastJoinError;
    private int _disposed;

    private readonly string _stateDirectory;

    private ClusterNode(ClusterManager cluster, string stateDirectory)
    {
        Cluster = cluster;
        _stateDirectory = stateDirectory;
    }

    public ClusterManager Cluster { get; }

    public ClusterHaAgent? Ha { get; private set; }

    public ClusterMigrationAgent? Migration { get; private set; }

    public ClusterDefinitionReconciler? Definitions { get; private set; }

    private NetworkManager? Networks { get; set; }

    /// <summary>The cluster manager from the agent's arguments after <c>cluster</c>: ENDPOINTS PREFIX LEASE_S LISTEN TLS_DIR.</summary>
    public static ClusterNode Create(string hostName, string stateDirectory, string[] arguments)
    {
        var options = new ClusterOptions
        {
            NodeName = hostName,
            KeyPrefix = arguments[1],
            LeaseTtl = TimeSpan.FromSeconds(int.Parse(arguments[2], System.Globalization.CultureInfo.InvariantCulture)),
            StateDirectory = stateDirectory + ".cluster",
        };
        options.NodeValues["underlay"] = arguments[3];
        options.NodeValues["pool-dir"] = stateDirectory + ".storage/shared-pools";
        foreach (var endpoint in arguments[0].Split(','))
        {
            options.Endpoints.Add(endpoint);
        }

        return new ClusterNode(new ClusterManager(options), stateDirectory);
    }

    /// <summary>Joins, then runs the node's agents: HA (fast timings for tests) and migration (receiving on <paramref name="listenAddress"/>).</summary>
    public async Task StartAsync(KvmVirtualMachineManager vms, StorageManager storage, string listenAddress, string tlsDirectory)
    {
        await Cluster.JoinAsync();
        Ha = new ClusterHaAgent(Cluster, vms, storage, new ClusterHaOptions { RecoveryDelay = TimeSpan.FromSeconds(2), ReconcileInterval = TimeSpan.FromMilliseconds(500) }, volumeLocks: storage);
        Migration = new ClusterMigrationAgent(Cluster, vms, options: new ClusterMigrationOptions { ListenAddress = listenAddress, TlsDirectory = tlsDirectory, PrepareTimeout = TimeSpan.FromSeconds(30) });
        Networks = new NetworkManager(new NetworkOptions { StateDirectory = _stateDirectory + ".network" }, new System.IO.Abstractions.FileSystem(), new ProcessRunner());
        Definitions = new ClusterDefinitionReconciler(Cluster, Networks, storage) { ResyncInterval = TimeSpan.FromSeconds(2) };
        await Ha.StartAsync();
        await Migration.StartAsync();
        await Definitions.StartAsync();
        _membership = Task.Run(() => KeepJoinedAsync(_stop.Token));
    }

    /// <summary>The cluster commands of the host agent; null when <paramref name="command"/> is not one.</summary>
    public async Task<string?> HandleAsync(string command, string[] arguments, string guestDirectory, StorageManager storage) => command switch
    {
        "protect" => (await Ha!.ProtectAsync(EmbeddedGuest.CreateSpec(arguments[0], guestDirectory) with { Disks = [new VmDisk("data", "shared:" + arguments[1])] })).Node,
        "claim" => (await Cluster.ClaimAsync(Vm, arguments[0], new GuestClaim(256L << 20))).Node,
        "owner" => (await Cluster.GetOwnerAsync(Vm, arguments[0]))?.Node ?? "none",
        "node-state" => (await Cluster.GetNodeAsync(arguments[0])).State.ToString(),
        "holds-lease" => Cluster.HoldsLease ? "yes" : $"no (last join: {_lastJoinError ?? "none yet"})",
        "drain" => Describe(await Cluster.DrainAsync(arguments[0])),
        "share-pool" => (await Cluster.PutPoolAsync(new RbdPoolDefinition(arguments[0], "{{node:pool-dir}}", arguments[1]) { RbdPool = arguments[2] }, 0)).Revision.ToString(System.Globalization.CultureInfo.InvariantCulture),
        "share-overlay" => (await Cluster.PutNetworkAsync(new VxlanNetworkDefinition(arguments[0], int.Parse(arguments[1], System.Globalization.CultureInfo.InvariantCulture), "{{node:underlay}}") { Peers = ["{{peers:underlay}}"] }, 0)).Revision.ToString(System.Globalization.CultureInfo.InvariantCulture),
        "pool-ready" => (await storage.ListPoolsAsync()).Any(pool => pool.Definition.Name == arguments[0]) ? "yes" : $"no ({string.Join("; ", Definitions!.Problems.Select(p => $"{p.Key}: {p.Value}"))})",
        "network-state" => (await Networks!.ListAsync()).FirstOrDefault(n => n.Definition.Name == arguments[0]) is { Definition: VxlanNetworkDefinition vxlan } network
            ? $"{(network.Applied ? "applied" : "defined")} {vxlan.LocalAddress} {string.Join(",", vxlan.Peers)}"
            : "absent",
        "lock-holders" => string.Join(";", (await storage.GetLockHoldersAsync(VolumeId.Parse("shared:" + arguments[0]))).Select(h => $"{h.Holder} {string.Join(",", h.ClientAddresses)}")),
        _ => null,
    };

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stop.CancelAsync();
        await _membership.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (Definitions is not null)
        {
            await Definitions.DisposeAsync();
        }

        if (Migration is not null)
        {
            await Migration.DisposeAsync();
        }

        if (Ha is not null)
        {
            await Ha.DisposeAsync();
        }

        await Cluster.DisposeAsync();
        _stop.Dispose();
    }

    private static string Describe(ClusterDrain drain) =>
        JsonSerializer.Serialize(new Dictionary<string, string>
        {
            ["state"] = drain.State.ToString(),
            ["moved"] = string.Join(",", drain.Moved.Select(m => $"{m.Name}>{m.ToNode}")),
            ["failures"] = string.Join("; ", drain.Failures.Select(f => $"{f.Name}: {f.Reason}")),
        });

    private async Task KeepJoinedAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (!Cluster.HoldsLease && !cancellationToken.IsCancellationRequested)
            {
                try
                {
                    await Cluster.JoinAsync(cancellationToken: cancellationToken);
                    _lastJoinError = null;
                }
                catch (Exception e) when (!cancellationToken.IsCancellationRequested)
                {
                    // etcd still out of reach (the link is down): try again; the test sees why through holds-lease.
                    _lastJoinError = $"{e.GetType().Name}: {e.Message}";
                }
            }
        }
    }
}
