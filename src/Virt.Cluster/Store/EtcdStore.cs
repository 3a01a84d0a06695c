using System.Runtime.CompilerServices;
using dotnet_etcd;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Virt.Clustering;

namespace Virt.Cluster.Store;

/// <summary>
/// The few etcd v3 calls the cluster layer makes, each with a deadline, and every gRPC failure turned into a
/// <see cref="ClusterUnavailableException"/> that names the call, the endpoints, etcd's words and the fix.
/// One gRPC channel over every endpoint (dotnet-etcd balances between them, so one member down changes nothing).
/// </summary>
internal sealed class EtcdStore : IDisposable
{
    private static readonly TimeSpan RetryPause = TimeSpan.FromMilliseconds(50);
    private readonly EtcdClient _client;
    private readonly TimeSpan _timeout;

    public EtcdStore(IReadOnlyList<string> endpoints, TimeSpan operationTimeout)
    {
        Endpoints = string.Join(",", endpoints);
        _timeout = operationTimeout;
        _client = new EtcdClient(Endpoints);
    }

    public string Endpoints { get; }

    public async Task<RangeResponse> RangeAsync(string key, bool prefix, CancellationToken cancellationToken, long revision = 0)
    {
        var request = new RangeRequest { Key = ByteString.CopyFromUtf8(key), Revision = revision };
        if (prefix)
        {
            request.RangeEnd = ByteString.CopyFrom(ClusterKeys.RangeEnd(key));
        }

        return await CallAsync($"read {key}", options => _client.GetConnection().KVClient.RangeAsync(request, options).ResponseAsync, cancellationToken).ConfigureAwait(false);
    }

    public Task<TxnResponse> TxnAsync(TxnRequest request, string what, CancellationToken cancellationToken) =>
        CallAsync(what, options => _client.GetConnection().KVClient.TxnAsync(request, options).ResponseAsync, cancellationToken);

    public async Task<long> GrantLeaseAsync(long ttlSeconds, CancellationToken cancellationToken)
    {
        var response = await CallAsync("grant a lease", options => _client.GetConnection().LeaseClient.LeaseGrantAsync(new LeaseGrantRequest { TTL = ttlSeconds }, options).ResponseAsync, cancellationToken).ConfigureAwait(false);
        if (!string.IsNullOrEmpty(response.Error))
        {
            throw new ClusterException(VirtErrorKind.Failed, $"etcd at {Endpoints} refused a lease of {ttlSeconds} s: {response.Error}");
        }

        return response.ID;
    }

    /// <summary>The seconds a lease has left; -1 when it has expired or never existed.</summary>
    public async Task<long> LeaseRemainingAsync(long leaseId, CancellationToken cancellationToken)
    {
        var response = await CallAsync($"read lease {leaseId}", options => _client.GetConnection().LeaseClient.LeaseTimeToLiveAsync(new LeaseTimeToLiveRequest { ID = leaseId }, options).ResponseAsync, cancellationToken).ConfigureAwait(false);
        return response.TTL;
    }

    public async Task RevokeLeaseAsync(long leaseId, CancellationToken cancellationToken)
    {
        try
        {
            await CallAsync($"revoke lease {leaseId}", options => _client.GetConnection().LeaseClient.LeaseRevokeAsync(new LeaseRevokeRequest { ID = leaseId }, options).ResponseAsync, cancellationToken).ConfigureAwait(false);
        }
        catch (ClusterException ex) when (ex.InnerException is RpcException { StatusCode: StatusCode.NotFound })
        {
            // Already expired: nothing to revoke.
        }
    }

