using Virt.Clustering;

namespace Virt.Cluster;

/// <summary>How the cluster's agents follow its watch: for as long as they run, through broken streams.</summary>
internal static class ClusterFollower
{
    /// <summary>
    /// Hands every change of <paramref name="cluster"/>'s watch to <paramref name="onChange"/> until
    /// <paramref name="cancellationToken"/> is cancelled. A stream that ends with an error (etcd out of reach, a record that
    /// is not the SDK's) is reported to <paramref name="onBroken"/> and followed again a second later; the new stream starts
    /// with the cluster as it stands, so nothing missed meanwhile is lost.
    /// </summary>
    public static async Task FollowAsync(ClusterManager cluster, Func<ClusterEvent, ValueTask> onChange, Action<string> onBroken, TimeProvider time, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await foreach (var change in cluster.WatchAsync(cancellationToken).ConfigureAwait(false))
                {
                    await onChange(change).ConfigureAwait(false);
                }
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                onBroken(e.Message);
                await Task.Delay(TimeSpan.FromSeconds(1), time, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }
}
