namespace Virt.Network.Host;

/// <summary>The kernel's link layer as the planner sees it; implemented over rtnetlink, faked in unit tests.</summary>
internal interface ILinkHost
{
    /// <summary>Dumps links, addresses, routes (main table), VXLAN FDB entries and bridge port VLANs.</summary>
    Task<HostLinkState> ReadAsync(CancellationToken cancellationToken) => ReadAsync(HostLinkParts.All, cancellationToken);

    /// <summary>
    /// Dumps the links and what else <paramref name="parts"/> names; the parts not asked for are empty. The bridge FDB and
    /// the port VLANs are the largest dumps (every port's own entries) and only VXLAN and VLAN networks need them.
    /// </summary>
    Task<HostLinkState> ReadAsync(HostLinkParts parts, CancellationToken cancellationToken);

    /// <summary>
    /// Runs the operations in order over one socket, each acknowledged. Stops at the first failure and throws
    /// <see cref="NetlinkOperationException"/> naming its index; the operations before it took effect, none after it.
    /// (The kernel runs every request of a send even after one fails, so the requests go one per send: measured no
    /// slower than packing them, the kernel's own work dominates.)
    /// </summary>
    Task ApplyAsync(IReadOnlyList<LinkOperation> operations, CancellationToken cancellationToken);
}

/// <summary>What a read of the host's links dumps besides the links themselves.</summary>
[Flags]
internal enum HostLinkParts
{
    /// <summary>The links only.</summary>
    Links = 0,

    /// <summary>Addresses of every link.</summary>
    Addresses = 1,

    /// <summary>Routes of the main table.</summary>
    Routes = 2,

    /// <summary>Bridge FDB entries (VXLAN peers).</summary>
    Fdb = 4,

    /// <summary>VLANs of bridge ports.</summary>
    PortVlans = 8,

    /// <summary>Everything.</summary>
    All = Addresses | Routes | Fdb | PortVlans,
}

/// <summary>A netlink operation the kernel refused: which one, and the errno it returned.</summary>
internal sealed class NetlinkOperationException : Virt.Networking.NetworkException
{
    public NetlinkOperationException(int index, LinkOperation operation, int errno, string kernelMessage)
        : base(KindOf(errno), $"{operation.Operation} {operation.Object} ({operation.Detail}) failed: {kernelMessage} (errno {errno})")
    {
        Index = index;
        FailedOperation = operation;
        Errno = errno;
    }

    public NetlinkOperationException()
    {
        FailedOperation = new DeleteLink(string.Empty);
    }

    public NetlinkOperationException(string message)
        : base(message)
    {
        FailedOperation = new DeleteLink(string.Empty);
    }

    public NetlinkOperationException(string message, Exception? innerException)
        : base(message, innerException)
    {
        FailedOperation = new DeleteLink(string.Empty);
    }

    /// <summary>The failed operation's position in the batch.</summary>
    public int Index { get; }

    /// <summary>The failed operation.</summary>
    public LinkOperation FailedOperation { get; }

    /// <summary>The kernel's errno (positive).</summary>
    public int Errno { get; }

    private static Virt.VirtErrorKind KindOf(int errno) => errno switch
    {
        17 => Virt.VirtErrorKind.Conflict, // EEXIST
        19 or 2 => Virt.VirtErrorKind.NotFound, // ENODEV, ENOENT
        22 or 34 => Virt.VirtErrorKind.InvalidInput, // EINVAL, ERANGE
        95 or 93 or 1 => Virt.VirtErrorKind.Refused, // EOPNOTSUPP, EPROTONOSUPPORT, EPERM
        16 => Virt.VirtErrorKind.Conflict, // EBUSY
        _ => Virt.VirtErrorKind.Failed,
    };
}
