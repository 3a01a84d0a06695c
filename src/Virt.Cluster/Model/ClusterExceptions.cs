namespace Virt.Clustering;

/// <summary>A cluster operation failed; <see cref="VirtException.ErrorKind"/> says how.</summary>
public class ClusterException : VirtException
{
    /// <summary>Creates the exception.</summary>
    public ClusterException()
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What failed and the fix.</param>
    public ClusterException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What failed and the fix.</param>
    /// <param name="innerException">The cause.</param>
    public ClusterException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="errorKind">How it failed.</param>
    /// <param name="message">What failed and the fix.</param>
    /// <param name="innerException">The cause.</param>
    public ClusterException(VirtErrorKind errorKind, string message, Exception? innerException = null)
        : base(errorKind, message, innerException)
    {
    }
}

/// <summary>A compare-and-swap change lost to another one: the object is at another revision than the caller's.</summary>
public sealed class ClusterConflictException : ClusterException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What was changed, by which revision, and the fix.</param>
    /// <param name="expectedRevision">The revision the caller based its change on.</param>
    /// <param name="currentRevision">The revision now stored (0: the object does not exist).</param>
    public ClusterConflictException(string message, long expectedRevision, long currentRevision)
        : base(VirtErrorKind.Conflict, message)
    {
        ExpectedRevision = expectedRevision;
        CurrentRevision = currentRevision;
    }

    /// <summary>The revision the caller based its change on (0: it meant to create the object).</summary>
    public long ExpectedRevision { get; }

    /// <summary>The revision now stored (0: the object does not exist).</summary>
    public long CurrentRevision { get; }
}

/// <summary>The cluster store cannot be reached or has no quorum.</summary>
public sealed class ClusterUnavailableException : ClusterException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What was tried, on which endpoints, what etcd said, and the fix.</param>
    /// <param name="innerException">The gRPC error.</param>
    public ClusterUnavailableException(string message, Exception? innerException)
        : base(VirtErrorKind.Unavailable, message, innerException)
    {
    }
}

/// <summary>No node can take a guest; <see cref="Nodes"/> says why for each.</summary>
public sealed class ClusterPlacementException : ClusterException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">The request and every node's reason.</param>
    /// <param name="nodes">Every node considered.</param>
    public ClusterPlacementException(string message, IReadOnlyList<NodeFit> nodes)
        : base(VirtErrorKind.Refused, message)
    {
        Nodes = nodes;
    }

    /// <summary>Every node considered, with why it does not fit.</summary>
    public IReadOnlyList<NodeFit> Nodes { get; }
}
