using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Google.Protobuf;
using Virt.Clustering;

namespace Virt.Cluster.Store;

/// <summary>Reads the records in etcd and turns them into what the public API shows (without what is only for the nodes, such as a ticket's token).</summary>
internal static class ClusterRecordViews
{
    public static T Parse<T>(ByteString value, JsonTypeInfo<T> type, string key)
    {
        try
        {
            return JsonSerializer.Deserialize(value.Span, type) ?? throw NotOurs(key, "it is null JSON");
        }
        catch (JsonException e)
        {
            throw NotOurs(key, e.Message);
        }
    }

    public static ClusterDrain ToDrain(string node, DrainRecord record, long revision) =>
        new(node, record.State, record.RequestedAt, record.Moved, record.Stopped, record.Failures, revision);

    public static ClusterMigration ToMigration(string name, MigrationRecord record, long revision) =>
        new(name, record.Source, record.Destination, record.TicketJson is not null, record.Error, revision);

    private static ClusterException NotOurs(string key, string why) =>
        new(VirtErrorKind.Failed, $"cluster: the record at '{key}' cannot be read ({why}); it was not written by the SDK");
}
