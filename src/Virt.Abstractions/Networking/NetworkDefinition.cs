namespace Virt.Networking;

/// <summary>
/// A network, as defined by the host application and persisted by the network manager. One record per kind —
/// <see cref="IsolatedNetworkDefinition"/>, <see cref="NatNetworkDefinition"/>, <see cref="RoutedNetworkDefinition"/>,
/// <see cref="VlanNetworkDefinition"/>, <see cref="VxlanNetworkDefinition"/> — each holding only what its kind uses;
/// the set is closed (only these derive from it). A definition changes nothing on the host until it is applied.
/// </summary>
public abstract record NetworkDefinition
{
    private protected NetworkDefinition(string name)
    {
        Name = name;
    }

    /// <summary>The network's name: 1–11 characters of <c>a-z 0-9 -</c>, starting with a letter (NICs refer to it).</summary>
    public string Name { get; init; }

    /// <summary>The kind's name: "isolated", "nat", "routed", "vlan" or "vxlan".</summary>
    public abstract string Kind { get; }

    /// <summary>
    /// The bridge's interface name; <see langword="null"/> gives <c>vn-</c> followed by the network's name. At most 15 bytes
    /// of <c>a-z A-Z 0-9 . _ -</c>. A bridge the SDK did not create is used only with <see cref="AdoptExistingBridge"/>.
    /// </summary>
    public string? BridgeName { get; init; }

    /// <summary>
    /// Use a bridge that already exists on the host (made by the administrator) instead of creating one. The SDK then adds
    /// ports, addresses and rules to it but never deletes it; a bridge with host addresses or routes is refused unless
    /// <see cref="AllowBridgeWithHostAddresses"/> is set too.
    /// </summary>
    public bool AdoptExistingBridge { get; init; }

    /// <summary>Consent to adopt a bridge that carries host addresses or routes (the host's own uplink bridge, for example).</summary>
    public bool AllowBridgeWithHostAddresses { get; init; }

    /// <summary>The bridge's MTU; <see langword="null"/> keeps the kernel's default (1500, or what fits the underlay for VXLAN).</summary>
    public int? Mtu { get; init; }

    /// <summary>Firewall defaults and rules for every port of the network; <see langword="null"/> for no network-level filtering.</summary>
    public NetworkFirewall? Firewall { get; init; }

    /// <summary>The bridge's name as used on the host.</summary>
    public string EffectiveBridgeName => BridgeName ?? "vn-" + Name;
}

/// <summary>A bridge with no address on the host: guests and containers on it reach each other and nothing else.</summary>
/// <param name="Name">The network's name.</param>
public sealed record IsolatedNetworkDefinition(string Name) : NetworkDefinition(Name)
{
    /// <inheritdoc/>
    public override string Kind => "isolated";
}

/// <summary>
/// A bridge with a gateway address on the host, masquerading to the uplink (nftables), with DHCP and DNS from a dnsmasq
/// the SDK supervises.
/// </summary>
/// <param name="Name">The network's name.</param>
/// <param name="Ipv4">The IPv4 subnet, gateway, DHCP range and reservations.</param>
public sealed record NatNetworkDefinition(string Name, NetworkSubnet Ipv4) : NetworkDefinition(Name)
{
    /// <inheritdoc/>
    public override string Kind => "nat";

    /// <summary>The interface traffic leaves by; <see langword="null"/> masquerades out of every interface but the bridge.</summary>
    public string? Uplink { get; init; }

    /// <summary>An optional IPv6 subnet (router advertisements and DHCPv6 from dnsmasq); <see langword="null"/> for IPv4 only.</summary>
    public NetworkSubnet? Ipv6 { get; init; }

    /// <summary>Serve DHCP (default true).</summary>
    public bool Dhcp { get; init; } = true;

    /// <summary>Serve DNS for the network's hosts on the gateway address (default true); names are <c>hostname.</c><see cref="DnsDomain"/>.</summary>
    public bool Dns { get; init; } = true;

    /// <summary>The DNS domain of the network's hosts. Default the network's name.</summary>
    public string? DnsDomain { get; init; }
}

/// <summary>A bridge with a gateway address and no NAT: the host routes the subnet and publishes a route to it.</summary>
/// <param name="Name">The network's name.</param>
/// <param name="Ipv4">The IPv4 subnet and gateway (DHCP when a range is given).</param>
public sealed record RoutedNetworkDefinition(string Name, NetworkSubnet Ipv4) : NetworkDefinition(Name)
{
    /// <inheritdoc/>
    public override string Kind => "routed";

    /// <summary>Extra routes the host publishes for the network (destinations reached through the bridge).</summary>
    public IReadOnlyList<NetworkRoute> Routes { get; init; } = [];

