using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;

namespace Virt.Containers;

/// <summary>
/// Checks a <see cref="ContainerSpec"/> before anything touches the host. Every value that ends up in an
/// LXC config line or an fstab-style mount entry is refused if LXC would split, trim or reinterpret it
/// (line breaks, NUL, whitespace where LXC splits on it), so a spec can never smuggle in a second entry.
/// </summary>
public static partial class ContainerSpecValidator
{
    private static readonly HashSet<string> KnownCapabilities = new(StringComparer.Ordinal)
    {
        "chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid", "setuid", "setpcap",
        "linux_immutable", "net_bind_service", "net_broadcast", "net_admin", "net_raw", "ipc_lock", "ipc_owner",
        "sys_module", "sys_rawio", "sys_chroot", "sys_ptrace", "sys_pacct", "sys_admin", "sys_boot", "sys_nice",
        "sys_resource", "sys_time", "sys_tty_config", "mknod", "lease", "audit_write", "audit_control", "setfcap",
        "mac_override", "mac_admin", "syslog", "wake_alarm", "block_suspend", "audit_read", "perfmon", "bpf",
        "checkpoint_restore",
    };

    /// <summary>Throws if the spec is invalid, listing every problem at once.</summary>
    /// <param name="spec">The spec.</param>
    /// <exception cref="InvalidContainerSpecException">Something is wrong; each problem names its field and fix.</exception>
    public static void Validate(ContainerSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var problems = new List<ContainerSpecProblem>();
        if (!IsValidName(spec.Name))
        {
            problems.Add(new("Name", $"'{Show(spec.Name)}' is not a container name: use 1-32 of a-z 0-9 -, starting with a letter or digit"));
        }

        if (spec.Hostname is not null && !HostnamePattern().IsMatch(spec.Hostname))
        {
            problems.Add(new("Hostname", $"'{Show(spec.Hostname)}' is not a hostname: use 1-63 of a-z A-Z 0-9 -, not starting or ending with -"));
        }

        ValidateRootfs(spec, problems);
        if (spec.RootfsVolume is not null && (!Virt.Storage.VolumeId.TryParse(spec.RootfsVolume, out _) || spec.Rootfs?.Kind == ContainerRootfsKind.Directory))
        {
            problems.Add(new("RootfsVolume", $"'{Show(spec.RootfsVolume)}' must be a volume id pool:name, and the rootfs source something the SDK builds (busybox, tarball, OCI), not a directory used in place"));
        }
        ValidateInit(spec.Init, problems);
        ValidateLimits(spec.Limits, problems);
        ValidateNetwork(spec.Network, problems);
        ValidateMounts(spec.Mounts, problems);
        ValidateCapabilities(spec.Capabilities, problems);
        if (spec.AppArmorProfile is not null && !AppArmorPattern().IsMatch(spec.AppArmorProfile))
        {
            problems.Add(new("AppArmorProfile", $"'{Show(spec.AppArmorProfile)}' is not a profile name: use a-z A-Z 0-9 . _ / - (or 'unconfined')"));
        }

        if (problems.Count > 0)
        {
            throw new InvalidContainerSpecException(spec.Name ?? "(null)", problems);
        }
    }

    /// <summary>Whether a string is a valid container name.</summary>
    /// <param name="name">The name.</param>
    /// <returns><see langword="true"/> when valid.</returns>
    public static bool IsValidName(string? name) => name is not null && NamePattern().IsMatch(name);

    private static void ValidateRootfs(ContainerSpec spec, List<ContainerSpecProblem> problems)
    {
        if (spec.Rootfs is null)
        {
            problems.Add(new("Rootfs", "a rootfs source is required: ContainerRootfs.Busybox(), Tarball(path), Directory(path) or OciLayout(path)"));
            return;
        }

        if (spec.Rootfs.Kind == ContainerRootfsKind.Busybox)
        {
            return;
        }

        CheckHostPath("Rootfs.Path", spec.Rootfs.Path, problems);
        if (spec.Rootfs.Reference is not null && (spec.Rootfs.Kind != ContainerRootfsKind.OciLayout || HasUnsafeCharacters(spec.Rootfs.Reference)))
        {
            problems.Add(new("Rootfs.Reference", "a reference names an image of an OCI layout: one line, no control characters"));
        }
    }

