using Virt.Cluster.IntegrationTests.Infrastructure;
using Virt.Clustering;

namespace Virt.Ctl.Tests;

/// <summary>virtctl's node commands against a real 3-member etcd, with a node joined by an SDK process (this one).</summary>
public sealed class VirtctlNodeTests(EtcdCluster etcd) : IClassFixture<EtcdCluster>
{
    [Fact(Timeout = 120_000)]
    public async Task Node_list_maintenance_drain_resume_and_guests_show_and_change_the_cluster_and_bad_input_is_named()
    {
        var token = TestContext.Current.CancellationToken;
        var prefix = $"/virtctl-{Guid.NewGuid():N}/";
        using var virtctl = new Virtctl(token);
        var options = new ClusterOptions { NodeName = "node-a", KeyPrefix = prefix, StateDirectory = Path.Combine(virtctl.State, "panel-cluster") };
        foreach (var url in etcd.ClientUrls)
        {
            options.Endpoints.Add(url);
        }

        await using var node = new ClusterManager(options);
        await node.JoinAsync(new NodeCapacity(4, 8L << 30, 6L << 30, ["lan"], ["rbd"], "10.0.2"), token);
        await node.ClaimAsync(ClusterGuestKind.VirtualMachine, "web", new GuestClaim(512L << 20, "front"), token);

        // Without the cluster's address the node commands say how to give it.
        var (exit, _, error) = await virtctl.RunAsync("node", "list");
        Assert.Equal(2, exit);
        Assert.Contains("--etcd http://HOST:2379", error, StringComparison.Ordinal);

        virtctl.Environment["VIRTCTL_ETCD"] = string.Join(",", etcd.ClientUrls);
        virtctl.Environment["VIRTCTL_CLUSTER_PREFIX"] = prefix;
        var listed = await virtctl.JsonAsync("node", "list");
        var row = Assert.Single(listed.EnumerateArray());
        Assert.Equal("node-a", row.GetProperty("node").GetProperty("name").GetString());
        Assert.Equal("Online", row.GetProperty("node").GetProperty("state").GetString());
        Assert.Equal(1, row.GetProperty("guests").GetInt32());

        var maintenance = await virtctl.JsonAsync("node", "maintenance", "node-a");
        Assert.Equal("Maintenance", maintenance.GetProperty("state").GetString());
        Assert.Equal(ClusterNodeState.Maintenance, (await node.GetNodeAsync("node-a", token)).State);
        var resumed = await virtctl.JsonAsync("node", "resume", "node-a");
        Assert.Equal("Online", resumed.GetProperty("state").GetString());

        // A drain is carried out by the node's migration agent (here this process's, with no VM running: web is owned but
        // not defined on this host, so there is nothing to move) and reported when it has finished.
        var vmState = Path.Combine(virtctl.State, "drain-vms");
        var runner = new Virt.Processes.ProcessRunner();
        await using (var vms = new Virt.Kvm.VirtualMachines.KvmVirtualMachineManager(new Virt.Kvm.Hosting.KvmOptions { StateDirectory = vmState }, runner, new Virt.Kvm.VirtualMachines.QemuCapabilityProbe(runner), new Virt.Kvm.Host.AcceleratorProbe(new System.IO.Abstractions.FileSystem()), TimeProvider.System))
        await using (var agent = new ClusterMigrationAgent(node, vms))
        {
            await agent.StartAsync(token);
            var drained = await virtctl.JsonAsync("node", "drain", "node-a");
            Assert.Equal("Done", drained.GetProperty("state").GetString());
            Assert.Equal(0, drained.GetProperty("moved").GetArrayLength());
            Assert.Equal(0, drained.GetProperty("failures").GetArrayLength());
            Assert.Equal(ClusterNodeState.Maintenance, (await node.GetNodeAsync("node-a", token)).State);

            var asked = await virtctl.JsonAsync("node", "drain", "node-a", "--no-wait");
            Assert.Equal("Requested", asked.GetProperty("state").GetString());
            var back = await virtctl.JsonAsync("node", "resume", "node-a");
            Assert.Equal("Online", back.GetProperty("state").GetString());
            Assert.Null(await node.GetDrainAsync("node-a", token));
        }

        (exit, _, error) = await virtctl.RunAsync("node", "drain", "node-x");
        Assert.Equal(3, exit);
        Assert.Contains("node 'node-x' is not in the cluster", error, StringComparison.Ordinal);

        var guests = await virtctl.JsonAsync("node", "guests");
        var guest = Assert.Single(guests.EnumerateArray());
        Assert.Equal(("web", "node-a", "front"), (guest.GetProperty("name").GetString(), guest.GetProperty("node").GetString(), guest.GetProperty("antiAffinityGroup").GetString()));

        (exit, _, error) = await virtctl.RunAsync("node", "maintenance", "node-x");
        Assert.Equal(3, exit);
        Assert.Contains("node 'node-x' is not in the cluster; its nodes are node-a", error, StringComparison.Ordinal);
    }
}
