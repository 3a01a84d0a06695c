namespace Virt.VirtualMachines;

/// <summary>
/// What cloud-init in the guest should do at first boot, handed over as a NoCloud seed: an ISO 9660
/// image labelled <c>cidata</c> holding <c>user-data</c>, <c>meta-data</c> and <c>network-config</c>,
/// attached as a CD-ROM.
/// </summary>
public sealed record CloudInitSpec
{
    /// <summary>The instance id; cloud-init runs its once-per-instance steps again when it changes. Default: the VM's name.</summary>
    public string? InstanceId { get; init; }

    /// <summary>The guest's host name (RFC 1123: letters, digits, hyphens, dots).</summary>
    public string? Hostname { get; init; }

    /// <summary>Users to create.</summary>
    public IReadOnlyList<CloudInitUser> Users { get; init; } = [];

    /// <summary>Packages to install (names as the guest's package manager knows them).</summary>
    public IReadOnlyList<string> Packages { get; init; } = [];

    /// <summary>Files to write.</summary>
    public IReadOnlyList<CloudInitFile> WriteFiles { get; init; } = [];

    /// <summary>Commands to run at the end of first boot, each an argv list (no shell involved unless you name one).</summary>
    public IReadOnlyList<IReadOnlyList<string>> RunCommands { get; init; } = [];

    /// <summary>Network configuration (version 2); <see langword="null"/> leaves the guest's default (DHCP on the first NIC).</summary>
    public IReadOnlyList<CloudInitEthernet>? Ethernets { get; init; }
}

/// <summary>A user cloud-init creates.</summary>
/// <param name="Name">The login name (a-z, 0-9, _ and -, starting with a letter or _).</param>
public sealed record CloudInitUser(string Name)
{
    /// <summary>SSH public keys for <c>~/.ssh/authorized_keys</c>, one line each.</summary>
    public IReadOnlyList<string> SshAuthorizedKeys { get; init; } = [];

    /// <summary>A crypt(3) password hash (e.g. from <c>mkpasswd -m sha-512</c>: <c>$6$...</c>); never a clear-text password.</summary>
    public string? PasswordHash { get; init; }

    /// <summary>A sudoers rule, e.g. "ALL=(ALL) NOPASSWD:ALL"; null for none.</summary>
    public string? Sudo { get; init; }

    /// <summary>Supplementary groups.</summary>
    public IReadOnlyList<string> Groups { get; init; } = [];

    /// <summary>The login shell; null for the guest's default.</summary>
    public string? Shell { get; init; }
}

/// <summary>A file cloud-init writes.</summary>
/// <param name="Path">The absolute path in the guest.</param>
/// <param name="Content">The content (text).</param>
public sealed record CloudInitFile(string Path, string Content)
{
    /// <summary>Octal permissions, e.g. "0644"; null for cloud-init's default.</summary>
    public string? Permissions { get; init; }

    /// <summary>"user:group"; null for root.</summary>
    public string? Owner { get; init; }
}

/// <summary>One NIC in network-config version 2, matched by MAC address.</summary>
/// <param name="Name">The name cloud-init gives it, e.g. "eth0".</param>
/// <param name="MacAddress">The MAC to match, e.g. the VmNic's.</param>
public sealed record CloudInitEthernet(string Name, string MacAddress)
{
    /// <summary>Whether to use DHCPv4.</summary>
    public bool Dhcp4 { get; init; }

    /// <summary>Static addresses in CIDR form, e.g. "192.0.2.10/24".</summary>
    public IReadOnlyList<string> Addresses { get; init; } = [];

    /// <summary>The IPv4 default gateway; null for none (no route out).</summary>
    public string? Gateway4 { get; init; }

    /// <summary>DNS servers.</summary>
    public IReadOnlyList<string> Nameservers { get; init; } = [];
}
