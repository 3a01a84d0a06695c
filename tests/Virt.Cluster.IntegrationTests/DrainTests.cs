using Virt.Cluster.IntegrationTests.Infrastructure;
using Virt.Clustering;
using Virt.Kvm.Testing;
using Virt.VirtualMachines;

namespace Virt.Cluster.IntegrationTests;

/// <summary>
/// Live migration between nodes and drains, on real etcd and real QEMU (the test guest): two nodes in this process, each
/// with its own VM manager (state directory, host identity, TLS certificate from one test CA), HA agent and migration
/// agent; the VMs move over TLS on loopback.
/// </summary>
[Collection(EtcdCollection.Name)]
public sealed class DrainTests(EtcdCluster etcd)
{
    private const ClusterGuestKind Vm = ClusterGuestKind.VirtualMachine;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_drain_asked_from_another_node_moves_every_running_VM_live_with_its_ownership_and_resume_returns_the_node()
    {
        ClusterGuests.Require();
        await using var lab = new ClusterLab(etcd);
        var (a, b) = (await NodeAsync(lab, "node-a"), await NodeAsync(lab, "node-b"));

        // A plain clustered VM and an HA one on node-a.
        var web = await a.Vms.CreateAsync(EmbeddedGuest.CreateSpec("web", memoryMiB: 128), Token);
        await a.Cluster.ClaimAsync(Vm, "web", new GuestClaim(128L << 20), Token);
        await web.StartAsync(Token);
        await a.Ha.ProtectAsync(EmbeddedGuest.CreateSpec("db", memoryMiB: 128), cancellationToken: Token);
        await ClusterGuests.WaitForAsync(async () => await StateOnAsync(a.Vms, "db") == VmState.Running, "db running on node-a");
        var bootIds = new Dictionary<string, string>
        {
            ["web"] = await ClusterGuests.BootIdAsync(web),
            ["db"] = await ClusterGuests.BootIdAsync(await a.Vms.GetAsync("db", Token)),
        };

        var drain = await b.Cluster.DrainAsync("node-a", Token);

        Assert.Equal(ClusterDrainState.Done, drain.State);
        Assert.Equal([new DrainedGuest("db", "node-b"), new DrainedGuest("web", "node-b")], drain.Moved.OrderBy(m => m.Name, StringComparer.Ordinal));
        Assert.Empty(drain.Failures);
        Assert.Equal(ClusterNodeState.Maintenance, (await b.Cluster.GetNodeAsync("node-a", Token)).State);
        foreach (var name in new[] { "web", "db" })
        {
            Assert.Equal("node-b", (await a.Cluster.GetOwnerAsync(Vm, name, Token))!.Node);
            var arrived = await b.Vms.GetAsync(name, Token);
            await ClusterGuests.WaitForAsync(async () => (await arrived.GetStatusAsync(Token)).State == VmState.Running, $"{name} running on node-b");
            Assert.Equal(bootIds[name], await ClusterGuests.BootIdAsync(arrived));
            Assert.Null(await StateOnAsync(a.Vms, name));
        }

        // node-a's HA agent does not bring db back behind the migration (the gate refused it while the record existed, and
        // the ownership went with the VM), and nothing is placed on a node in maintenance.
        await Task.Delay(TimeSpan.FromSeconds(2), Token);
        Assert.Null(await StateOnAsync(a.Vms, "db"));
        var placement = await Assert.ThrowsAsync<ClusterPlacementException>(() => a.Cluster.PlaceAsync(new PlacementRequest { MemoryBytes = 1L << 20, ExcludedNodes = ["node-b"] }, Token));
        Assert.Contains("node-a", placement.Message, StringComparison.Ordinal);

        await b.Cluster.ResumeAsync("node-a", Token);
        Assert.Equal(ClusterNodeState.Online, (await b.Cluster.GetNodeAsync("node-a", Token)).State);
        Assert.Null(await a.Cluster.GetDrainAsync("node-a", Token));

        // And a single VM goes back on request, through its owner's agent.
        var back = await b.Migration.MigrateAsync("web", "node-a", cancellationToken: Token);
        Assert.Equal(("node-b", "node-a"), (back.Source, back.Destination));
        Assert.Equal("node-a", (await b.Cluster.GetOwnerAsync(Vm, "web", Token))!.Node);
        Assert.Equal(bootIds["web"], await ClusterGuests.BootIdAsync(await a.Vms.GetAsync("web", Token)));
    }

