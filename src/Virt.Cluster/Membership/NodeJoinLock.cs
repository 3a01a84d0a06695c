using System.IO.Abstractions;
using Virt.Clustering;
using Virt.IO;

namespace Virt.Cluster.Membership;

/// <summary>
/// An advisory <c>flock</c> on the node's lock file in its state directory (what .NET takes for
/// <see cref="FileShare.None"/> on Linux), held while one process joins, so that two processes of one node starting at
/// once take one lease between them. The kernel releases it when the holder dies.
/// </summary>
internal sealed class NodeJoinLock : IDisposable
{
    // IOException.HResult for flock(LOCK_EX | LOCK_NB) on a file another open file description holds: EWOULDBLOCK.
    private const int WouldBlock = 11;

    private readonly FileSystemStream _stream;

    private NodeJoinLock(FileSystemStream stream) => _stream = stream;

    public static async Task<NodeJoinLock> AcquireAsync(IFileSystem files, string path, string node, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                return new NodeJoinLock(OwnerOnly.Open(files, path, FileMode.OpenOrCreate, FileAccess.ReadWrite));
            }
            catch (IOException busy) when (busy.HResult == WouldBlock)
            {
                if (DateTime.UtcNow >= deadline)
                {
                    throw new ClusterException(VirtErrorKind.Timeout, $"node {node}: another process of this node has been joining the cluster for over {timeout.TotalSeconds:0} s (it holds '{path}'; lslocks names it); try again when it is done", busy);
                }

                await Task.Delay(20, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    public void Dispose() => _stream.Dispose();
}
