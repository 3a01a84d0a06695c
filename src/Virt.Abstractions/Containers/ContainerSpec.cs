namespace Virt.Containers;

/// <summary>
/// A Linux container, described in full. Immutable: use <c>with</c> to derive a changed copy.
/// Call <see cref="ContainerSpecValidator.Validate"/> (the managers do) before using it.
/// </summary>
/// <param name="Name">
/// The container's name: 1–32 characters of <c>a-z 0-9 -</c>, starting with a letter or digit. It names the
/// state directory, the cgroups and the command socket.
/// </param>
/// <param name="Rootfs">Where the root file system comes from.</param>
public sealed record ContainerSpec(string Name, ContainerRootfs Rootfs)
{
    /// <summary>
    /// A raw storage volume (<c>pool:name</c>, dir or btrfs) to hold the rootfs instead of the container's
    /// directory: the SDK makes an ext4 file system on it, builds the rootfs there, and LXC loop-mounts it
    /// at each start. The volume is marked in use by the container until the container is deleted.
    /// Needs <c>AddStorage()</c>. <see langword="null"/> keeps the rootfs in the container's directory.
    /// </summary>
    public string? RootfsVolume { get; init; }

    /// <summary>The hostname inside the container; <see langword="null"/> uses the name.</summary>
    public string? Hostname { get; init; }

    /// <summary>What runs as PID 1; <see langword="null"/> uses the rootfs default (busybox init, or the OCI image's entrypoint).</summary>
    public ContainerInit? Init { get; init; }

    /// <summary>Resource limits, verified against cgroupfs after start.</summary>
    public ContainerLimits Limits { get; init; } = new();

    /// <summary>Network interfaces; none gives the container a loopback only.</summary>
    public IReadOnlyList<ContainerNic> Network { get; init; } = [];

    /// <summary>Host directories and tmpfs mounted into the container.</summary>
    public IReadOnlyList<ContainerMount> Mounts { get; init; } = [];

    /// <summary>
    /// Runs the container in a user namespace: container root is host uid/gid 100000 (65536 ids). The
    /// SDK shifts the ownership of a rootfs it unpacks; an existing directory is mounted idmapped.
    /// </summary>
    public bool Unprivileged { get; init; }

    /// <summary>Capabilities to drop, or the only ones to keep.</summary>
    public ContainerCapabilities Capabilities { get; init; } = new();

    /// <summary>The AppArmor profile; <see langword="null"/> picks LXC's generated profile where AppArmor is enabled, and none elsewhere.</summary>
    public string? AppArmorProfile { get; init; }

    /// <summary>Started by <c>lxc-autostart</c> when the host boots.</summary>
    public bool Autostart { get; init; }
}

/// <summary>What runs as the container's PID 1.</summary>
/// <param name="Command">The program and its arguments (LXC splits <c>lxc.init.cmd</c> on spaces, so arguments cannot contain whitespace).</param>
public sealed record ContainerInit(IReadOnlyList<string> Command)
{
    /// <summary>Environment variables for PID 1.</summary>
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();

    /// <summary>The working directory of PID 1 (absolute, inside the container).</summary>
    public string? WorkingDirectory { get; init; }
}

/// <summary>Resource limits. <see langword="null"/> leaves a resource unlimited.</summary>
public sealed record ContainerLimits
{
    /// <summary>Memory limit in MiB.</summary>
    public long? MemoryMiB { get; init; }

    /// <summary>Swap allowed on top of <see cref="MemoryMiB"/>, in MiB (0 forbids swap). Needs <see cref="MemoryMiB"/>.</summary>
    public long? SwapMiB { get; init; }

    /// <summary>Relative CPU weight, 1–10000 (cgroup v2 scale; 100 is the default share).</summary>
    public int? CpuWeight { get; init; }

    /// <summary>CPU bandwidth in cores, e.g. 0.5 for half a core.</summary>
    public double? CpuQuota { get; init; }

    /// <summary>Allowed CPUs in cpuset list form, e.g. "0" or "0-1,3".</summary>
    public string? Cpuset { get; init; }

    /// <summary>Maximum number of processes and threads.</summary>
    public int? Pids { get; init; }
}

/// <summary>Capabilities: either a list to drop, or a list to keep (everything else dropped).</summary>
public sealed record ContainerCapabilities
{
    /// <summary>Capabilities to drop, in LXC's lower-case form without <c>CAP_</c> (e.g. "sys_module").</summary>
    public IReadOnlyList<string> Drop { get; init; } = [];

    /// <summary>The only capabilities to keep; empty keeps LXC's default set minus <see cref="Drop"/>.</summary>
    public IReadOnlyList<string> Keep { get; init; } = [];
}
