namespace Virt.Kvm.VirtualMachines;

/// <summary>What the command line needs besides the spec: the binary's capabilities and this launch's decisions.</summary>
/// <param name="Capabilities">The QEMU binary's probed capabilities.</param>
/// <param name="Accelerator">"kvm" or "tcg", already decided.</param>
/// <param name="StateDirectory">The VM's private state directory (sockets and logs live there).</param>
internal sealed record QemuLaunchContext(QemuCapabilities Capabilities, string Accelerator, string StateDirectory)
{
    /// <summary>A user to drop privileges to (<c>-run-with user=</c> or <c>-runas</c> by version), or <see langword="null"/>.</summary>
    public string? RunAsUser { get; init; }

    /// <summary>A <c>-L</c> data directory for a QEMU unpacked outside /usr, or <see langword="null"/>.</summary>
    public string? DataDirectory { get; init; }

    /// <summary>Disks (by id) whose volume is a Ceph RBD image: QEMU opens them with its rbd block driver instead of a file.</summary>
    public IReadOnlyDictionary<string, Virt.Storage.RbdLocation> RbdDisks { get; init; } = new Dictionary<string, Virt.Storage.RbdLocation>();

    /// <summary>The host functions bound to vfio-pci for the spec's host devices; a device with <c>AllFunctions</c> takes those of its slot.</summary>
    public IReadOnlyList<Virt.Passthrough.PciAddress> HostFunctions { get; init; } = [];

    /// <summary>
    /// The MTU of each NIC (by id) on a managed network that names one; a virtio-net NIC whose MTU is not 1500 gets it as
    /// <c>host_mtu</c>, so that the guest's driver uses the network's MTU (a VXLAN overlay's 1450) from boot.
    /// </summary>
    public IReadOnlyDictionary<string, int> NicMtus { get; init; } = new Dictionary<string, int>();
}
