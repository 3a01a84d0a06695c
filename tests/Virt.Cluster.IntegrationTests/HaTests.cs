using System.Diagnostics;
using Virt.Cluster.IntegrationTests.Infrastructure;
using Virt.Clustering;
using Virt.Kvm.Testing;
using Virt.VirtualMachines;

namespace Virt.Cluster.IntegrationTests;

/// <summary>
/// HA on real etcd and real QEMU (the test guest, which boots from its initramfs: no disk, so nothing to share): two
/// nodes in this process, each with its own VM manager whose start gate is its node's cluster, and its own HA agent.
/// </summary>
[Collection(EtcdCollection.Name)]
public sealed class HaTests(EtcdCluster etcd)
{
    private const ClusterGuestKind Vm = ClusterGuestKind.VirtualMachine;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_dead_nodes_HA_VM_is_restarted_on_a_survivor_and_the_split_is_reported()
    {
        ClusterGuests.Require();
        await using var lab = new ClusterLab(etcd);
        var (clusterA, clusterB) = (lab.Node("node-a"), lab.Node("node-b"));
        await clusterA.JoinAsync(cancellationToken: Token);
        await clusterB.JoinAsync(cancellationToken: Token);
        var (vmsA, vmsB) = (lab.VmManager("node-a", clusterA), lab.VmManager("node-b", clusterB));
        var agentA = new ClusterHaAgent(clusterA, vmsA, options: ClusterGuests.FastHa);
        await using var agentB = new ClusterHaAgent(clusterB, vmsB, options: ClusterGuests.FastHa);
        await agentA.StartAsync(Token);
        await agentB.StartAsync(Token);

        await agentA.ProtectAsync(EmbeddedGuest.CreateSpec("ha1", memoryMiB: 128), cancellationToken: Token);
        var onA = await vmsA.GetAsync("ha1", Token);
        await ClusterGuests.WaitForAsync(async () => (await onA.GetStatusAsync(Token)).State == VmState.Running, "ha1 running on node-a");
        var copyOnB = await vmsB.CreateAsync(EmbeddedGuest.CreateSpec("ha1", memoryMiB: 128), Token);
        await Assert.ThrowsAsync<ClusterException>(() => copyOnB.StartAsync(Token));

        // node-a dies: its process stops (no lease renewal, nothing revoked) and its QEMU with it.
        var death = Stopwatch.StartNew();
        await agentA.DisposeAsync();
        await clusterA.DisposeAsync();
        await onA.KillAsync(Token);

        var seenDead = TimeSpan.Zero;
        await ClusterGuests.WaitForAsync(
            async () =>
            {
                if (seenDead == TimeSpan.Zero && (await clusterB.GetNodeAsync("node-a", Token)).State == ClusterNodeState.Dead)
                {
                    seenDead = death.Elapsed;
                }

                return (await clusterB.GetOwnerAsync(Vm, "ha1", Token))?.Node == "node-b";
            },
            "ha1 handed to node-b");
        var handed = death.Elapsed;
        var onB = await vmsB.GetAsync("ha1", Token);
        await ClusterGuests.WaitForAsync(async () => (await onB.GetStatusAsync(Token)).State == VmState.Running, "ha1 running on node-b");
        var running = death.Elapsed;
        TestContext.Current.TestOutputHelper?.WriteLine($"failover with a {lab.LeaseTtl.TotalSeconds:0} s lease: dead after {seenDead.TotalSeconds:0.0} s, handed over at {handed.TotalSeconds:0.0} s, running on node-b at {running.TotalSeconds:0.0} s");
        Assert.InRange(running, TimeSpan.Zero, TimeSpan.FromSeconds(60));
        Assert.Equal(VmState.Stopped, (await onA.GetStatusAsync(Token)).State);
    }

