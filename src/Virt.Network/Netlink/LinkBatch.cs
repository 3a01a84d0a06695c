using Microsoft.Win32.SafeHandles;
using Virt.Network.Host;

namespace Virt.Network.Netlink;

/// <summary>
/// Runs a list of <see cref="LinkOperation"/>s over one socket: requests are packed up to <c>messagesPerSend</c> to a
/// send, and a send goes out early when the next operation needs the ifindex of a link created since the link dump at
/// the start (then one send of by-name RTM_GETLINK requests learns it). Stops at the first failed acknowledgement; with
/// more than one request per send the requests after it in that send have run too (the kernel does not stop a send).
/// </summary>
internal sealed class LinkBatch : ILinkIndexes
{
    private readonly NetlinkSocket socket;
    private readonly int messagesPerSend;
    private readonly Dictionary<string, int?> indexes = new(StringComparer.Ordinal); // null: made in this batch, ifindex not asked yet
    private readonly Dictionary<string, string?> kinds = new(StringComparer.Ordinal);
    private readonly List<(int Operation, int Messages)> unsent = [];
    private readonly List<SafeFileHandle> peerNamespaces = [];

    /// <param name="socket">The socket, in the namespace to change.</param>
    /// <param name="links">The links as dumped at the start.</param>
    /// <param name="messagesPerSend">How many requests to pack into one send at most (1: each acknowledged before the next is sent).</param>
    public LinkBatch(NetlinkSocket socket, IEnumerable<LinkState> links, int messagesPerSend)
    {
        this.socket = socket;
        this.messagesPerSend = messagesPerSend;
        foreach (var link in links)
        {
            indexes[link.Name] = link.Index;
            kinds[link.Name] = link.Kind;
        }
    }

    /// <summary>How many sends carried operations.</summary>
    public int Sends { get; private set; }

    /// <summary>How many sends asked for ifindexes.</summary>
    public int Lookups { get; private set; }

    /// <summary>Runs the operations; throws <see cref="NetlinkOperationException"/> for the first one the kernel refuses.</summary>
    public void Run(IReadOnlyList<LinkOperation> operations)
    {
        try
        {
            for (var index = 0; index < operations.Count; index++)
            {
                var operation = operations[index];
                var unknown = LinkOperationEncoder.IndexedLinks(operation).Where(name => indexes.GetValueOrDefault(name) is null).Distinct().ToList();
                if (unknown.Count > 0)
                {
                    Send(operations);
                    LearnIndexes(index, operation, unknown);
                }

                var count = LinkOperationEncoder.Encode(socket.Writer, operation, this, OpenPeerNamespace(index, operation));
                unsent.Add((index, count));
                Record(operation);
                if (socket.Writer.MessageCount >= messagesPerSend)
                {
                    Send(operations);
                }
            }

            Send(operations);
        }
        finally
        {
            ClosePeerNamespaces();
        }
    }

    public int IndexOf(string name) =>
        indexes.GetValueOrDefault(name) ?? throw new InvalidOperationException($"the ifindex of link {name} was not looked up before encoding");

    public bool IsBridge(string name) => kinds.GetValueOrDefault(name) == "bridge";

    private void Send(IReadOnlyList<LinkOperation> operations)
    {
        if (socket.Writer.MessageCount == 0)
        {
            return;
        }

        var acks = socket.Exchange();
        Sends++;
        var ack = 0;
        foreach (var (operation, messages) in unsent)
        {
            for (var message = 0; message < messages; message++, ack++)
            {
                if (acks[ack].Errno != 0)
                {
                    var failed = operations[operation];
                    throw new NetlinkOperationException(operation, failed, acks[ack].Errno, NetlinkErrors.Explain(failed, acks[ack]));
                }
            }
        }

        unsent.Clear();
        ClosePeerNamespaces();
    }

    // One send of by-name RTM_GETLINK requests for the links the operation needs as ifindexes.
    private void LearnIndexes(int index, LinkOperation operation, List<string> names)
    {
        foreach (var name in names)
        {
            socket.Writer.BeginRequest(MessageType.GetLink, MessageFlags.Ack);
            socket.Writer.WriteLinkHeader(AddressFamilies.Unspecified, 0);
            socket.Writer.AddString(LinkAttribute.Name, name);
            socket.Writer.EndMessage();
        }

        var answers = new HostLinkStateBuilder();
        var acks = socket.Exchange(answers.AddLink);
        Lookups++;
        foreach (var link in answers.Build().Links)
        {
            indexes[link.Name] = link.Index;
            kinds[link.Name] = link.Kind;
        }

        for (var i = 0; i < names.Count; i++)
        {
            if (acks[i].Errno != 0)
            {
                throw new NetlinkOperationException(index, operation, acks[i].Errno, $"cannot find link {names[i]}: {NetlinkErrors.Explain(operation, acks[i])}");
            }
        }
    }

    // The peer's namespace goes to the kernel as a descriptor, which must stay open until the request is sent.
    private int? OpenPeerNamespace(int index, LinkOperation operation)
    {
        var path = operation switch
        {
            CreateVeth { PeerNamespace: { } peer } => peer,
            MoveLinkToNamespace move => move.NamespacePath,
            _ => null,
        };
        if (path is null)
        {
            return null;
        }

        try
        {
            var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
            peerNamespaces.Add(handle);
            return (int)handle.DangerousGetHandle();
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            throw new NetlinkOperationException(index, operation, 2, $"cannot open the network namespace {path}: {exception.Message}; create it first (ip netns add) or give a /proc/PID/ns/net path");
        }
    }

    private void ClosePeerNamespaces()
    {
        peerNamespaces.ForEach(handle => handle.Dispose());
        peerNamespaces.Clear();
    }

    // What the operation changes in the name table, so later operations know which ifindexes they must ask for.
    private void Record(LinkOperation operation)
    {
        switch (operation)
        {
            case CreateBridge bridge:
                Created(bridge.Name, "bridge");
                break;
            case CreateVxlan vxlan:
                Created(vxlan.Name, "vxlan");
                break;
            case CreateVeth veth:
                Created(veth.Name, "veth");
                if (veth.PeerNamespace is null)
                {
                    Created(veth.PeerName, "veth");
                }

                break;
            case DeleteLink delete:
                indexes.Remove(delete.Name);
                kinds.Remove(delete.Name);
                break;
            case MoveLinkToNamespace move:
                indexes.Remove(move.Name);
                kinds.Remove(move.Name);
                break;
        }
    }

    private void Created(string name, string kind)
    {
        indexes[name] = null;
        kinds[name] = kind;
    }
}
