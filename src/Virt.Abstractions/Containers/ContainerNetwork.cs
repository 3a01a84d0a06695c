namespace Virt.Containers;

/// <summary>How a container's interface reaches the host.</summary>
public enum ContainerNicKind
{
    /// <summary>A veth pair, the host end on a bridge.</summary>
    Veth,

    /// <summary>A macvlan interface on a host interface (bridge mode).</summary>
    Macvlan,
}

/// <summary>A network interface of a container.</summary>
/// <param name="Kind">Veth on a bridge, or macvlan on a host interface.</param>
/// <param name="Link">The bridge (veth) or the parent interface (macvlan); it must exist when the container starts.</param>
public sealed record ContainerNic(ContainerNicKind Kind, string Link)
{
    /// <summary>The interface's name inside the container; <see langword="null"/> gives eth0, eth1... in order.</summary>
    public string? Name { get; init; }

    /// <summary>
    /// The MAC address (<c>xx:xx:xx:xx:xx:xx</c>, unicast); <see langword="null"/> lets LXC pick one, or, on a managed
    /// network, derives a stable locally administered one from the container's name and the NIC's index (so that DHCP
    /// reservations and anti-spoofing hold across restarts).
    /// </summary>
    public string? MacAddress { get; init; }

    /// <summary>The MTU; <see langword="null"/> takes the link's.</summary>
    public int? Mtu { get; init; }

    /// <summary>
    /// A static IPv4 address with prefix, e.g. "10.0.3.2/24", set by LXC before init runs; <see langword="null"/> for none.
    /// On a managed network (<see cref="Network"/>) the address alone, e.g. "192.0.2.10": the network reserves it for the
    /// NIC's MAC and gives the prefix and gateway, which LXC then sets.
    /// </summary>
    public string? Ipv4Address { get; init; }

    /// <summary>The IPv4 default gateway; needs <see cref="Ipv4Address"/>. Not on a managed network, which gives its own.</summary>
    public string? Ipv4Gateway { get; init; }

    /// <summary>
    /// A managed network (<c>AddNetwork()</c>) to put the NIC on (a veth; <see cref="Link"/> is then empty): the SDK puts the
    /// host end on the network's bridge and VLAN with its firewall rules in force before the container starts.
    /// </summary>
    public string? Network { get; init; }

    /// <summary>On a VLAN network, the NIC's tag (1–4094); <see langword="null"/> takes the network's default.</summary>
    public int? VlanTag { get; init; }

    /// <summary>On a managed network, the NIC's firewall; <see langword="null"/> for the network's rules only.</summary>
    public Virt.Networking.NicFirewall? Firewall { get; init; }

    /// <summary>A veth on a managed network.</summary>
    /// <param name="network">The network's name.</param>
    /// <returns>The NIC.</returns>
    public static ContainerNic OnNetwork(string network) => new(ContainerNicKind.Veth, string.Empty) { Network = network };
}

/// <summary>What a container mount is.</summary>
public enum ContainerMountKind
{
    /// <summary>A host directory or file bound into the container.</summary>
    Bind,

    /// <summary>A tmpfs.</summary>
    Tmpfs,
}

/// <summary>A mount inside a container.</summary>
/// <param name="Kind">Bind or tmpfs.</param>
/// <param name="Target">The absolute path inside the container; created when missing.</param>
public sealed record ContainerMount(ContainerMountKind Kind, string Target)
{
    /// <summary>For a bind mount: the absolute host path.</summary>
    public string? Source { get; init; }

    /// <summary>Mount read-only.</summary>
    public bool ReadOnly { get; init; }

    /// <summary>For a tmpfs: its size in MiB; <see langword="null"/> for the kernel default (half of RAM).</summary>
    public int? SizeMiB { get; init; }

    /// <summary>A bind mount of a host path.</summary>
    /// <param name="source">The host path.</param>
    /// <param name="target">The path inside the container.</param>
    /// <param name="readOnly">Mount read-only.</param>
    /// <returns>The mount.</returns>
    public static ContainerMount Bind(string source, string target, bool readOnly = true) =>
        new(ContainerMountKind.Bind, target) { Source = source, ReadOnly = readOnly };

    /// <summary>A tmpfs.</summary>
    /// <param name="target">The path inside the container.</param>
    /// <param name="sizeMiB">Its size in MiB.</param>
    /// <returns>The mount.</returns>
    public static ContainerMount Tmpfs(string target, int? sizeMiB = null) => new(ContainerMountKind.Tmpfs, target) { SizeMiB = sizeMiB };
}
