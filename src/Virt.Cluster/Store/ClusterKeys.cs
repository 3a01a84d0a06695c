using Virt.Clustering;

namespace Virt.Cluster.Store;

/// <summary>
/// Where everything lives in etcd, under the configured prefix P:
/// <c>P/members/NODE</c> (the node's record, no lease: a dead node stays a member),
/// <c>P/alive/NODE</c> (its heartbeat, under its lease: gone when the lease is),
/// <c>P/definitions/KIND/NAME</c> (shared definitions), <c>P/owners/KIND/NAME</c> (one owner per clustered guest),
/// <c>P/migrations/KIND/NAME</c> (a live migration between nodes in flight, under the source node's lease) and
/// <c>P/drains/NODE</c> (a drain asked of a node, and how far it got) and <c>P/applied/NODE/KIND/NAME</c> (what a node's
/// definition reconciler applied there, so that a deletion made while it was down is still undone there).
/// </summary>
internal sealed class ClusterKeys(string prefix)
{
    public string Prefix { get; } = prefix;

    public string Members => Prefix + "members/";

    public string Alive => Prefix + "alive/";

    public string Definitions => Prefix + "definitions/";

    public string Owners => Prefix + "owners/";

    public string Migrations => Prefix + "migrations/";

    public string Drains => Prefix + "drains/";

    public string Applied => Prefix + "applied/";

    public string AppliedOf(string node) => Applied + node + "/";

    public string Member(string node) => Members + node;

    public string Migration(ClusterGuestKind kind, string name) => Migrations + KindSegment(kind) + "/" + name;

    public string Drain(string node) => Drains + node;

    public string AliveOf(string node) => Alive + node;

    public string DefinitionsOf(ClusterDefinitionKind kind) => Definitions + KindSegment(kind) + "/";

    public string Definition(ClusterDefinitionKind kind, string name) => DefinitionsOf(kind) + name;

    public string Owner(ClusterGuestKind kind, string name) => Owners + KindSegment(kind) + "/" + name;

    public static string KindSegment(ClusterDefinitionKind kind) => kind switch
    {
        ClusterDefinitionKind.Network => "network",
        ClusterDefinitionKind.StoragePool => "pool",
        ClusterDefinitionKind.VirtualMachine => "vm",
        ClusterDefinitionKind.Container => "container",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown definition kind"),
    };

    public static string KindSegment(ClusterGuestKind kind) => kind switch
    {
        ClusterGuestKind.VirtualMachine => "vm",
        ClusterGuestKind.Container => "container",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown guest kind"),
    };

    public static ClusterDefinitionKind? DefinitionKindOf(string segment) => segment switch
    {
        "network" => ClusterDefinitionKind.Network,
        "pool" => ClusterDefinitionKind.StoragePool,
        "vm" => ClusterDefinitionKind.VirtualMachine,
        "container" => ClusterDefinitionKind.Container,
        _ => null,
    };

    public static ClusterGuestKind? GuestKindOf(string segment) => segment switch
    {
        "vm" => ClusterGuestKind.VirtualMachine,
        "container" => ClusterGuestKind.Container,
        _ => null,
    };

    /// <summary>The end of a prefix range for etcd: the prefix with its last byte incremented.</summary>
    public static byte[] RangeEnd(string prefix)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(prefix);
        for (var i = bytes.Length - 1; i >= 0; i--)
        {
            if (bytes[i] < 0xff)
            {
                bytes[i]++;
                return bytes[..(i + 1)];
            }
        }

        return [0];
    }
}
