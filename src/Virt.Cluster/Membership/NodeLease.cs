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
/// measured on the monotonic clock from when that renewal was sent, so this process never believes in a lease etcd has
/// already let go (a wall-clock step changes nothing). The heartbeat is written only while the node's member record is
/// the one this node made (its create revision): a node removed from the cluster, or whose name another host took after
/// that, loses its lease instead of writing itself back. Once lost it stays lost: the node must join again.
/// </summary>
internal sealed class NodeLease : IAsyncDisposable
{
    private readonly EtcdStore _store;
    private readonly ClusterKeys _keys;
    private readonly string _node;
    private readonly long _memberRevision;
    private readonly TimeSpan _ttl;
    private readonly INodeCapacityProbe _capacity;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Action<string> _onLost;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _losing = new();
    private long _validUntil;
    private volatile bool _lost;
    private NodeCapacity _lastCapacity;
    private Task _renewing = Task.CompletedTask;
    private Task _watchdog = Task.CompletedTask;

    public NodeLease(EtcdStore store, ClusterKeys keys, string node, long leaseId, long memberRevision, NodeCapacity capacity, TimeSpan ttl, INodeCapacityProbe probe, ILogger logger, TimeProvider time, Action<string> onLost)
    {
        _store = store;
        _keys = keys;
        _node = node;
        LeaseId = leaseId;
        _memberRevision = memberRevision;
        _lastCapacity = capacity;
        _ttl = ttl;
        _capacity = probe;
        _logger = logger;
        _time = time;
        _onLost = onLost;
    }

    public long LeaseId { get; }

    /// <summary>The create revision of the node's member record this lease belongs to.</summary>
    public long MemberRevision => _memberRevision;

    public bool IsValid => !_lost && _time.GetTimestamp() < Volatile.Read(ref _validUntil);

    /// <summary>How long the lease holds by this process's count; zero once lost or run out.</summary>
    public TimeSpan TimeLeft
    {
        get
        {
            var now = _time.GetTimestamp();
            var until = Volatile.Read(ref _validUntil);
            return _lost || now >= until ? TimeSpan.Zero : _time.GetElapsedTime(now, until);
        }
    }

    /// <summary>The monotonic timestamp until which a renewal sent at <paramref name="sentAt"/> and granted <paramref name="seconds"/> holds.</summary>
    public long ValidUntil(long sentAt, long seconds) => sentAt + (long)(seconds * (double)_time.TimestampFrequency);

    /// <summary>Starts renewing; <paramref name="validUntil"/> (a timestamp) is what the grant or the join's renewal allows.</summary>
    public void Start(long validUntil)
    {
        Volatile.Write(ref _validUntil, validUntil);
        _renewing = Task.Run(() => RenewAsync(_stop.Token));
        _watchdog = Task.Run(() => WatchDeadlineAsync(_stop.Token));
    }

    /// <summary>Declares the lease lost if it has run out and the watchdog has not said so yet (before a rejoin replaces it).</summary>
    public void ExpireIfRunOut()
    {
        if (!_lost && _time.GetTimestamp() >= Volatile.Read(ref _validUntil))
        {
            Lose($"the lease ran out: no renewal got through within its {_ttl.TotalSeconds:0} s");
        }
    }

    /// <summary>Writes the heartbeat under the lease, only while the member record is this node's; false when it is not.</summary>
    public async Task<bool> WriteHeartbeatAsync(NodeCapacity capacity, CancellationToken cancellationToken)
    {
        var heartbeat = new HeartbeatRecord(LeaseId, capacity, _time.GetUtcNow());
        var put = new PutRequest
        {
            Key = ByteString.CopyFromUtf8(_keys.AliveOf(_node)),
            Value = ByteString.CopyFrom(JsonSerializer.SerializeToUtf8Bytes(heartbeat, ClusterJsonContext.Default.HeartbeatRecord)),
            Lease = LeaseId,
        };
        var request = new TxnRequest
        {
            Compare = { EtcdCompare.CreatedAt(_keys.Member(_node), _memberRevision) },
            Success = { new RequestOp { RequestPut = put } },
        };
        var response = await _store.TxnAsync(request, $"write node {_node}'s heartbeat", cancellationToken).ConfigureAwait(false);
        return response.Succeeded;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await Task.WhenAll(_renewing, _watchdog).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or ClusterException)
        {
            // Stopped while renewing; the loop logs its own failures.
        }