    /// <summary>Renews a lease once within <paramref name="timeout"/>; returns the TTL etcd granted (0 or less: the lease is gone).</summary>
    public Task<long> KeepAliveOnceAsync(long leaseId, TimeSpan timeout, CancellationToken cancellationToken) =>
        CallAsync($"renew lease {leaseId}", timeout, async options =>
        {
            using var call = _client.GetConnection().LeaseClient.LeaseKeepAlive(options);
            await call.RequestStream.WriteAsync(new LeaseKeepAliveRequest { ID = leaseId }).ConfigureAwait(false);
            await call.RequestStream.CompleteAsync().ConfigureAwait(false);
            if (!await call.ResponseStream.MoveNext(options.CancellationToken).ConfigureAwait(false))
            {
                return 0L;
            }

            return call.ResponseStream.Current.TTL;
        },
        cancellationToken);

    /// <summary>
    /// One watch stream on a prefix from <paramref name="startRevision"/>, with previous values; ends (throws) when the
    /// stream breaks: the caller resumes from the last revision it saw.
    /// </summary>
    public async IAsyncEnumerable<WatchResponse> WatchAsync(string prefix, long startRevision, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // "hasleader": a member cut off from the quorum cancels the watch instead of leaving it silent.
        using var call = _client.GetConnection().WatchClient.Watch(new Metadata { { "hasleader", "true" } }, cancellationToken: cancellationToken);
        await call.RequestStream.WriteAsync(new WatchRequest
        {
            CreateRequest = new WatchCreateRequest
            {
                Key = ByteString.CopyFromUtf8(prefix),
                RangeEnd = ByteString.CopyFrom(ClusterKeys.RangeEnd(prefix)),
                StartRevision = startRevision,
                PrevKv = true,
                ProgressNotify = true,
            },
        }, cancellationToken).ConfigureAwait(false);
        while (await call.ResponseStream.MoveNext(cancellationToken).ConfigureAwait(false))
        {
            yield return call.ResponseStream.Current;
        }
    }

    public void Dispose() => _client.Dispose();

    private Task<T> CallAsync<T>(string what, Func<CallOptions, Task<T>> call, CancellationToken cancellationToken) =>
        CallAsync(what, _timeout, call, cancellationToken);

    private async Task<T> CallAsync<T>(string what, TimeSpan timeout, Func<CallOptions, Task<T>> call, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        var options = new CallOptions(deadline: deadline, cancellationToken: cancellationToken);
        while (true)
        {
            try
            {
                return await call(options).ConfigureAwait(false);
            }
            catch (RpcException ex) when (NeverReachedEtcd(ex) && DateTime.UtcNow + RetryPause < deadline)
            {
                // The balancer picked a member that is down (connection refused): the request was never sent, so it is
                // safe to send again, even a write; the next pick goes to a member that answers.
                await Task.Delay(RetryPause, cancellationToken).ConfigureAwait(false);
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.Cancelled && cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException($"cluster: {what} was cancelled", ex, cancellationToken);
            }
            catch (RpcException ex) when (ex.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Cancelled or StatusCode.Aborted or StatusCode.Internal)
            {
                throw Unavailable(what, timeout, ex);
            }
            catch (RpcException ex)
            {
                // etcd answered and refused (a lease not found, a request too large, auth): not a matter of reaching it.
                throw new ClusterException(VirtErrorKind.Failed, $"cluster: etcd at {Endpoints} refused to {what}: {ex.StatusCode} ({ex.Status.Detail})", ex);
            }
        }
    }

    /// <summary>A call that failed before any byte reached etcd: the connection itself was refused or could not be made.</summary>
    private static bool NeverReachedEtcd(RpcException ex) =>
        ex.StatusCode == StatusCode.Unavailable && ex.Status.DebugException is HttpRequestException { InnerException: System.Net.Sockets.SocketException };

    private ClusterUnavailableException Unavailable(string what, TimeSpan timeout, RpcException ex) =>
        new(
            $"cluster: could not {what} in etcd at {Endpoints} within {timeout.TotalSeconds:0.#} s: {ex.StatusCode}{(string.IsNullOrEmpty(ex.Status.Detail) ? "" : $" ({ex.Status.Detail})")}. " +
            "Check that a majority of the etcd members run and that this host reaches their client URLs (ClusterOptions.Endpoints).",
            ex);
}