    [Fact]
    public async Task An_HA_VM_requested_stopped_stays_stopped_on_its_node_and_on_the_survivor_that_takes_it_over_until_requested_started()
    {
        ClusterGuests.Require();
        await using var lab = new ClusterLab(etcd);
        var (clusterA, clusterB) = (lab.Node("node-a"), lab.Node("node-b"));
        await clusterA.JoinAsync(cancellationToken: Token);
        await clusterB.JoinAsync(cancellationToken: Token);
        var (vmsA, vmsB) = (lab.VmManager("node-a", clusterA), lab.VmManager("node-b", clusterB));
        var options = new ClusterHaOptions { RecoveryDelay = ClusterGuests.FastHa.RecoveryDelay, ReconcileInterval = ClusterGuests.FastHa.ReconcileInterval, StopTimeout = TimeSpan.FromSeconds(5) };
        var agentA = new ClusterHaAgent(clusterA, vmsA, options: options);
        await using var agentB = new ClusterHaAgent(clusterB, vmsB, options: options);
        await agentA.StartAsync(Token);
        await agentB.StartAsync(Token);
        await agentA.ProtectAsync(EmbeddedGuest.CreateSpec("ha3", memoryMiB: 128), cancellationToken: Token);
        var onA = await vmsA.GetAsync("ha3", Token);
        await ClusterGuests.WaitForAsync(async () => (await onA.GetStatusAsync(Token)).State == VmState.Running, "ha3 running on node-a");

        // Stopped on purpose: down when the call returns, and still down after several of the agent's passes.
        var stopped = await agentA.RequestStateAsync("ha3", HaRequestedState.Stopped, Token);
        Assert.Equal((HaRequestedState.Stopped, true), (stopped.RequestedState, stopped.HighAvailability));
        Assert.Equal(VmState.Stopped, (await onA.GetStatusAsync(Token)).State);
        await Task.Delay(options.ReconcileInterval * 4, Token);
        Assert.Equal(VmState.Stopped, (await onA.GetStatusAsync(Token)).State);
        Assert.Equal(HaRequestedState.Stopped, (await clusterB.GetOwnerAsync(Vm, "ha3", Token))!.RequestedState);
        var refused = await Assert.ThrowsAsync<ClusterException>(() => agentB.RequestStateAsync("ha3", HaRequestedState.Started, Token));
        Assert.Contains("node-a", refused.Message, StringComparison.Ordinal);

        // node-a dies: node-b takes the VM over and keeps it stopped.
        await agentA.DisposeAsync();
        await clusterA.DisposeAsync();
        await ClusterGuests.WaitForAsync(async () => (await clusterB.GetOwnerAsync(Vm, "ha3", Token))?.Node == "node-b", "ha3 handed to node-b");
        await Task.Delay(options.ReconcileInterval * 4, Token);
        Assert.False(await RunsAsync(vmsB, "ha3"), "node-b started an HA VM requested stopped");

        // Requested started on its new owner: it runs there.
        var started = await agentB.RequestStateAsync("ha3", HaRequestedState.Started, Token);
        Assert.Equal(HaRequestedState.Started, started.RequestedState);
        Assert.True(await RunsAsync(vmsB, "ha3"), "ha3 does not run on node-b after it was requested started");

        var notHa = await Assert.ThrowsAsync<ClusterException>(() => agentB.RequestStateAsync("nobody", HaRequestedState.Stopped, Token));
        Assert.Equal(VirtErrorKind.NotFound, notHa.ErrorKind);
        await agentB.UnprotectAsync("ha3", Token);
        await (await vmsB.GetAsync("ha3", Token)).KillAsync(Token);
    }

    private static async Task<bool> RunsAsync(IVirtualMachineManager vms, string name)
    {
        try
        {
            return (await (await vms.GetAsync(name, Token)).GetStatusAsync(Token)).State == VmState.Running;
        }
        catch (VmNotFoundException)
        {
            return false;
        }
    }

