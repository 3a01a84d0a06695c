using System.IO.Abstractions;
using System.Text.Json;
using Etcdserverpb;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Virt.Cluster.Membership;
using Virt.Cluster.Store;
using Virt.Hosting;

namespace Virt.Clustering;

/// <summary>
/// <see cref="IClusterManager"/> on etcd. Making one connects nothing; the first call opens one gRPC channel over every
/// endpoint. Disposing it stops renewing the node's lease without revoking it: another process of the node (or this one
/// restarted within the TTL) keeps the node alive, and otherwise the lease runs out and the others see the node dead.
/// </summary>
public sealed partial class ClusterManager : IClusterManager
{
    private readonly ClusterOptions _options;
    private readonly ClusterKeys _keys;
    private readonly EtcdStore _store;
    private readonly INodeCapacityProbe _capacity;
    private readonly IFileSystem _files;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _joinGate = new(1, 1);
    private readonly CancellationTokenSource _disposing = new();
    private readonly List<Action<string>> _leaseLostHandlers = [];
    private NodeLease? _lease;
    private bool _disposed;

    /// <summary>Creates the manager for a host application without dependency injection.</summary>
    /// <param name="options">The cluster options (checked here).</param>
    /// <param name="logger">Where to log; none by default.</param>
    public ClusterManager(ClusterOptions options, ILogger<ClusterManager>? logger = null)
        : this(options, null, new HostCapacityProbe(null, qemuPath: options?.QemuPath ?? "qemu-system-x86_64"), new FileSystem(), logger, null)
    {
    }

    internal ClusterManager(ClusterOptions options, VirtHostIdentity? identity, INodeCapacityProbe capacity, IFileSystem files, ILogger<ClusterManager>? logger, TimeProvider? time)
    {
        ArgumentNullException.ThrowIfNull(options);
        ClusterOptionsValidator.ThrowIfInvalid(options);
        _options = options;
        NodeName = options.NodeName ?? (identity ?? VirtHostIdentity.FromMachine()).Name;
        ClusterNames.Check(NodeName, "node", nameof(options));
        _keys = new ClusterKeys(options.KeyPrefix);
        _store = new EtcdStore(options.Endpoints.ToArray(), options.OperationTimeout);
        _capacity = capacity;
        _files = files;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _time = time ?? TimeProvider.System;
    }

    /// <inheritdoc />
    public string NodeName { get; }

    /// <inheritdoc />
    public bool HoldsLease => _lease?.IsValid == true;

    /// <summary>This node's values for the shared definitions (<see cref="ClusterOptions.NodeValues"/>).</summary>
    internal IReadOnlyDictionary<string, string> NodeValues => new Dictionary<string, string>(_options.NodeValues, StringComparer.Ordinal);

    internal TimeSpan LeaseTtl => _options.LeaseTtl;

    /// <summary>How long this node's lease holds by this process's own count; zero when it holds none.</summary>
    internal TimeSpan LeaseTimeLeft => _lease?.TimeLeft ?? TimeSpan.Zero;

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        await _disposing.CancelAsync().ConfigureAwait(false);

        // A join in progress finishes (or fails) first, so that no lease starts renewing on a disposed client.
        await _joinGate.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        if (_lease is { } lease)
        {
            await lease.DisposeAsync().ConfigureAwait(false);
            _lease = null;
        }

        _store.Dispose();
        _disposing.Dispose();
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    /// <summary>One transaction: <paramref name="compares"/>, then <paramref name="success"/> or <paramref name="failure"/>.</summary>
    private Task<TxnResponse> TxnAsync(string what, IEnumerable<Compare> compares, IEnumerable<RequestOp> success, IEnumerable<RequestOp>? failure, CancellationToken cancellationToken)
    {
        var request = new TxnRequest();
        request.Compare.AddRange(compares);
        request.Success.AddRange(success);
        if (failure is not null)
        {
            request.Failure.AddRange(failure);
        }

        return _store.TxnAsync(request, what, cancellationToken);
    }

    private static RequestOp Put(string key, byte[] value, long lease = 0) => new() { RequestPut = new PutRequest { Key = ByteString.CopyFromUtf8(key), Value = ByteString.CopyFrom(value), Lease = lease } };

    private static RequestOp Delete(string key) => new() { RequestDeleteRange = new DeleteRangeRequest { Key = ByteString.CopyFromUtf8(key) } };

    private static RequestOp Get(string key) => new() { RequestRange = new RangeRequest { Key = ByteString.CopyFromUtf8(key) } };

    private static RequestOp DeletePrefix(string prefix) => new() { RequestDeleteRange = new DeleteRangeRequest { Key = ByteString.CopyFromUtf8(prefix), RangeEnd = ByteString.CopyFrom(ClusterKeys.RangeEnd(prefix)) } };

    private static RequestOp GetPrefix(string prefix) => new() { RequestRange = new RangeRequest { Key = ByteString.CopyFromUtf8(prefix), RangeEnd = ByteString.CopyFrom(ClusterKeys.RangeEnd(prefix)) } };

    private static T Parse<T>(ByteString value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, string key) =>
        Virt.Cluster.Store.ClusterRecordViews.Parse(value, type, key);
}
