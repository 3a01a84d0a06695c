using System.Text.Json;
using Etcdserverpb;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Virt.Cluster.Store;
using Virt.Clustering;

namespace Virt.Cluster.Membership;

/// <summary>
/// This process's hold on the node's lease: renews it every third of the TTL and rewrites the heartbeat (capacity) with
/// each renewal. The lease counts as held only until the end of the TTL granted by the last renewal etcd answered,
/// measured from when that renewal was sent, so this process never believes in a lease etcd has already let go. Once
/// lost (etcd says it is gone, or no renewal got through within the TTL) it stays lost: the node must join again.
/// </summary>
internal sealed class NodeLease : IAsyncDisposable
{
    private readonly EtcdStore _store;
    private readonly ClusterKeys _keys;
    private readonly string _node;
    private readonly TimeSpan _ttl;
    private readonly INodeCapacityProbe _capacity;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Action<string> _onLost;
    private readonly CancellationTokenSource _stop = new();
    private DateTimeOffset _validUntil;
    private volatile bool _lost;
    private Task _renewing = Task.CompletedTask;

    public NodeLease(EtcdStore store, ClusterKeys keys, string node, long leaseId, TimeSpan ttl, INodeCapacityProbe capacity, ILogger logger, TimeProvider time, Action<string> onLost)
    {
        _store = store;
        _keys = keys;
        _node = node;
        LeaseId = leaseId;
        _ttl = ttl;
        _capacity = capacity;
        _logger = logger;
        _time = time;
        _onLost = onLost;
    }

    public long LeaseId { get; }

    public bool IsValid => !_lost && _time.GetUtcNow() < _validUntil;

    /// <summary>Starts renewing; <paramref name="validUntil"/> is what the grant (or the first renewal) allows.</summary>
    public void Start(DateTimeOffset validUntil)
    {
        _validUntil = validUntil;
        _renewing = Task.Run(() => RenewAsync(_stop.Token));
    }

    /// <summary>Writes the heartbeat under the lease: the key the other nodes watch.</summary>
    public async Task WriteHeartbeatAsync(NodeCapacity capacity, CancellationToken cancellationToken)
    {
        var heartbeat = new HeartbeatRecord(LeaseId, capacity, _time.GetUtcNow());
        var put = new PutRequest
        {
            Key = ByteString.CopyFromUtf8(_keys.AliveOf(_node)),
            Value = ByteString.CopyFrom(JsonSerializer.SerializeToUtf8Bytes(heartbeat, ClusterJsonContext.Default.HeartbeatRecord)),
            Lease = LeaseId,
        };
        await _store.TxnAsync(new TxnRequest { Success = { new RequestOp { RequestPut = put } } }, $"write node {_node}'s heartbeat", cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _renewing.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopped while renewing.
        }

        _stop.Dispose();
    }

    private async Task RenewAsync(CancellationToken cancellationToken)
    {
        // One attempt may take at most a renewal period, and a failed one is retried at once (after a short pause), so
        // that a renewal caught by a leader election (etcd holds a request sent to a dead leader for seconds) does not
        // use up the lease: only failing for the whole of what the lease has left loses it.
        var period = NodeStateRules.RenewalPeriod(_ttl);
        var pause = period;
        while (!cancellationToken.IsCancellationRequested)
        {
            await Task.Delay(pause, _time, cancellationToken).ConfigureAwait(false);
            var sentAt = _time.GetUtcNow();
            try
            {
                var granted = await _store.KeepAliveOnceAsync(LeaseId, period, cancellationToken).ConfigureAwait(false);
                if (granted <= 0)
                {
                    Lose("etcd says the lease has expired or was revoked");
                    return;
                }

                _validUntil = sentAt + TimeSpan.FromSeconds(granted);
                pause = period;
                await WriteHeartbeatAsync(await _capacity.MeasureAsync(cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
            }
            catch (ClusterException e) when (!cancellationToken.IsCancellationRequested)
            {
                Log.LeaseRenewalFailed(_logger, _node, LeaseId, e.Message);
                if (_time.GetUtcNow() >= _validUntil)
                {
                    Lose($"no renewal got through within the lease's {_ttl.TotalSeconds:0} s: {e.Message}");
                    return;
                }

                pause = TimeSpan.FromMilliseconds(200);
            }
        }
    }

    private void Lose(string reason)
    {
        _lost = true;
        Log.LeaseLost(_logger, _node, LeaseId, reason);
        _onLost(reason);
    }
}
