namespace Virt.Networking;

/// <summary>What a planned operation talks to.</summary>
public enum NetworkChangeLayer
{
    /// <summary>rtnetlink: links, addresses, routes, bridge ports and VLANs, FDB entries.</summary>
    Netlink,

    /// <summary>nftables: the SDK's table, replaced in one transaction.</summary>
    Nftables,

    /// <summary>dnsmasq: its configuration, hosts file and process.</summary>
    Dnsmasq,
}

/// <summary>One operation of a plan, in order.</summary>
/// <param name="Layer">What it talks to.</param>
/// <param name="Operation">The operation as the layer names it, e.g. <c>RTM_NEWLINK</c>, <c>RTM_NEWADDR</c>, <c>nft replace table</c>, <c>dnsmasq start</c>.</param>
/// <param name="Object">The object it touches, e.g. <c>link vn-lab</c>, <c>address 192.0.2.1/24 on vn-lab</c>.</param>
/// <param name="Detail">The parameters in words (kind, MTU, VNI, peers, rule count...).</param>
public sealed record NetworkChange(NetworkChangeLayer Layer, string Operation, string Object, string Detail)
{
    /// <inheritdoc/>
    public override string ToString() => $"{Layer} {Operation} {Object}: {Detail}";
}

/// <summary>The operations that bring the host to a network's definition.</summary>
/// <param name="Network">The network.</param>
/// <param name="Changes">The operations, in the order they run; empty when the host matches.</param>
public sealed record NetworkPlan(string Network, IReadOnlyList<NetworkChange> Changes)
{
    /// <summary>Whether there is nothing to do.</summary>
    public bool IsEmpty => Changes.Count == 0;
}
