using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Virt.Network.Host;
using Virt.Network.Hosting;
using Virt.Network.Interop;
using Virt.Networking;

namespace Virt.Network.Netlink;

/// <summary>
/// <see cref="ILinkHost"/> over rtnetlink: the kernel is asked directly, no <c>ip</c> or <c>bridge</c> process. Each call
/// opens its own socket in the managed namespace (a thread that joins it, then the socket stays there) and closes it
/// at the end, so the host holds no descriptor between calls and calls never share sequence numbers.
/// </summary>
internal sealed class NetlinkLinkHost : ILinkHost, IDisposable
{
    /// <summary>
    /// Requests packed into one send. The kernel runs every request of a send even after one fails, so packing more than
    /// one would let operations after a failure take effect: the default keeps "stop at the first failure" exact.
    /// </summary>
    public const int DefaultMessagesPerSend = 1;

    private const int MaxDumpAttempts = 3;

    private readonly string? networkNamespace;
    private readonly ILogger logger;
    private readonly int messagesPerSend;
    private readonly Lock cacheGate = new();
    private Task<NetlinkSocket>? monitorOpening;
    private (HostLinkParts Parts, HostLinkState State)? cached;
    private long changes;

    /// <summary>Manages the namespace the options name (or the process's).</summary>
    public NetlinkLinkHost(NetworkOptions options, ILogger<NetlinkLinkHost>? logger = null)
        : this(options.NetworkNamespace, logger)
    {
    }

