using System.IO.Abstractions;
using Virt.Cluster.IntegrationTests.Infrastructure;
using Virt.Clustering;
using Virt.Network.Hosting;
using Virt.Network.Manager;
using Virt.Networking;
using Virt.Processes;
using Virt.Storage;
using Virt.Storage.Hosting;
using Virt.Storage.IntegrationTests.Infrastructure;
using Virt.Storage.Pools;

namespace Virt.Cluster.IntegrationTests;

/// <summary>
/// Shared networks and pools, defined once in the cluster and brought onto every node by its reconciler: two nodes in this
/// process, each with a real network backend managing its own network namespace (the node's "host") and a real storage
/// backend with its own state directory.
/// </summary>
[Collection(EtcdCollection.Name)]
public sealed class DefinitionReconcileTests(EtcdCluster etcd)
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_network_and_a_pool_defined_once_are_brought_onto_every_node_changed_everywhere_and_removed_with_the_definitions()
    {
        HostRequirement.Require(Environment.UserName == "root" && File.Exists("/usr/sbin/ip"), "root and iproute2, to make network namespaces");
        var lab = new ClusterLab(etcd);
        var namespaces = new List<string>();
        try
        {
            var a = await NodeAsync(lab, "node-a", namespaces);
            var b = await NodeAsync(lab, "node-b", namespaces);
            var images = Directory.CreateDirectory(Path.Combine(lab.Root, "images")).FullName;

            await a.Cluster.PutNetworkAsync(new IsolatedNetworkDefinition("lan") { Mtu = 1400 }, 0, Token);
            await a.Cluster.PutPoolAsync(new DirPoolDefinition("images", images), 0, Token);
            foreach (var node in new[] { a, b })
            {
                await ClusterGuests.WaitForAsync(() => Task.FromResult(BridgeMtu(node.Namespace, "vn-lan") == "1400"), $"bridge vn-lan with MTU 1400 on {node.Name}");
                await ClusterGuests.WaitForAsync(async () => (await node.Networks.ListAsync(Token)).Any(n => n.Definition.Name == "lan" && n.Applied), $"network lan applied on {node.Name}");
                await ClusterGuests.WaitForAsync(async () => (await node.Storage.ListPoolsAsync(Token)).Any(p => p.Definition is DirPoolDefinition { Path: var path } && path == images), $"pool images on {node.Name}");
            }

            // Changed from the other node (compare-and-swap on the revision read): applied on both.
            var lan = (await b.Cluster.GetDefinitionAsync(ClusterDefinitionKind.Network, "lan", Token))!;
            await b.Cluster.PutNetworkAsync(new IsolatedNetworkDefinition("lan") { Mtu = 1300 }, lan.Revision, Token);
            foreach (var node in new[] { a, b })
            {
                await ClusterGuests.WaitForAsync(() => Task.FromResult(BridgeMtu(node.Namespace, "vn-lan") == "1300"), $"bridge vn-lan with MTU 1300 on {node.Name}");
            }

            // A pool node-b has under the same name but defined otherwise is not replaced under its volumes: it is reported.
            var mine = Directory.CreateDirectory(Path.Combine(lab.Root, "b-scratch")).FullName;
            await b.Storage.DefinePoolAsync(new DirPoolDefinition("scratch", mine), Token);
            await a.Cluster.PutPoolAsync(new DirPoolDefinition("scratch", images), 0, Token);
            await ClusterGuests.WaitForAsync(() => Task.FromResult(b.Reconciler.Problems.ContainsKey("pool/scratch")), "node-b reporting pool scratch");
            Assert.Contains("defined on node node-b differently from the cluster's definition", b.Reconciler.Problems["pool/scratch"], StringComparison.Ordinal);
            Assert.Equal(mine, (await b.Storage.GetPoolAsync("scratch", Token)).Definition.Path);
            await ClusterGuests.WaitForAsync(async () => (await a.Storage.ListPoolsAsync(Token)).Any(p => p.Definition.Name == "scratch"), "pool scratch on node-a");

            // Deleted from the cluster while node-b's reconciler is down: gone from node-a at once, from node-b when a
            // reconciler runs there again (what node-b applied is recorded in etcd); node-b's own scratch stays.
            await b.Reconciler.DisposeAsync();
            foreach (var (kind, name) in new[] { (ClusterDefinitionKind.Network, "lan"), (ClusterDefinitionKind.StoragePool, "images"), (ClusterDefinitionKind.StoragePool, "scratch") })
            {
                var current = (await a.Cluster.GetDefinitionAsync(kind, name, Token))!;
                await a.Cluster.DeleteDefinitionAsync(kind, name, current.Revision, Token);
            }

            await ClusterGuests.WaitForAsync(() => Task.FromResult(BridgeMtu(a.Namespace, "vn-lan") is null), "bridge vn-lan gone from node-a");
            await ClusterGuests.WaitForAsync(async () => (await a.Storage.ListPoolsAsync(Token)).All(p => p.Definition.Name != "images"), "pool images gone from node-a");
            Assert.Equal("1300", BridgeMtu(b.Namespace, "vn-lan"));
            Assert.Contains(await b.Storage.ListPoolsAsync(Token), p => p.Definition.Name == "images");

            var restarted = new ClusterDefinitionReconciler(b.Cluster, b.Networks, b.Storage) { ResyncInterval = TimeSpan.FromSeconds(2) };
            lab.OnDispose(restarted);
            await restarted.StartAsync(Token);
            await ClusterGuests.WaitForAsync(() => Task.FromResult(BridgeMtu(b.Namespace, "vn-lan") is null), "bridge vn-lan gone from node-b after its reconciler restarted");
            await ClusterGuests.WaitForAsync(async () => (await b.Storage.ListPoolsAsync(Token)).All(p => p.Definition.Name != "images"), "pool images gone from node-b after its reconciler restarted");

            await ClusterGuests.WaitForAsync(async () => (await a.Storage.ListPoolsAsync(Token)).All(p => p.Definition.Name != "scratch"), "pool scratch gone from node-a");
            Assert.Equal(mine, (await b.Storage.GetPoolAsync("scratch", Token)).Definition.Path);
        }
        finally
        {
            await lab.DisposeAsync();
            foreach (var ns in namespaces)
            {
                Host.Run("ip", "netns", "delete", ns);
            }
        }
    }

    [Fact]
    public async Task A_VXLAN_network_defined_once_takes_each_nodes_own_address_and_the_others_as_peers_and_carries_traffic()
    {
        HostRequirement.Require(Environment.UserName == "root" && File.Exists("/usr/sbin/ip"), "root and iproute2, to make network namespaces");
        var lab = new ClusterLab(etcd);
        var namespaces = new List<string>();
        try
        {
            // Two "hosts" (namespaces) on one underlay link, each node publishing its underlay address as the value 'underlay'.
            var a = await NodeAsync(lab, "node-a", namespaces, new Dictionary<string, string> { ["underlay"] = "203.0.113.1", ["overlay-ip"] = "198.51.100.1" });
            var b = await NodeAsync(lab, "node-b", namespaces, new Dictionary<string, string> { ["underlay"] = "203.0.113.2", ["overlay-ip"] = "198.51.100.2" });
            var link = Guid.NewGuid().ToString("N")[..6];
            Host.Run("ip", "link", "add", "vu-a" + link, "netns", a.Namespace, "type", "veth", "peer", "name", "vu-b" + link, "netns", b.Namespace);
            foreach (var (node, address, device) in new[] { (a, "203.0.113.1/24", "vu-a" + link), (b, "203.0.113.2/24", "vu-b" + link) })
            {
                Host.Run("ip", "-n", node.Namespace, "addr", "add", address, "dev", device);
                Host.Run("ip", "-n", node.Namespace, "link", "set", device, "up");
            }

            // Each bridge gets its own address on the overlay from the definition too (a VXLAN network runs no DHCP): the
            // network backend owns its bridge's addresses and removes any it was not asked for.
            await a.Cluster.PutNetworkAsync(new VxlanNetworkDefinition("overlay", 4242, "{{node:underlay}}") { Peers = ["{{peers:underlay}}"], Ipv4 = new NetworkSubnet("198.51.100.0/24", "{{node:overlay-ip}}") }, 0, Token);
            foreach (var (node, own, peer) in new[] { (a, "203.0.113.1", "203.0.113.2"), (b, "203.0.113.2", "203.0.113.1") })
            {
                await ClusterGuests.WaitForAsync(
                    async () => (await node.Networks.ListAsync(Token)).Any(n => n.Applied && n.Definition is VxlanNetworkDefinition { LocalAddress: var local, Peers: [var only] } && local == own && only == peer),
                    $"network overlay on {node.Name} with local address {own} and peer {peer}");
            }

            // Ten echoes over 2 s, across the reconcilers' resyncs (every 2 s here), all answered.
            var ping = Host.Run("ip", "netns", "exec", a.Namespace, "ping", "-c", "10", "-i", "0.2", "-W", "2", "198.51.100.2");
            Assert.Contains(" 0% packet loss", ping, StringComparison.Ordinal);

            // A node without the value the definition needs reports it instead of applying something half-filled.
            await a.Cluster.PutNetworkAsync(new VxlanNetworkDefinition("second", 4343, "{{node:underlay-v6}}"), 0, Token);
            await ClusterGuests.WaitForAsync(() => Task.FromResult(b.Reconciler.Problems.ContainsKey("network/second")), "node-b reporting network second");
            Assert.Contains("has no value 'underlay-v6'", b.Reconciler.Problems["network/second"], StringComparison.Ordinal);
        }
        finally
        {
            await lab.DisposeAsync();
            foreach (var ns in namespaces)
            {
                Host.Run("ip", "netns", "delete", ns);
            }
        }
    }

    private static async Task<TestNode> NodeAsync(ClusterLab lab, string name, List<string> namespaces, IReadOnlyDictionary<string, string>? values = null)
    {
        var ns = $"vt-rec-{name[^1]}-{Guid.NewGuid().ToString("N")[..6]}";
        Host.Run("ip", "netns", "add", ns);
        namespaces.Add(ns);
        Host.Run("ip", "-n", ns, "link", "set", "lo", "up");
        var cluster = lab.Node(name, nodeValues: values);
        await cluster.JoinAsync(cancellationToken: Token);
        var networks = new NetworkManager(new NetworkOptions { StateDirectory = Path.Combine(lab.Root, name + "-network"), NetworkNamespace = "/run/netns/" + ns }, new FileSystem(), new ProcessRunner());
        var storage = new StorageManager(new StorageOptions { StateDirectory = Path.Combine(lab.Root, name + "-storage") }, new FileSystem(), new ProcessRunner());
        lab.OnDispose(storage);
        var reconciler = new ClusterDefinitionReconciler(cluster, networks, storage) { ResyncInterval = TimeSpan.FromSeconds(2) };
        lab.OnDispose(reconciler);
        await reconciler.StartAsync(Token);
        return new TestNode(name, ns, cluster, networks, storage, reconciler);
    }

    /// <summary>The bridge's MTU in the namespace, or null when there is no such link.</summary>
    private static string? BridgeMtu(string ns, string bridge)
    {
        try
        {
            var line = Host.Run("ip", "-n", ns, "-o", "link", "show", bridge);
            var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return words[Array.IndexOf(words, "mtu") + 1];
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    private sealed record TestNode(string Name, string Namespace, ClusterManager Cluster, NetworkManager Networks, StorageManager Storage, ClusterDefinitionReconciler Reconciler);
}