    [Fact]
    public async Task A_migration_that_cannot_happen_leaves_the_VM_running_and_owned_where_it_was_with_the_reason()
    {
        ClusterGuests.Require();
        await using var lab = new ClusterLab(etcd);
        var a = await NodeAsync(lab, "node-a");
        var b = await NodeAsync(lab, "node-b", receives: false);
        var web = await a.Vms.CreateAsync(EmbeddedGuest.CreateSpec("web", memoryMiB: 128), Token);
        await a.Cluster.ClaimAsync(Vm, "web", new GuestClaim(128L << 20), Token);

        var stopped = await Assert.ThrowsAsync<ClusterException>(() => a.Migration.MigrateAsync("web", "node-b", cancellationToken: Token));
        Assert.Equal(VirtErrorKind.Refused, stopped.ErrorKind);
        Assert.Contains("VM web is Stopped on node node-a: only a running VM migrates live", stopped.Message, StringComparison.Ordinal);

        await web.StartAsync(Token);
        var unknown = await Assert.ThrowsAsync<ClusterException>(() => a.Migration.MigrateAsync("web", "node-x", cancellationToken: Token));
        Assert.Equal(VirtErrorKind.NotFound, unknown.ErrorKind);
        var self = await Assert.ThrowsAsync<ClusterException>(() => a.Migration.MigrateAsync("web", "node-a", cancellationToken: Token));
        Assert.Equal(VirtErrorKind.InvalidInput, self.ErrorKind);
        var notOwner = await Assert.ThrowsAsync<ClusterException>(() => b.Migration.MigrateAsync("web", "node-a", cancellationToken: Token));
        Assert.Contains("owned by node node-a, not node-b", notOwner.Message, StringComparison.Ordinal);

        // node-b runs no receiving agent: the drain ends Failed, naming web and why; web runs on, still node-a's.
        var drain = await b.Cluster.DrainAsync("node-a", Token);
        Assert.Equal(ClusterDrainState.Failed, drain.State);
        var failure = Assert.Single(drain.Failures);
        Assert.Equal((Vm, "web"), (failure.Kind, failure.Name));
        Assert.Contains("node node-b does not receive VMs: its migration agent has no ListenAddress", failure.Reason, StringComparison.Ordinal);
        Assert.Equal(VmState.Running, await StateOnAsync(a.Vms, "web"));
        Assert.Equal("node-a", (await a.Cluster.GetOwnerAsync(Vm, "web", Token))!.Node);
        Assert.Null(await StateOnAsync(b.Vms, "web"));
        Assert.Null(await a.Cluster.ReadMigrationAsync("web", Token));

        // No record left behind: the VM may start (the gate passes) once stopped, and may migrate again.
        await web.KillAsync(Token);
        await a.Cluster.EnsureMayStartAsync(Vm, "web", Token);
    }

