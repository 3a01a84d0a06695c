namespace Virt.Networking;

/// <summary>A network interface on the host.</summary>
/// <param name="Name">Its name.</param>
/// <param name="Index">Its ifindex.</param>
/// <param name="Kind">Its kind (<c>bridge</c>, <c>veth</c>, <c>vxlan</c>, <c>tun</c>, <c>macvlan</c>...), or <see langword="null"/> for a physical or loopback device.</param>
/// <param name="MacAddress">Its MAC, or <see langword="null"/>.</param>
/// <param name="Mtu">Its MTU.</param>
/// <param name="Up">Whether it is administratively up.</param>
/// <param name="Master">The bridge it is a port of, or <see langword="null"/>.</param>
/// <param name="Alias">Its ifalias (the SDK marks what it owns there), or <see langword="null"/>.</param>
public sealed record HostLink(string Name, int Index, string? Kind, string? MacAddress, int Mtu, bool Up, string? Master, string? Alias);

/// <summary>An address on a host interface.</summary>
/// <param name="Link">The interface.</param>
/// <param name="Cidr">The address with prefix length.</param>
public sealed record HostAddress(string Link, string Cidr);

/// <summary>A route in the host's main table.</summary>
/// <param name="Destination">The destination prefix (<c>0.0.0.0/0</c> for the default route).</param>
/// <param name="Gateway">The next hop, or <see langword="null"/> for on-link.</param>
/// <param name="Link">The outgoing interface, or <see langword="null"/>.</param>
public sealed record HostRoute(string Destination, string? Gateway, string? Link);

/// <summary>A bridge and its ports.</summary>
/// <param name="Name">The bridge.</param>
/// <param name="Ports">Its ports' names.</param>
/// <param name="VlanFiltering">Whether it is VLAN-aware.</param>
public sealed record HostBridge(string Name, IReadOnlyList<string> Ports, bool VlanFiltering);

/// <summary>The host's network configuration as the kernel reports it.</summary>
/// <param name="Links">Every interface.</param>
/// <param name="Addresses">Every address.</param>
/// <param name="Routes">The main table's routes.</param>
/// <param name="Bridges">Every bridge with its ports.</param>
public sealed record HostNetworkInventory(IReadOnlyList<HostLink> Links, IReadOnlyList<HostAddress> Addresses, IReadOnlyList<HostRoute> Routes, IReadOnlyList<HostBridge> Bridges);