        _stop.Dispose();
    }

    private async Task RenewAsync(CancellationToken cancellationToken)
    {
        // One attempt may take at most a renewal period, and a failed one is retried at once (after a short pause), so
        // that a renewal caught by a leader election (etcd holds a request sent to a dead leader for seconds) does not
        // use up the lease: only failing for the whole of what the lease has left loses it. The first renewal comes
        // early when the join found the lease with little left (another process of the node shares it).
        var period = NodeStateRules.RenewalPeriod(_ttl);
        var left = _time.GetElapsedTime(_time.GetTimestamp(), Volatile.Read(ref _validUntil));
        var pause = left < period * 2 ? left / 2 : period;
        while (!cancellationToken.IsCancellationRequested && !_lost)
        {
            await Task.Delay(pause < TimeSpan.Zero ? TimeSpan.Zero : pause, _time, cancellationToken).ConfigureAwait(false);
            var sentAt = _time.GetTimestamp();
            try
            {
                var granted = await _store.KeepAliveOnceAsync(LeaseId, period, cancellationToken).ConfigureAwait(false);
                if (granted <= 0)
                {
                    Lose("etcd says the lease has expired or was revoked");
                    return;
                }

                if (_lost)
                {
                    // The watchdog declared it lost meanwhile (and the HA agent may have fenced): a late renewal revives nothing.
                    return;
                }

                Volatile.Write(ref _validUntil, ValidUntil(sentAt, granted));
                pause = period;
                if (!await WriteHeartbeatAsync(await MeasureAsync(cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false))
                {
                    Lose($"node {_node} is no longer the cluster's member of that name (it left or was removed, perhaps by another process)");
                    return;
                }
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is not OperationCanceledException)
            {
                Log.LeaseRenewalFailed(_logger, _node, LeaseId, e.Message);
                if (_time.GetTimestamp() >= Volatile.Read(ref _validUntil))
                {
                    Lose($"no renewal got through within the lease's {_ttl.TotalSeconds:0} s: {e.Message}");
                    return;
                }

                pause = TimeSpan.FromMilliseconds(200);
            }
        }
    }

    /// <summary>
    /// Declares the lease lost the moment it runs out by this process's count, whatever a renewal in flight is doing: the
    /// HA agent self-fences on that, and it must come no later than etcd's own expiry (which is never earlier: the count
    /// starts when the renewal was sent).
    /// </summary>
    private async Task WatchDeadlineAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested && !_lost)
        {
            var left = _time.GetElapsedTime(_time.GetTimestamp(), Volatile.Read(ref _validUntil));
            if (left <= TimeSpan.Zero)
            {
                Lose($"the lease ran out: no renewal got through within its {_ttl.TotalSeconds:0} s");
                return;
            }

            await Task.Delay(left < TimeSpan.FromMilliseconds(20) ? TimeSpan.FromMilliseconds(20) : left, _time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The node's capacity now; the last one measured when measuring fails (a backend's error must not cost the lease).</summary>
    private async Task<NodeCapacity> MeasureAsync(CancellationToken cancellationToken)
    {
        try
        {
            _lastCapacity = await _capacity.MeasureAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Log.LeaseRenewalFailed(_logger, _node, LeaseId, $"measuring the node's capacity failed, publishing the last one: {e.Message}");
        }

        return _lastCapacity;
    }

    private void Lose(string reason)
    {
        lock (_losing)
        {
            if (_lost)
            {
                return;
            }

            _lost = true;
        }

        Log.LeaseLost(_logger, _node, LeaseId, reason);
        _onLost(reason);
    }
}
