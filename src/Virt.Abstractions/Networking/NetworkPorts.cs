namespace Virt.Networking;

/// <summary>How a NIC's host side is made.</summary>
public enum NetworkPortKind
{
    /// <summary>A tap device the VM backend creates and QEMU opens.</summary>
    Tap,

    /// <summary>The host end of a veth pair LXC creates when the container starts.</summary>
    Veth,
}

/// <summary>A NIC asking to join a managed network.</summary>
/// <param name="Network">The network's name.</param>
/// <param name="Owner">Who owns the port: <c>vm:NAME</c> or <c>ct:NAME</c>.</param>
/// <param name="NicId">The NIC's id within its owner (its device id, or <c>eth0</c>...).</param>
/// <param name="HostInterface">The host-side interface name (the tap, or the veth's host end), at most 15 bytes.</param>
/// <param name="Kind">Tap or veth.</param>
/// <param name="MacAddress">The NIC's MAC as the guest sees it.</param>
public sealed record NetworkPortRequest(string Network, string Owner, string NicId, string HostInterface, NetworkPortKind Kind, string MacAddress)
{
    /// <summary>On a VLAN network, the port's tag (1–4094); <see langword="null"/> takes the network's default.</summary>
    public int? VlanTag { get; init; }

    /// <summary>The NIC's firewall; <see langword="null"/> for the network's rules only (and anti-spoofing off).</summary>
    public NicFirewall? Firewall { get; init; }

    /// <summary>A fixed IPv4 address for the NIC (reserved for its MAC in DHCP); <see langword="null"/> takes the network's reservation for the MAC, if any, or a dynamic lease.</summary>
    public string? Ipv4Address { get; init; }

    /// <summary>The NIC's DNS name; <see langword="null"/> for none.</summary>
    public string? Hostname { get; init; }
}

/// <summary>A port of a managed network, as recorded by the network manager.</summary>
/// <param name="Request">What was asked for.</param>
/// <param name="Bridge">The bridge the host interface goes on.</param>
/// <param name="Mtu">The MTU the interface should have.</param>
/// <param name="Ipv4Address">The NIC's fixed address with prefix (e.g. <c>192.0.2.10/24</c>), or <see langword="null"/> for DHCP or none.</param>
/// <param name="Ipv4Gateway">The network's gateway for that address, or <see langword="null"/>.</param>
public sealed record NetworkPort(NetworkPortRequest Request, string Bridge, int Mtu, string? Ipv4Address, string? Ipv4Gateway)
{
    /// <summary>
    /// Whether <see cref="INetworkPorts.ConnectAsync"/> moves the host interface into another network namespace (the
    /// network is managed there): the backend then connects only once QEMU or LXC holds the interface, since a process
    /// that opens it by name afterwards would make a new one here. <see langword="false"/>: connecting may come first.
    /// </summary>
    public bool ConnectMovesInterface { get; init; }
}

/// <summary>A port's identity on the host: its owner and the NIC's id within it.</summary>
/// <param name="Owner">The port's owner (<c>vm:NAME</c>, <c>ct:NAME</c>).</param>
/// <param name="NicId">The NIC's id.</param>
public sealed record NetworkPortId(string Owner, string NicId);

/// <summary>
/// What the VM and container backends call to put a NIC on a managed network (registered by <c>AddNetwork()</c>); the
/// backends know nothing else of networking. The order is: <see cref="PrepareAsync"/> before the VM or container starts
/// (validates, records the port, puts its firewall rules and DHCP reservation in place), <see cref="ConnectAsync"/> once
/// the host interface exists (bridge, VLAN, link up), <see cref="ReleaseAsync"/> when it stops, crashes or is deleted.
/// </summary>
public interface INetworkPorts
{
    /// <summary>Checks the network and records the port; its firewall rules are in force when this returns.</summary>
    /// <param name="request">The NIC.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>Where the host interface goes.</returns>
    /// <exception cref="NetworkException">Unknown network (kind <see cref="VirtErrorKind.NotFound"/>, naming it and the fix), a network not applied, a bad tag, an address outside the subnet or taken.</exception>
    Task<NetworkPort> PrepareAsync(NetworkPortRequest request, CancellationToken cancellationToken = default);

    /// <summary>
    /// Checks a NIC against its network as <see cref="PrepareAsync(NetworkPortRequest, CancellationToken)"/> would (the network is defined and applied, the
    /// tag, the address, names and MAC free) and changes nothing: a backend calls it before it starts anything, so a NIC on an
    /// unknown network fails before QEMU or LXC runs, and can then prepare the port while the VM or container is being built.
    /// </summary>
    /// <param name="request">The NIC.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>A task that completes when the request was found acceptable.</returns>
    /// <exception cref="NetworkException">What <see cref="PrepareAsync(NetworkPortRequest, CancellationToken)"/> would refuse, with the same message.</exception>
    Task CheckAsync(NetworkPortRequest request, CancellationToken cancellationToken = default);

    /// <summary>
    /// Prepares many ports in one change (all or none): one validation pass, one record write per port, one firewall
    /// transaction for all of them. For bringing many VMs or containers up at once (a host's boot, a lab's setup).
    /// </summary>
    /// <param name="requests">The NICs; each owner/NIC at most once.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>Where each host interface goes, in the order of <paramref name="requests"/>.</returns>
    /// <exception cref="NetworkException">Any request refused (its message names the port): none of them is prepared.</exception>
    Task<IReadOnlyList<NetworkPort>> PrepareManyAsync(IReadOnlyList<NetworkPortRequest> requests, CancellationToken cancellationToken = default);

    /// <summary>Connects many prepared ports in one change (all or none): one link dump, one netlink batch.</summary>
    /// <param name="ports">The ports, each prepared and with its host interface made.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>A task that completes when every interface is on its bridge.</returns>
    /// <exception cref="NetworkException">A port not prepared or its interface missing (naming them all; nothing changed), or the kernel refused an operation (rolled back).</exception>
    Task ConnectManyAsync(IReadOnlyList<NetworkPortId> ports, CancellationToken cancellationToken = default);

    /// <summary>
    /// The MTU a port on the network gets (<see cref="NetworkPort.Mtu"/>), known before any port is prepared and cheap to
    /// ask: for a backend that must fix the MTU in the guest's device when it is created, before the port exists (QEMU's
    /// virtio-net <c>host_mtu</c>). <see langword="null"/> when the network names none (its bridge keeps the kernel's
    /// default, 1500), for an unknown network (<see cref="PrepareAsync"/> reports that), and from an implementation that
    /// cannot tell (this default).
    /// </summary>
    /// <param name="network">The network's name.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The MTU, or <see langword="null"/>.</returns>
    Task<int?> GetPortMtuAsync(string network, CancellationToken cancellationToken = default) => Task.FromResult<int?>(null);

    /// <summary>Puts the existing host interface on the network's bridge with its VLAN and brings it up.</summary>
    /// <param name="owner">The port's owner.</param>
    /// <param name="nicId">The NIC's id.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>A task that completes when the interface is on the bridge.</returns>
    Task ConnectAsync(string owner, string nicId, CancellationToken cancellationToken = default);

    /// <summary>Removes the port's rules, reservation and record (and its interface, if it is still there). Nothing happens for an unknown port.</summary>
    /// <param name="owner">The port's owner.</param>
    /// <param name="nicId">The NIC's id, or <see langword="null"/> for every port of the owner.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>A task that completes when the port is gone.</returns>
    Task ReleaseAsync(string owner, string? nicId = null, CancellationToken cancellationToken = default);
}
