namespace Virt.VirtualMachines;

/// <summary>A network interface.</summary>
/// <param name="Id">The device id: 1–31 characters of <c>a-z 0-9 _ -</c>, starting with a letter.</param>
public sealed record VmNic(string Id)
{
    /// <summary>How the NIC reaches a network. Default user-mode networking with no route out.</summary>
    public VmNicBackend Backend { get; init; } = VmNicBackend.User;

    /// <summary>For <see cref="VmNicBackend.Bridge"/>: the existing host bridge to attach the SDK-created tap to.</summary>
    public string? Bridge { get; init; }

    /// <summary>The MAC address (<c>52:54:00:xx:xx:xx</c> style); <see langword="null"/> derives a stable one from the VM name and NIC id.</summary>
    public string? MacAddress { get; init; }

    /// <summary>The device model. Default virtio-net.</summary>
    public VmNicModel Model { get; init; } = VmNicModel.VirtioNet;

    /// <summary>
    /// A managed network (<c>AddNetwork()</c>) to put the NIC on; with it the SDK creates the tap, puts it on the network's
    /// bridge and VLAN with its firewall rules in force before QEMU starts, and removes it all when the VM stops.
    /// Needs <see cref="VmNicBackend.Bridge"/> and no <see cref="Bridge"/> (<see cref="OnNetwork"/> sets both): the
    /// backend stays explicit, so a NIC is a tap exactly when its Backend says so.
    /// </summary>
    public string? Network { get; init; }

    /// <summary>On a VLAN network, the NIC's tag (1–4094); <see langword="null"/> takes the network's default.</summary>
    public int? VlanTag { get; init; }

    /// <summary>On a managed network, the NIC's firewall (rules, security groups, anti-spoofing); <see langword="null"/> for the network's rules only.</summary>
    public Virt.Networking.NicFirewall? Firewall { get; init; }

    /// <summary>
    /// On a managed network, a fixed IPv4 address (dotted, no prefix, e.g. <c>192.0.2.10</c>) the network's DHCP gives this
    /// NIC; <see langword="null"/> for the network's reservation for the MAC, if any, or a dynamic lease.
    /// </summary>
    public string? Ipv4Address { get; init; }

    /// <summary>
    /// A NIC on a managed network: a tap the SDK creates (<see cref="VmNicBackend.Bridge"/> with no <see cref="Bridge"/>)
    /// and puts on the network's bridge. The same as setting <see cref="Backend"/> and <see cref="Network"/> by hand.
    /// </summary>
    /// <param name="id">The device id.</param>
    /// <param name="network">The network's name.</param>
    /// <returns>The NIC.</returns>
    public static VmNic OnNetwork(string id, string network) => new(id) { Backend = VmNicBackend.Bridge, Network = network };
}

/// <summary>NIC backends.</summary>
public enum VmNicBackend
{
    /// <summary>QEMU user-mode networking with <c>restrict=on</c>: the guest reaches nothing outside.</summary>
    User,

    /// <summary>A tap device the SDK creates on an existing bridge, removed when the VM stops.</summary>
    Bridge,
}

/// <summary>NIC device models.</summary>
public enum VmNicModel
{
    /// <summary>virtio-net.</summary>
    VirtioNet,

    /// <summary>Intel e1000e (for guests without virtio drivers).</summary>
    E1000e,
}

/// <summary>A VNC display.</summary>
public sealed record VmVnc
{
    /// <summary>Listen on a unix socket in the VM's state directory (default) instead of TCP.</summary>
    public bool UnixSocket { get; init; } = true;

    /// <summary>For TCP: the display number on 127.0.0.1 (port 5900 + N).</summary>
    public int Display { get; init; }

    /// <summary>For TCP: a websocket port on 127.0.0.1 for browser consoles, or <see langword="null"/>.</summary>
    public int? WebSocketPort { get; init; }
}
