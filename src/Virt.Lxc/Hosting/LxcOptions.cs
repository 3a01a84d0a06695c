namespace Virt.Lxc.Hosting;

/// <summary>What to do when a limit in a container's spec is not in effect after start.</summary>
public enum LxcLimitEnforcement
{
    /// <summary>Stop the container and throw <see cref="Virt.Containers.ContainerLimitException"/>.</summary>
    Fail,

    /// <summary>Log a warning and let it run.</summary>
    Warn,
}

/// <summary>Which family of LXC cgroup keys to write limits with.</summary>
public enum LxcCgroupKeys
{
    /// <summary>Per controller, the family of the hierarchy it is mounted on (v1 keys on this hybrid host's v1 controllers).</summary>
    Auto,

    /// <summary>Always <c>lxc.cgroup.*</c> (cgroup v1).</summary>
    V1,

    /// <summary>Always <c>lxc.cgroup2.*</c>. On a hybrid host LXC ignores these with only a warning; the read-back catches it.</summary>
    V2,
}

/// <summary>Options of the LXC backend.</summary>
public sealed class LxcOptions
{
    /// <summary>
    /// The LXC path: one directory per container with its config, rootfs, spec and logs. LXC names each
    /// container's command socket after it, so keep it short (at most 64 characters).
    /// </summary>
    public string LxcPath { get; set; } = "/var/lib/virt/lxc";

    /// <summary>How long a start may take unless the caller says otherwise. Default 30 s.</summary>
    public TimeSpan StartTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long one request on a container's command socket (connect, send, answer) may take before it
    /// fails with a <see cref="TimeoutException"/>. LXC answers in well under a millisecond; the limit is
    /// for a hung monitor or a socket that is not LXC's. Default 5 s.
    /// </summary>
    public TimeSpan CommandSocketTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>What to do when the host ignored a limit. Default <see cref="LxcLimitEnforcement.Fail"/>.</summary>
    public LxcLimitEnforcement LimitEnforcement { get; set; } = LxcLimitEnforcement.Fail;

    /// <summary>Which cgroup keys to write. Default <see cref="LxcCgroupKeys.Auto"/>.</summary>
    public LxcCgroupKeys CgroupKeys { get; set; } = LxcCgroupKeys.Auto;

    /// <summary>Where the <c>lxc-*</c> tools are; <see langword="null"/> looks them up on PATH.</summary>
    public string? ToolsDirectory { get; set; }

    /// <summary>The first host id of an unprivileged container's id map. Default 100000.</summary>
    public int IdMapBase { get; set; } = 100000;

    /// <summary>How many ids an unprivileged container gets. Default 65536.</summary>
    public int IdMapSize { get; set; } = 65536;

    /// <summary>The host's static busybox for busybox rootfs. Default <c>/bin/busybox</c> (Debian's busybox-static).</summary>
    public string BusyboxPath { get; set; } = "/bin/busybox";

    internal string Tool(string name) => ToolsDirectory is null ? name : Path.Combine(ToolsDirectory, name);
}