    [Fact]
    public async Task While_a_migration_record_exists_no_node_may_start_the_VM()
    {
        await using var lab = new ClusterLab(etcd);
        var (clusterA, clusterB) = (lab.Node("node-a"), lab.Node("node-b"));
        await clusterA.JoinAsync(cancellationToken: Token);
        await clusterB.JoinAsync(cancellationToken: Token);
        var owner = await clusterA.ClaimAsync(Vm, "moving", new GuestClaim(1L << 20), Token);
        var record = new Virt.Cluster.Store.MigrationRecord("node-a", "node-b", owner.Revision, "{}", new Dictionary<string, long>(), DateTimeOffset.UtcNow);

        await clusterA.BeginMigrationAsync("moving", record, Token);

        var refused = await Assert.ThrowsAsync<ClusterException>(() => clusterA.EnsureMayStartAsync(Vm, "moving", Token));
        Assert.Contains("it is being migrated from node node-a to node node-b; wait for the migration to end", refused.Message, StringComparison.Ordinal);
        var twice = await Assert.ThrowsAsync<ClusterException>(() => clusterA.BeginMigrationAsync("moving", record, Token));
        Assert.Equal(VirtErrorKind.Conflict, twice.ErrorKind);

        // Nor may its ownership change: the hand-over moves it from the revision the migration began at.
        foreach (var change in new Func<Task>[]
        {
            () => clusterA.TransferAsync(Vm, "moving", "node-b", owner.Revision, Token),
            () => clusterA.ReleaseAsync(Vm, "moving", Token),
            () => clusterA.SetHighAvailabilityAsync(Vm, "moving", true, Token),
        })
        {
            var blocked = await Assert.ThrowsAsync<ClusterException>(change);
            Assert.Equal(VirtErrorKind.Refused, blocked.ErrorKind);
            Assert.Contains("is being migrated from node node-a to node node-b: cannot", blocked.Message, StringComparison.Ordinal);
        }

        Assert.Equal(owner.Revision, (await clusterA.GetOwnerAsync(Vm, "moving", Token))!.Revision);

        // The hand-over moves the owner and ends the migration in one transaction; a second one (the other side) finds it done.
        Assert.Equal("node-b", await clusterB.CompleteMigrationAsync("moving", record, Token));
        Assert.Equal("node-b", await clusterA.CompleteMigrationAsync("moving", record, Token));
        Assert.Null(await clusterA.ReadMigrationAsync("moving", Token));
        await clusterB.EnsureMayStartAsync(Vm, "moving", Token);
    }

    [Fact]
    public async Task A_drain_stops_the_nodes_running_clustered_containers_and_keeps_them_with_the_keep_policy()
    {
        HostRequirement.RequireLxc();
        await using var lab = new ClusterLab(etcd);
        var (node, asker) = (lab.Node("node-a"), lab.Node("node-b"));
        await node.JoinAsync(cancellationToken: Token);
        await asker.JoinAsync(cancellationToken: Token);

        // A short LXC path (LXC's socket paths are limited), removed with the containers at the end.
        var lxcPath = "/tmp/vcl-" + Guid.NewGuid().ToString("N")[..8];
        Directory.CreateDirectory(lxcPath);
        var containers = new Virt.Lxc.Containers.LxcContainerManager(new Virt.Lxc.Hosting.LxcOptions { LxcPath = lxcPath, StartTimeout = TimeSpan.FromSeconds(30) }, new System.IO.Abstractions.FileSystem(), new Virt.Processes.ProcessRunner(), startGate: node);
        try
        {
            var vms = lab.VmManager("node-a", node);
            foreach (var name in new[] { "ct-web", "ct-db" })
            {
                var created = await containers.CreateAsync(new Virt.Containers.ContainerSpec(name, Virt.Containers.ContainerRootfs.Busybox()), Token);
                await node.ClaimAsync(ClusterGuestKind.Container, name, new GuestClaim(64L << 20), Token);
                await created.StartAsync(cancellationToken: Token);
            }

            await using (var keeping = new ClusterMigrationAgent(node, vms, containers, new ClusterMigrationOptions { ContainerPolicy = DrainContainerPolicy.Keep }))
            {
                await keeping.StartAsync(Token);
                var kept = await asker.DrainAsync("node-a", Token);
                Assert.Equal((ClusterDrainState.Done, 0), (kept.State, kept.Stopped.Count));
                Assert.Equal(Virt.Containers.ContainerState.Running, (await (await containers.GetAsync("ct-web", Token)).GetStatusAsync(Token)).State);
            }

            await asker.ResumeAsync("node-a", Token);
            await using var stopping = new ClusterMigrationAgent(node, vms, containers, new ClusterMigrationOptions { ContainerStopTimeout = TimeSpan.FromSeconds(5) });
            await stopping.StartAsync(Token);
            var drain = await asker.DrainAsync("node-a", Token);

            Assert.Equal(ClusterDrainState.Done, drain.State);
            Assert.Equal(["ct-db", "ct-web"], drain.Stopped.Order(StringComparer.Ordinal));
            Assert.Empty(drain.Moved);
            foreach (var name in new[] { "ct-web", "ct-db" })
            {
                Assert.Equal(Virt.Containers.ContainerState.Stopped, (await (await containers.GetAsync(name, Token)).GetStatusAsync(Token)).State);
                Assert.Equal("node-a", (await asker.GetOwnerAsync(ClusterGuestKind.Container, name, Token))!.Node);
            }
        }
        finally
        {
            foreach (var container in await containers.ListAsync(CancellationToken.None))
            {
                await containers.DeleteAsync(container.Name, force: true, CancellationToken.None);
            }

            Directory.Delete(lxcPath, recursive: true);
        }
    }