    private static void ValidateInit(ContainerInit? init, List<ContainerSpecProblem> problems)
    {
        if (init is null)
        {
            return;
        }

        if (init.Command is null || init.Command.Count == 0 || string.IsNullOrEmpty(init.Command[0]) || !init.Command[0].StartsWith('/'))
        {
            problems.Add(new("Init.Command", "give the program as an absolute path inside the container, then its arguments"));
        }
        else
        {
            for (var i = 0; i < init.Command.Count; i++)
            {
                if (string.IsNullOrEmpty(init.Command[i]) || init.Command[i].Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
                {
                    problems.Add(new($"Init.Command[{i}]", $"'{Show(init.Command[i])}' is empty or contains whitespace or control characters: LXC splits lxc.init.cmd on spaces, so put such a command in a script in the rootfs"));
                }
            }
        }

        ValidateEnvironment("Init.Environment", init.Environment, problems);
        if (init.WorkingDirectory is not null)
        {
            CheckContainerPath("Init.WorkingDirectory", init.WorkingDirectory, problems);
        }
    }

    /// <summary>
    /// Checks a command to run in a container: a program and arguments without NUL (they travel as
    /// argv), environment variables LXC would not split or trim, an absolute working directory.
    /// </summary>
    /// <param name="request">The request.</param>
    /// <exception cref="ArgumentException">Something is wrong; the message lists every problem.</exception>
    public static void ValidateExecRequest(ContainerExecRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var problems = new List<ContainerSpecProblem>();
        if (request.Command is null || request.Command.Count == 0 || string.IsNullOrEmpty(request.Command[0]) || request.Command.Any(argument => argument is null || argument.Contains('\0', StringComparison.Ordinal)))
        {
            problems.Add(new("Command", "give a program and its arguments, none null or containing NUL"));
        }

        ValidateEnvironment("Environment", request.Environment, problems);
        if (request.WorkingDirectory is not null)
        {
            CheckContainerPath("WorkingDirectory", request.WorkingDirectory, problems);
        }

        if (request.User is < 0 || request.Group is < 0 || request.Timeout <= TimeSpan.Zero)
        {
            problems.Add(new("User/Group/Timeout", "ids are non-negative and the timeout is positive"));
        }

        if (request.MaxCollectedOutputBytes <= 0)
        {
            problems.Add(new("MaxCollectedOutputBytes", "give a positive number of bytes; to keep all output, pass StandardOutput/StandardError streams"));
        }

        if (problems.Count > 0)
        {
            throw new ArgumentException("invalid command for a container: " + string.Join("; ", problems), nameof(request));
        }
    }

    private static void ValidateEnvironment(string field, IReadOnlyDictionary<string, string>? environment, List<ContainerSpecProblem> problems)
    {
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            if (!EnvironmentNamePattern().IsMatch(name ?? string.Empty))
            {
                problems.Add(new($"{field}[{Show(name)}]", "a variable name is a letter or _ followed by letters, digits or _"));
            }
            else if (value is null || HasUnsafeCharacters(value) || (value.Length > 0 && (char.IsWhiteSpace(value[0]) || char.IsWhiteSpace(value[^1]))))
            {
                problems.Add(new($"{field}[{name}]", $"the value '{Show(value)}' has a line break, NUL, control character or surrounding whitespace, which LXC would split or trim: remove them"));
            }
        }
    }

    private static void ValidateLimits(ContainerLimits? limits, List<ContainerSpecProblem> problems)
    {
        if (limits is null)
        {
            problems.Add(new("Limits", "use new ContainerLimits() for no limits"));
            return;
        }

        if (limits.MemoryMiB is < 4 or > 16L * 1024 * 1024)
        {
            problems.Add(new("Limits.MemoryMiB", $"{limits.MemoryMiB} MiB is outside 4 MiB to 16 TiB"));
        }

        if (limits.SwapMiB is not null && (limits.SwapMiB < 0 || limits.MemoryMiB is null))
        {
            problems.Add(new("Limits.SwapMiB", "swap is a non-negative number of MiB on top of MemoryMiB, which must be set too"));
        }

        if (limits.CpuWeight is < 1 or > 10000)
        {
            problems.Add(new("Limits.CpuWeight", $"{limits.CpuWeight} is outside 1-10000"));
        }

        if (limits.CpuQuota is not null && (double.IsNaN(limits.CpuQuota.Value) || limits.CpuQuota < 0.01 || limits.CpuQuota > 1024))
        {
            problems.Add(new("Limits.CpuQuota", $"{limits.CpuQuota?.ToString(CultureInfo.InvariantCulture)} cores is outside 0.01-1024"));
        }

        if (limits.Cpuset is not null && !CpusetPattern().IsMatch(limits.Cpuset))
        {
            problems.Add(new("Limits.Cpuset", $"'{Show(limits.Cpuset)}' is not a CPU list: use forms like 0, 0-1 or 0,2-3"));
        }

        if (limits.Pids is < 1)
        {
            problems.Add(new("Limits.Pids", $"{limits.Pids} must be at least 1"));
        }
    }

