using System.Globalization;
using System.Text;
using System.Text.Json;
using Etcdserverpb;
using Virt.Cluster.Store;

namespace Virt.Clustering;

public sealed partial class ClusterManager
{
    /// <summary>The largest definition stored: etcd's default request limit is 1.5 MiB, and a spec is a few KiB.</summary>
    internal const int MaxDefinitionBytes = 512 * 1024;

    /// <summary>What this node's definition reconciler applied here, by <c>network/NAME</c> or <c>pool/NAME</c>: the canonical JSON.</summary>
    internal async Task<IReadOnlyDictionary<string, string>> ReadAppliedAsync(CancellationToken cancellationToken)
    {
        var prefix = _keys.AppliedOf(NodeName);
        var response = await _store.RangeAsync(prefix, prefix: true, cancellationToken).ConfigureAwait(false);
        return response.Kvs.ToDictionary(kv => kv.Key.ToStringUtf8()[prefix.Length..], kv => kv.Value.ToStringUtf8(), StringComparer.Ordinal);
    }

    /// <summary>
    /// Records what this node's reconciler applied under <paramref name="key"/> (null: nothing any more), only while this
    /// process holds the node's lease and the member record is the one it joined with: a node that left or was removed
    /// writes no record back that a later node of that name would read.
    /// </summary>
    /// <returns>The member record's create revision the record was written under.</returns>
    internal async Task<long> RecordAppliedAsync(string key, string? canonical, CancellationToken cancellationToken)
    {
        var member = _lease?.MemberRevision
            ?? throw new ClusterException(VirtErrorKind.Refused, $"node {NodeName} holds no lease, so what it applied of {key} is recorded once it has joined");
        var stored = _keys.AppliedOf(NodeName) + key;
        var response = await TxnAsync($"record what node {NodeName} applied of {key}", [EtcdCompare.CreatedAt(_keys.Member(NodeName), member)], [canonical is null ? Delete(stored) : Put(stored, Encoding.UTF8.GetBytes(canonical))], null, cancellationToken).ConfigureAwait(false);
        return response.Succeeded
            ? member
            : throw new ClusterException(VirtErrorKind.Conflict, $"node {NodeName} is no longer the member it joined as (it left or was removed), so what it applied of {key} is not recorded");
    }

    /// <summary>The create revision of the member record this process joined with; null when it holds no lease.</summary>
    internal long? MemberRevision => _lease?.MemberRevision;

    /// <inheritdoc />
    public async Task<ClusterDefinition?> GetDefinitionAsync(ClusterDefinitionKind kind, string name, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        ClusterNames.Check(name, "definition", nameof(name));
        var response = await _store.RangeAsync(_keys.Definition(kind, name), prefix: false, cancellationToken).ConfigureAwait(false);
        return response.Kvs.Count == 0 ? null : new ClusterDefinition(kind, name, response.Kvs[0].Value.ToStringUtf8(), response.Kvs[0].ModRevision);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<ClusterDefinition>> ListDefinitionsAsync(ClusterDefinitionKind kind, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        var prefix = _keys.DefinitionsOf(kind);
        var response = await _store.RangeAsync(prefix, prefix: true, cancellationToken).ConfigureAwait(false);
        return response.Kvs.Select(kv => new ClusterDefinition(kind, kv.Key.ToStringUtf8()[prefix.Length..], kv.Value.ToStringUtf8(), kv.ModRevision)).ToList();
    }

    /// <inheritdoc />
    public async Task<ClusterDefinition> PutDefinitionAsync(ClusterDefinitionKind kind, string name, string json, long expectedRevision, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        ClusterNames.Check(name, "definition", nameof(name));
        CheckDefinitionJson(kind, name, json);
        ArgumentOutOfRangeException.ThrowIfNegative(expectedRevision);
        var key = _keys.Definition(kind, name);
        var response = await TxnAsync(
            $"write {kind} definition {name}",
            [EtcdCompare.ModRevisionIs(key, expectedRevision)],
            [Put(key, Encoding.UTF8.GetBytes(json))],
            [Get(key)],
            cancellationToken).ConfigureAwait(false);
        if (!response.Succeeded)
        {
            throw Conflict(kind, name, expectedRevision, response.Responses[0].ResponseRange, "change");
        }

        return new ClusterDefinition(kind, name, json, response.Header.Revision);
    }

    /// <inheritdoc />
    public async Task DeleteDefinitionAsync(ClusterDefinitionKind kind, string name, long expectedRevision, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        ClusterNames.Check(name, "definition", nameof(name));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(expectedRevision);
        var key = _keys.Definition(kind, name);
        var response = await TxnAsync($"delete {kind} definition {name}", [EtcdCompare.ModRevisionIs(key, expectedRevision)], [Delete(key)], [Get(key)], cancellationToken).ConfigureAwait(false);
        if (!response.Succeeded)
        {
            throw Conflict(kind, name, expectedRevision, response.Responses[0].ResponseRange, "delete");
        }
    }

    private static void CheckDefinitionJson(ClusterDefinitionKind kind, string name, string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        if (Encoding.UTF8.GetByteCount(json) > MaxDefinitionBytes)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"{kind} definition {name} is {Encoding.UTF8.GetByteCount(json)} bytes: the cluster stores at most {MaxDefinitionBytes} per definition"), nameof(json));
        }

        try
        {
            using var document = JsonDocument.Parse(json);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new ArgumentException($"{kind} definition {name} must be a JSON object, not a {document.RootElement.ValueKind}", nameof(json));
            }
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"{kind} definition {name} is not valid JSON: {e.Message}", nameof(json), e);
        }
    }

    private static ClusterConflictException Conflict(ClusterDefinitionKind kind, string name, long expected, RangeResponse current, string change)
    {
        var currentRevision = current.Kvs.Count == 0 ? 0 : current.Kvs[0].ModRevision;
        var now = currentRevision == 0 ? "it does not exist (deleted, or never created)" : string.Create(CultureInfo.InvariantCulture, $"it is at revision {currentRevision}");
        var based = expected == 0 ? "meant to create it" : string.Create(CultureInfo.InvariantCulture, $"was based on revision {expected}");
        return new ClusterConflictException($"{kind} definition {name}: the {change} {based}, but {now}: another change came first; read it again and redo the {change} on it", expected, currentRevision);
    }
}