    /// <summary>Serve DHCP when the subnet has a range (default true).</summary>
    public bool Dhcp { get; init; } = true;
}

/// <summary>
/// A VLAN-aware bridge (vlan_filtering): each port carries the tag its NIC names, and the uplink is a trunk carrying
/// <see cref="TrunkVlans"/> (Proxmox's VLAN zone).
/// </summary>
/// <param name="Name">The network's name.</param>
public sealed record VlanNetworkDefinition(string Name) : NetworkDefinition(Name)
{
    /// <inheritdoc/>
    public override string Kind => "vlan";

    /// <summary>The host interface enslaved as the trunk port; <see langword="null"/> for a bridge with no uplink.</summary>
    public string? Uplink { get; init; }

    /// <summary>The VLANs (1–4094) the trunk carries; empty for every VLAN a port uses.</summary>
    public IReadOnlyList<int> TrunkVlans { get; init; } = [];

    /// <summary>The tag of NICs that name none (1–4094). Default 1.</summary>
    public int DefaultVlan { get; init; } = 1;
}

/// <summary>
/// An overlay spanning hosts: a VXLAN device on a bridge, with head-end replication to every peer through FDB entries
/// (no multicast), so that NICs on different hosts share one L2 segment.
/// </summary>
/// <param name="Name">The network's name.</param>
/// <param name="Vni">The VXLAN network identifier, 1–16777215; the same on every host.</param>
/// <param name="LocalAddress">This host's underlay address (IPv4 or IPv6).</param>
public sealed record VxlanNetworkDefinition(string Name, int Vni, string LocalAddress) : NetworkDefinition(Name)
{
    /// <inheritdoc/>
    public override string Kind => "vxlan";

    /// <summary>The other hosts' underlay addresses.</summary>
    public IReadOnlyList<string> Peers { get; init; } = [];

    /// <summary>The underlay interface; <see langword="null"/> lets the kernel route to the peers. Its MTU bounds the overlay's.</summary>
    public string? UnderlayInterface { get; init; }

    /// <summary>The UDP port. Default 4789 (IANA).</summary>
    public int Port { get; init; } = 4789;

    /// <summary>An optional subnet on the overlay with a gateway address on this host (give it on one host only) and DHCP.</summary>
    public NetworkSubnet? Ipv4 { get; init; }
}

/// <summary>A subnet of a network: its prefix, the host's gateway address, the DHCP range and static reservations.</summary>
/// <param name="Cidr">The subnet, e.g. <c>192.0.2.0/24</c> or <c>2001:db8:1::/64</c>.</param>
/// <param name="Gateway">The host's address on the bridge, inside the subnet, e.g. <c>192.0.2.1</c>.</param>
public sealed record NetworkSubnet(string Cidr, string Gateway)
{
    /// <summary>The first address DHCP hands out; <see langword="null"/> with <see cref="DhcpEnd"/> for no dynamic range.</summary>
    public string? DhcpStart { get; init; }

    /// <summary>The last address DHCP hands out.</summary>
    public string? DhcpEnd { get; init; }

    /// <summary>How long a DHCP lease lasts. Default one hour.</summary>
    public TimeSpan LeaseTime { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Fixed addresses by MAC, written to dnsmasq's hosts file.</summary>
    public IReadOnlyList<DhcpReservation> Reservations { get; init; } = [];
}

/// <summary>A fixed address for a MAC.</summary>
/// <param name="MacAddress">The NIC's MAC, <c>xx:xx:xx:xx:xx:xx</c>.</param>
/// <param name="Address">The address it gets, inside the subnet and outside no rule; may be inside the DHCP range.</param>
/// <param name="Hostname">An optional DNS name (a label of <c>a-z 0-9 -</c>).</param>
public sealed record DhcpReservation(string MacAddress, string Address, string? Hostname = null);

/// <summary>A route the host publishes.</summary>
/// <param name="Destination">The destination prefix.</param>
/// <param name="Via">The next hop inside the network's subnet, or <see langword="null"/> for on-link.</param>
public sealed record NetworkRoute(string Destination, string? Via = null);

/// <summary>A DHCP lease read back from dnsmasq.</summary>
/// <param name="MacAddress">The client's MAC.</param>
/// <param name="Address">The leased address.</param>
/// <param name="Hostname">The name the client sent, or <see langword="null"/>.</param>
/// <param name="Expires">When the lease ends, or <see langword="null"/> for an infinite lease.</param>
public sealed record DhcpLease(string MacAddress, string Address, string? Hostname, DateTimeOffset? Expires);