    private static void ValidateNetwork(IReadOnlyList<ContainerNic>? network, List<ContainerSpecProblem> problems)
    {
        if (network is null)
        {
            problems.Add(new("Network", "use an empty list for no network"));
            return;
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < network.Count; i++)
        {
            var nic = network[i];
            var field = $"Network[{i}]";
            if (nic is null)
            {
                problems.Add(new(field, "a NIC is required"));
                continue;
            }

            if (nic.Network is not null)
            {
                ValidateManagedNic(nic, field, problems);
            }
            else if (nic.Link is null || !InterfaceNamePattern().IsMatch(nic.Link))
            {
                problems.Add(new(field + ".Link", $"'{Show(nic.Link)}' is not an interface name: 1-15 of a-z A-Z 0-9 . _ -"));
            }

            var name = nic.Name ?? "eth" + i.ToString(CultureInfo.InvariantCulture);
            if (!InterfaceNamePattern().IsMatch(name) || !names.Add(name))
            {
                problems.Add(new(field + ".Name", $"'{Show(name)}' is not a unique interface name of 1-15 of a-z A-Z 0-9 . _ -"));
            }

            if (nic.MacAddress is not null && (!MacPattern().IsMatch(nic.MacAddress) || (Convert.ToByte(nic.MacAddress[..2], 16) & 1) != 0))
            {
                problems.Add(new(field + ".MacAddress", $"'{Show(nic.MacAddress)}' is not a unicast MAC address (xx:xx:xx:xx:xx:xx, first byte even)"));
            }

            if (nic.Mtu is < 68 or > 65535)
            {
                problems.Add(new(field + ".Mtu", $"{nic.Mtu} is outside 68-65535"));
            }

            Virt.Networking.ManagedNicRules.Check(nic.Network, nic.VlanTag, nic.Firewall, (name, message) => problems.Add(new($"{field}.{name}", message)));
            if (nic.Network is null && nic.Ipv4Address is not null && !IsIpv4Cidr(nic.Ipv4Address))
            {
                problems.Add(new(field + ".Ipv4Address", $"'{Show(nic.Ipv4Address)}' is not an IPv4 address with prefix, e.g. 10.0.3.2/24"));
            }

            if (nic.Network is null && nic.Ipv4Gateway is not null && (nic.Ipv4Address is null || !IPAddress.TryParse(nic.Ipv4Gateway, out var gateway) || gateway.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork || !Ipv4Pattern().IsMatch(nic.Ipv4Gateway)))
            {
                problems.Add(new(field + ".Ipv4Gateway", $"'{Show(nic.Ipv4Gateway)}' must be a dotted IPv4 address, with Ipv4Address set"));
            }
        }
    }

    /// <summary>
    /// A NIC on a managed network is a veth whose host end the network puts on its bridge (so no Link), with the address
    /// alone: the network gives the prefix and gateway.
    /// </summary>
    private static void ValidateManagedNic(ContainerNic nic, string field, List<ContainerSpecProblem> problems)
    {
        if (nic.Kind != ContainerNicKind.Veth)
        {
            problems.Add(new(field + ".Kind", $"network '{nic.Network}' takes a veth, not a {nic.Kind.ToString().ToLowerInvariant()}: use ContainerNic.OnNetwork(\"{nic.Network}\")"));
        }

        if (!string.IsNullOrEmpty(nic.Link))
        {
            problems.Add(new(field + ".Link", $"'{Show(nic.Link)}' is set with network '{nic.Network}': the network puts the veth on its own bridge; leave Link empty (ContainerNic.OnNetwork does)"));
        }

        if (nic.Ipv4Address is not null && !Virt.Networking.ManagedNicRules.IsDottedIpv4(nic.Ipv4Address))
        {
            problems.Add(new(field + ".Ipv4Address", $"'{Show(nic.Ipv4Address)}' is not an IPv4 address: on a managed network write it dotted, without a prefix (e.g. 192.0.2.10); the network gives the prefix and gateway"));
        }

        if (nic.Ipv4Gateway is not null)
        {
            problems.Add(new(field + ".Ipv4Gateway", $"network '{nic.Network}' gives the gateway: remove Ipv4Gateway"));
        }
    }

