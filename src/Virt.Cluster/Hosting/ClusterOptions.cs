namespace Virt.Clustering;

/// <summary>Options of the cluster layer.</summary>
public sealed class ClusterOptions
{
    /// <summary>etcd's client URLs, e.g. <c>http://10.0.0.1:2379</c>; give every member, so that losing one changes nothing.</summary>
    public IList<string> Endpoints { get; } = new List<string>();

    /// <summary>
    /// This node's own values for the cluster's shared definitions, by key (e.g. <c>underlay</c> → <c>192.0.2.1</c>): a JSON
    /// string in a shared network or pool definition that is exactly <c>{{node:KEY}}</c> becomes this node's value when the
    /// node's reconciler applies it, and an array element that is exactly <c>{{peers:KEY}}</c> becomes the values of every
    /// other member that has one. A VXLAN network is then defined once: <c>LocalAddress = "{{node:underlay}}"</c>,
    /// <c>Peers = ["{{peers:underlay}}"]</c>. Published with the node's member record at each join. Keys: lowercase
    /// letters, digits and '-'.
    /// </summary>
    public IDictionary<string, string> NodeValues { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>This node's name; <see langword="null"/> for the host's name (<c>UseHostName</c>, else the machine's).</summary>
    public string? NodeName { get; set; }

    /// <summary>
    /// The node's lease: a node that does not renew it within this time is dead for the others. Renewed every third of it.
    /// Default 10 s; at least 2 s (etcd's minimum is its election timeout).
    /// </summary>
    public TimeSpan LeaseTtl { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The prefix of every key the SDK writes, so that clusters (or tests) can share one etcd. Default <c>/virt/</c>.</summary>
    public string KeyPrefix { get; set; } = "/virt/";

    /// <summary>How long one etcd request may take before it fails as unavailable. Default 5 s.</summary>
    public TimeSpan OperationTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long <see cref="IClusterManager.DrainAsync"/> waits for the drained node's migration agent to take the drain up
    /// before it says that none seems to run there. Default 30 s.
    /// </summary>
    public TimeSpan DrainPickupTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Where the node keeps its identity and lease id, so that other processes of the same node (a panel and virtctl)
    /// share its lease. Default <c>/var/lib/virt/cluster</c>.
    /// </summary>
    public string StateDirectory { get; set; } = "/var/lib/virt/cluster";

    /// <summary>The QEMU binary whose version the node publishes. Default <c>qemu-system-x86_64</c> on the PATH.</summary>
    public string QemuPath { get; set; } = "qemu-system-x86_64";
}