    [Fact]
    public async Task A_node_cut_off_from_etcd_kills_its_HA_VM_before_a_survivor_starts_it_and_rejoins_without_it()
    {
        ClusterGuests.Require();
        await using var lab = new ClusterLab(etcd);
        var proxies = etcd.ClientUrls.Select(url => new CuttableProxy(url)).ToList();
        try
        {
            var clusterA = lab.Node("node-a", endpoints: proxies.Select(p => p.Url).ToList(), operationTimeout: TimeSpan.FromSeconds(2));
            var clusterB = lab.Node("node-b");
            await clusterA.JoinAsync(cancellationToken: Token);
            await clusterB.JoinAsync(cancellationToken: Token);
            var (vmsA, vmsB) = (lab.VmManager("node-a", clusterA), lab.VmManager("node-b", clusterB));
            await using var agentA = new ClusterHaAgent(clusterA, vmsA, options: ClusterGuests.FastHa);
            await using var agentB = new ClusterHaAgent(clusterB, vmsB, options: ClusterGuests.FastHa);
            await agentA.StartAsync(Token);
            await agentB.StartAsync(Token);
            await agentA.ProtectAsync(EmbeddedGuest.CreateSpec("ha2", memoryMiB: 128), cancellationToken: Token);
            var onA = await vmsA.GetAsync("ha2", Token);
            await ClusterGuests.WaitForAsync(async () => (await onA.GetStatusAsync(Token)).State == VmState.Running, "ha2 running on node-a");

            // The partition: node-a reaches no etcd member; node-b still does.
            var clock = Stopwatch.StartNew();
            foreach (var proxy in proxies)
            {
                proxy.Cut();
            }

            TimeSpan? killedAt = null, startedElsewhereAt = null;
            IVirtualMachine? onB = null;
            while (startedElsewhereAt is null && clock.Elapsed < TimeSpan.FromSeconds(90))
            {
                if (killedAt is null && (await onA.GetStatusAsync(Token)).State is VmState.Stopped or VmState.Crashed)
                {
                    killedAt = clock.Elapsed;
                }

                // node-b's agent creates the VM from the shared definition once ownership reaches it.
                if (onB is null && (await clusterB.GetOwnerAsync(Vm, "ha2", Token))?.Node == "node-b" && (await vmsB.ListAsync(Token)).Any(vm => vm.Name == "ha2"))
                {
                    onB = await vmsB.GetAsync("ha2", Token);
                }

                if (onB is not null && (await onB.GetStatusAsync(Token)).State == VmState.Running)
                {
                    startedElsewhereAt = clock.Elapsed;
                }

                await Task.Delay(50, Token);
            }

            TestContext.Current.TestOutputHelper?.WriteLine($"partition with a {lab.LeaseTtl.TotalSeconds:0} s lease: node-a killed its HA VM at {killedAt?.TotalSeconds:0.0} s, node-b ran it at {startedElsewhereAt?.TotalSeconds:0.0} s");
            Assert.NotNull(killedAt);
            Assert.NotNull(startedElsewhereAt);
            Assert.True(killedAt < startedElsewhereAt, $"node-a's copy stopped at {killedAt} but node-b's started at {startedElsewhereAt}: two copies ran at once");
            Assert.False(clusterA.HoldsLease);

            // The link comes back: node-a joins again and leaves ha2 to node-b.
            foreach (var proxy in proxies)
            {
                proxy.Heal();
            }

            await ClusterGuests.WaitForAsync(async () => { try { await clusterA.JoinAsync(cancellationToken: Token); return true; } catch (ClusterException) { return false; } }, "node-a rejoined");
            await Task.Delay(TimeSpan.FromSeconds(2), Token);
            Assert.Equal(VmState.Stopped, (await onA.GetStatusAsync(Token)).State);
            Assert.Equal("node-b", (await clusterA.GetOwnerAsync(Vm, "ha2", Token))!.Node);
        }
        finally
        {
            foreach (var proxy in proxies)
            {
                await proxy.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_VM_tied_to_its_host_cannot_be_HA_and_each_reason_is_named()
    {
        await using var lab = new ClusterLab(etcd);
        var cluster = lab.Node("node-a");
        await cluster.JoinAsync(cancellationToken: Token);
        await using var agent = new ClusterHaAgent(cluster, lab.VmManager("node-a", cluster));
        var spec = new VmSpec("tied") { Disks = [new VmDisk("root", "/srv/images/tied.qcow2")], HostDevices = [new VmHostDevice("0000:01:00.0")], Tpm = true };

        var refused = await Assert.ThrowsAsync<ClusterException>(() => agent.ProtectAsync(spec, cancellationToken: Token));
        Assert.Equal(VirtErrorKind.InvalidInput, refused.ErrorKind);
        Assert.Contains("disk root is the host file /srv/images/tied.qcow2", refused.Message, StringComparison.Ordinal);
        Assert.Contains("host PCI devices (0000:01:00.0)", refused.Message, StringComparison.Ordinal);
        Assert.Contains("TPM", refused.Message, StringComparison.Ordinal);
        Assert.Null(await cluster.GetOwnerAsync(Vm, "tied", Token));
        Assert.Null(await cluster.GetDefinitionAsync(ClusterDefinitionKind.VirtualMachine, "tied", Token));

        var volume = spec with { Disks = [new VmDisk("root", "local:vm-tied")], HostDevices = [], Tpm = false };
        var noStorage = await Assert.ThrowsAsync<ClusterException>(() => agent.ProtectAsync(volume, cancellationToken: Token));
        Assert.Contains("without the storage backend (AddStorage())", noStorage.Message, StringComparison.Ordinal);
    }
}