    private static bool IsIpv4Cidr(string value)
    {
        var slash = value.IndexOf('/', StringComparison.Ordinal);
        return slash > 0
            && Ipv4Pattern().IsMatch(value[..slash])
            && IPAddress.TryParse(value[..slash], out _)
            && int.TryParse(value[(slash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var prefix)
            && prefix is >= 1 and <= 32;
    }

    private static void ValidateMounts(IReadOnlyList<ContainerMount>? mounts, List<ContainerSpecProblem> problems)
    {
        if (mounts is null)
        {
            problems.Add(new("Mounts", "use an empty list for no mounts"));
            return;
        }

        for (var i = 0; i < mounts.Count; i++)
        {
            var mount = mounts[i];
            var field = $"Mounts[{i}]";
            if (mount is null)
            {
                problems.Add(new(field, "a mount is required"));
                continue;
            }

            CheckContainerPath(field + ".Target", mount.Target, problems);
            if (mount.Target is "/")
            {
                problems.Add(new(field + ".Target", "cannot mount over the container's root"));
            }

            if (mount.Kind == ContainerMountKind.Bind)
            {
                CheckHostPath(field + ".Source", mount.Source, problems);
                if (mount.Source is not null && mount.Source.Any(char.IsWhiteSpace))
                {
                    problems.Add(new(field + ".Source", "LXC mount entries are split on whitespace: use a host path without spaces or tabs"));
                }
            }
            else if (mount.Source is not null)
            {
                problems.Add(new(field + ".Source", "a tmpfs has no source"));
            }

            if (mount.SizeMiB is not null && (mount.Kind != ContainerMountKind.Tmpfs || mount.SizeMiB < 1))
            {
                problems.Add(new(field + ".SizeMiB", "a size is a positive number of MiB, for a tmpfs only"));
            }
        }
    }

    private static void ValidateCapabilities(ContainerCapabilities? capabilities, List<ContainerSpecProblem> problems)
    {
        if (capabilities is null)
        {
            problems.Add(new("Capabilities", "use new ContainerCapabilities() for LXC's defaults"));
            return;
        }

        if (capabilities.Drop.Count > 0 && capabilities.Keep.Count > 0)
        {
            problems.Add(new("Capabilities", "give either capabilities to drop or capabilities to keep, not both"));
        }

        foreach (var (field, list) in new[] { ("Capabilities.Drop", capabilities.Drop), ("Capabilities.Keep", capabilities.Keep) })
        {
            foreach (var capability in list)
            {
                if (capability is null || !KnownCapabilities.Contains(capability))
                {
                    problems.Add(new(field, $"'{Show(capability)}' is not a capability: use LXC's form, lower case without cap_, e.g. sys_admin"));
                }
            }
        }
    }

    private static void CheckHostPath(string field, string? path, List<ContainerSpecProblem> problems)
    {
        if (string.IsNullOrEmpty(path) || !path.StartsWith('/') || HasUnsafeCharacters(path))
        {
            problems.Add(new(field, $"'{Show(path)}' must be an absolute host path without control characters"));
        }
    }

    private static void CheckContainerPath(string field, string? path, List<ContainerSpecProblem> problems)
    {
        if (string.IsNullOrEmpty(path) || !path.StartsWith('/') || path.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)) || path.Split('/').Any(part => part is ".." or "."))
        {
            problems.Add(new(field, $"'{Show(path)}' must be an absolute path inside the container without whitespace, control characters, '.' or '..'"));
        }
    }

    private static bool HasUnsafeCharacters(string value) => value.Any(char.IsControl);

    private static string Show(string? value) => value is null ? "(null)" : value.Replace("\n", "\\n", StringComparison.Ordinal).Replace("\r", "\\r", StringComparison.Ordinal).Replace("\0", "\\0", StringComparison.Ordinal);

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{0,31}\\z")]
    private static partial Regex NamePattern();

    [GeneratedRegex("^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\z")]
    private static partial Regex HostnamePattern();

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*\\z")]
    private static partial Regex EnvironmentNamePattern();

    [GeneratedRegex("^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*\\z")]
    private static partial Regex CpusetPattern();

    [GeneratedRegex("^[A-Za-z0-9._-]{1,15}\\z")]
    private static partial Regex InterfaceNamePattern();

    [GeneratedRegex("^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}\\z")]
    private static partial Regex MacPattern();

    [GeneratedRegex("^[0-9]{1,3}(\\.[0-9]{1,3}){3}\\z")]
    private static partial Regex Ipv4Pattern();

    [GeneratedRegex("^[A-Za-z0-9._/-]{1,200}\\z")]
    private static partial Regex AppArmorPattern();
}
