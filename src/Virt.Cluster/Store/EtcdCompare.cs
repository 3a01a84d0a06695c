using Etcdserverpb;
using Google.Protobuf;

namespace Virt.Cluster.Store;

/// <summary>The conditions the cluster's transactions compare on, one way to write each.</summary>
internal static class EtcdCompare
{
    /// <summary>The key's last change is at <paramref name="revision"/> (0: the key does not exist).</summary>
    public static Compare ModRevisionIs(string key, long revision) => new()
    {
        Key = ByteString.CopyFromUtf8(key),
        Target = Compare.Types.CompareTarget.Mod,
        Result = Compare.Types.CompareResult.Equal,
        ModRevision = revision,
    };

    /// <summary>The key is attached to <paramref name="lease"/>.</summary>
    public static Compare LeaseIs(string key, long lease) => new()
    {
        Key = ByteString.CopyFromUtf8(key),
        Target = Compare.Types.CompareTarget.Lease,
        Result = Compare.Types.CompareResult.Equal,
        Lease = lease,
    };

    /// <summary>The key was created at <paramref name="revision"/>: the same key, not one deleted and made again.</summary>
    public static Compare CreatedAt(string key, long revision) => new()
    {
        Key = ByteString.CopyFromUtf8(key),
        Target = Compare.Types.CompareTarget.Create,
        Result = Compare.Types.CompareResult.Equal,
        CreateRevision = revision,
    };

    /// <summary>
    /// No key under <paramref name="prefix"/> changed after <paramref name="revision"/> (etcd compares every key of the range;
    /// an empty range passes): what a read at that revision saw under the prefix is still so, apart from deletions.
    /// </summary>
    public static Compare NoneChangedSince(string prefix, long revision) => new()
    {
        Key = ByteString.CopyFromUtf8(prefix),
        RangeEnd = ByteString.CopyFrom(ClusterKeys.RangeEnd(prefix)),
        Target = Compare.Types.CompareTarget.Mod,
        Result = Compare.Types.CompareResult.Less,
        ModRevision = revision + 1,
    };

    /// <summary>The key does not exist.</summary>
    public static Compare Absent(string key) => CreatedAt(key, 0);

    /// <summary>The key exists.</summary>
    public static Compare Exists(string key) => new()
    {
        Key = ByteString.CopyFromUtf8(key),
        Target = Compare.Types.CompareTarget.Create,
        Result = Compare.Types.CompareResult.Greater,
        CreateRevision = 0,
    };
}