    /// <summary>Manages <paramref name="networkNamespace"/> (a path under /run/netns or /proc/PID/ns/net), or the process's namespace for null.</summary>
    public NetlinkLinkHost(string? networkNamespace, ILogger? logger = null, int messagesPerSend = DefaultMessagesPerSend)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(messagesPerSend, 1);
        this.networkNamespace = networkNamespace;
        this.logger = logger ?? NullLogger.Instance;
        this.messagesPerSend = messagesPerSend;
    }

    /// <summary>Everything: links, addresses, routes, the bridge FDB and port VLANs.</summary>
    public Task<HostLinkState> ReadAsync(CancellationToken cancellationToken) => ReadAsync(HostLinkParts.All, cancellationToken);

    public async Task<HostLinkState> ReadAsync(HostLinkParts parts, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var monitor = await MonitorAsync().ConfigureAwait(false);
        long version;
        lock (cacheGate)
        {
            if (monitor.DrainChanges())
            {
                changes++;
                cached = null;
            }

            if (cached is { } hit && (hit.Parts & parts) == parts)
            {
                return hit.State;
            }

            version = changes;
        }

        var read = await DumpAsync(parts).ConfigureAwait(false);
        lock (cacheGate)
        {
            // A change seen by another read while this one dumped may be missing from this dump: not kept then.
            if (changes == version)
            {
                cached = (parts, read);
            }
        }

        return read;
    }

    /// <summary>
    /// The socket that hears the namespace's changes, opened at the first read and kept for the host's life (closed by
    /// <see cref="Dispose"/>, or when the host is collected): with no notification queued since the last dump, that
    /// dump is still the host's state, and a re-apply of a thousand unchanged ports reads nothing.
    /// </summary>
    private Task<NetlinkSocket> MonitorAsync()
    {
        lock (cacheGate)
        {
            return monitorOpening ??= NamespaceThread.RunAsync(networkNamespace, NetlinkSocket.OpenChangeMonitor);
        }
    }

    /// <summary>Closes the change monitor.</summary>
    public void Dispose()
    {
        Task<NetlinkSocket>? opening;
        lock (cacheGate)
        {
            opening = monitorOpening;
            monitorOpening = null;
            cached = null;
        }

        if (opening is { IsCompletedSuccessfully: true })
        {
            opening.Result.Dispose();
        }
    }

    private async Task<HostLinkState> DumpAsync(HostLinkParts parts)
    {
        using var socket = await OpenAsync().ConfigureAwait(false);
        for (var attempt = 1; ; attempt++)
        {
            var state = new HostLinkStateBuilder();
            var consistent = DumpLinks(socket, state)
                & (!parts.HasFlag(HostLinkParts.Addresses) || Dump(socket, "addresses", MessageType.GetAddress, 8, state.AddAddress))
                & (!parts.HasFlag(HostLinkParts.Routes) || Dump(socket, "routes", MessageType.GetRoute, 12, state.AddRoute))
                & (!parts.HasFlag(HostLinkParts.Fdb) || Dump(socket, "the bridge FDB", MessageType.GetNeighbour, 12, state.AddFdbEntry, AddressFamilies.Bridge))
                & (!parts.HasFlag(HostLinkParts.PortVlans) || DumpPortVlans(socket, state));
            if (consistent)
            {
                return state.Build();
            }

            if (attempt == MaxDumpAttempts)
            {
                throw new NetworkException(VirtErrorKind.Failed, $"the links of namespace {networkNamespace ?? "of the process"} changed during each of {MaxDumpAttempts} dumps (the kernel flagged them inconsistent); read again once whatever is changing them has finished");
            }
        }
    }

    public async Task ApplyAsync(IReadOnlyList<LinkOperation> operations, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (operations.Count == 0)
        {
            return;
        }

        using var socket = await OpenAsync().ConfigureAwait(false);
        var links = new HostLinkStateBuilder();
        _ = DumpLinks(socket, links); // only names to ifindexes: a name it misses is looked up when an operation needs it
        var batch = new LinkBatch(socket, links.Build().Links, messagesPerSend);
        try
        {
            batch.Run(operations);
        }
        catch (NetlinkOperationException exception)
        {
            NetlinkLog.OperationFailed(logger, exception.Index, operations.Count, exception.Message);
            throw;
        }

        NetlinkLog.BatchApplied(logger, operations.Count, batch.Sends, batch.Lookups, networkNamespace ?? "of the process");
    }

    /// <summary>The link dump (without statistics: they are most of its bytes and nothing here reads them).</summary>
    internal static bool DumpLinks(NetlinkSocket socket, HostLinkStateBuilder state)
    {
        socket.Writer.BeginRequest(MessageType.GetLink, MessageFlags.Dump);
        socket.Writer.WriteLinkHeader(AddressFamilies.Unspecified, 0);
        socket.Writer.AddUInt32(LinkAttribute.ExtMask, BridgeSpecAttribute.FilterSkipStats);
        socket.Writer.EndMessage();
        return socket.Dump("links", state.AddLink);
    }

    // The AF_BRIDGE link dump lists bridge ports; asking for RTEXT_FILTER_BRVLAN adds each port's VLANs.
    private static bool DumpPortVlans(NetlinkSocket socket, HostLinkStateBuilder state)
    {
        socket.Writer.BeginRequest(MessageType.GetLink, MessageFlags.Dump);
        socket.Writer.WriteLinkHeader(AddressFamilies.Bridge, 0);
        socket.Writer.AddUInt32(LinkAttribute.ExtMask, BridgeSpecAttribute.FilterBridgeVlan);
        socket.Writer.EndMessage();
        return socket.Dump("bridge port VLANs", state.AddPortVlans);
    }

    /// <summary>A dump request: the message type, NLM_F_DUMP and a zeroed family header of the type's size (family set).</summary>
    internal static bool Dump(NetlinkSocket socket, string what, ushort type, int headerLength, NetlinkMessageHandler onMessage, byte family = AddressFamilies.Unspecified)
    {
        socket.Writer.BeginRequest(type, MessageFlags.Dump);
        Span<byte> header = stackalloc byte[headerLength];
        header.Clear();
        header[0] = family;
        socket.Writer.AddRaw(header);
        socket.Writer.EndMessage();
        return socket.Dump(what, onMessage);
    }

    private Task<NetlinkSocket> OpenAsync() => NamespaceThread.RunAsync(networkNamespace, NetlinkSocket.Open);
}