    [Fact]
    public async Task A_drain_no_agent_takes_up_is_said_after_the_pickup_timeout_and_stays_asked_until_resume()
    {
        await using var lab = new ClusterLab(etcd);
        var asker = lab.Node("node-a", drainPickupTimeout: TimeSpan.FromSeconds(2));
        var idle = lab.Node("node-b");
        await asker.JoinAsync(cancellationToken: Token);
        await idle.JoinAsync(cancellationToken: Token);

        var failed = await Assert.ThrowsAsync<ClusterException>(() => asker.DrainAsync("node-b", Token));
        Assert.Contains("node node-b did not take up its drain within 2 s: is its migration agent running", failed.Message, StringComparison.Ordinal);
        Assert.Equal(ClusterDrainState.Requested, (await asker.GetDrainAsync("node-b", Token))!.State);
        Assert.Equal(ClusterNodeState.Maintenance, (await asker.GetNodeAsync("node-b", Token)).State);

        var unknown = await Assert.ThrowsAsync<ClusterException>(() => asker.DrainAsync("node-x", Token));
        Assert.Equal(VirtErrorKind.NotFound, unknown.ErrorKind);

        await asker.ResumeAsync("node-b", Token);
        Assert.Null(await asker.GetDrainAsync("node-b", Token));
        Assert.Equal(ClusterNodeState.Online, (await asker.GetNodeAsync("node-b", Token)).State);
    }

    private static async Task<TestNode> NodeAsync(ClusterLab lab, string name, bool receives = true)
    {
        var cluster = lab.Node(name);
        await cluster.JoinAsync(cancellationToken: Token);
        var vms = lab.VmManager(name, cluster);
        var ha = new ClusterHaAgent(cluster, vms, options: ClusterGuests.FastHa);
        var migration = new ClusterMigrationAgent(cluster, vms, options: new ClusterMigrationOptions { ListenAddress = receives ? "127.0.0.1" : null, TlsDirectory = lab.TlsDirectoryOf(name), PrepareTimeout = TimeSpan.FromSeconds(30) });
        lab.OnDispose(ha);
        lab.OnDispose(migration);
        await ha.StartAsync(Token);
        await migration.StartAsync(Token);
        return new TestNode(cluster, vms, ha, migration);
    }

    private static async Task<VmState?> StateOnAsync(IVirtualMachineManager vms, string name)
    {
        try
        {
            return (await (await vms.GetAsync(name, Token)).GetStatusAsync(Token)).State;
        }
        catch (VirtException e) when (e.ErrorKind == VirtErrorKind.NotFound)
        {
            return null;
        }
    }

    private sealed record TestNode(ClusterManager Cluster, IVirtualMachineManager Vms, ClusterHaAgent Ha, ClusterMigrationAgent Migration);
}
