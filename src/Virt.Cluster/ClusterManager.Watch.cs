using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Grpc.Core;
using Virt.Cluster.Membership;

using Log = Virt.Cluster.Log;

namespace Virt.Clustering;

public sealed partial class ClusterManager
{
    /// <inheritdoc />
    public async IAsyncEnumerable<ClusterEvent> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();

        // Bounded: a consumer that stops reading holds up its own watch, never the process's memory.
        var channel = Channel.CreateBounded<ClusterEvent>(new BoundedChannelOptions(4096) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposing.Token);
        void OnLeaseLost(string reason) => channel.Writer.TryWrite(new ClusterLeaseLost(reason));
        lock (_leaseLostHandlers)
        {
            _leaseLostHandlers.Add(OnLeaseLost);
        }

        var view = new ClusterView(_keys, LeaseTtl, _time);
        // Whatever ends the pump or the clock (the manager disposed, a record that is not the SDK's) ends the stream
        // with it, so a consumer never waits on a watch that has stopped.
        var pump = Task.Run(() => CompleteWhenDoneAsync(PumpWatchAsync(view, channel.Writer, stop.Token), channel.Writer, stop.Token), CancellationToken.None);
        var clock = Task.Run(() => CompleteWhenDoneAsync(TickSuspectsAsync(view, channel.Writer, stop.Token), channel.Writer, stop.Token), CancellationToken.None);
        try
        {
            await foreach (var change in channel.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                yield return change;
            }
        }
        finally
        {
            lock (_leaseLostHandlers)
            {
                _leaseLostHandlers.Remove(OnLeaseLost);
            }

            await stop.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(pump, clock).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary>
    /// Reads the nodes once, then follows every change under the prefix from the next revision; a broken stream (a member
    /// going down, a restart) resumes from the last revision seen, and a compacted one re-reads the nodes.
    /// </summary>
    private async Task PumpWatchAsync(ClusterView view, ChannelWriter<ClusterEvent> events, CancellationToken cancellationToken)
    {
        var backoff = TimeSpan.FromMilliseconds(100);
        var needSnapshot = true;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                if (needSnapshot)
                {
                    var snapshot = await TxnAsync("read the cluster", [], [GetPrefix(_keys.Members), GetPrefix(_keys.Alive), GetPrefix(_keys.Definitions), GetPrefix(_keys.Owners), GetPrefix(_keys.Migrations), GetPrefix(_keys.Drains)], null, cancellationToken).ConfigureAwait(false);
                    foreach (var change in view.Reset(snapshot))
                    {
                        await events.WriteAsync(change, cancellationToken).ConfigureAwait(false);
                    }

                    needSnapshot = false;
                }

                await foreach (var response in _store.WatchAsync(_keys.Prefix, view.Revision + 1, cancellationToken).ConfigureAwait(false))
                {
                    backoff = TimeSpan.FromMilliseconds(100);
                    if (response.Canceled)
                    {
                        // Compacted past our revision (or refused): what was missed is gone, so start again from a snapshot.
                        Log.WatchReconnecting(_logger, _keys.Prefix, view.Revision, $"etcd cancelled the watch: {response.CancelReason} (compacted to {response.CompactRevision})");
                        needSnapshot = true;
                        await Task.Delay(backoff, _time, cancellationToken).ConfigureAwait(false);
                        break;
                    }

                    foreach (var change in view.Apply(response))
                    {
                        await events.WriteAsync(change, cancellationToken).ConfigureAwait(false);
                    }
                }
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is RpcException or ClusterException or IOException or InvalidOperationException)
            {
                Log.WatchReconnecting(_logger, _keys.Prefix, view.Revision, e.Message);
                await Task.Delay(backoff, _time, cancellationToken).ConfigureAwait(false);
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(2).Ticks));
            }
        }
    }

    private static async Task CompleteWhenDoneAsync(Task work, ChannelWriter<ClusterEvent> events, CancellationToken stopping)
    {
        try
        {
            await work.ConfigureAwait(false);
            events.TryComplete();
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            events.TryComplete();
        }
        catch (Exception e)
        {
            events.TryComplete(e);
        }
    }

    /// <summary>Turns nodes whose heartbeats stopped coming suspect, by this node's clock (etcd sends nothing until the lease expires).</summary>
    private async Task TickSuspectsAsync(ClusterView view, ChannelWriter<ClusterEvent> events, CancellationToken cancellationToken)
    {
        var period = NodeStateRules.RenewalPeriod(LeaseTtl) / 2;
        while (!cancellationToken.IsCancellationRequested)
        {
            await Task.Delay(period, _time, cancellationToken).ConfigureAwait(false);
            foreach (var change in view.Tick())
            {
                await events.WriteAsync(change, cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
