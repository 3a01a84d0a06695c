using System.Text.Json;
using System.Text.Json.Serialization;

namespace Virt.VirtualMachines;

/// <summary>The reply to <c>guest-get-osinfo</c>.</summary>
public sealed record GuestOsInfo
{
    /// <summary>The kernel release, e.g. "6.1.0-56-amd64".</summary>
    public string? KernelRelease { get; init; }

    /// <summary>The kernel version string.</summary>
    public string? KernelVersion { get; init; }

    /// <summary>The machine, e.g. "x86_64".</summary>
    public string? Machine { get; init; }

    /// <summary>The OS id (from os-release), e.g. "debian".</summary>
    public string? Id { get; init; }

    /// <summary>The OS name.</summary>
    public string? Name { get; init; }

    /// <summary>The OS's pretty name.</summary>
    public string? PrettyName { get; init; }

    /// <summary>The OS version.</summary>
    public string? Version { get; init; }

    /// <summary>Members this SDK version does not model.</summary>
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Other { get; set; }
}

/// <summary>The outcome of a program run in the guest with <see cref="IVmGuest.ExecAsync"/>.</summary>
/// <param name="Pid">The program's pid in the guest.</param>
/// <param name="ExitCode">Its exit code, or <see langword="null"/> when a signal ended it.</param>
/// <param name="Signal">The signal that ended it, if any.</param>
/// <param name="StandardOutput">Its standard output.</param>
/// <param name="StandardError">Its standard error.</param>
/// <param name="OutputTruncated">Whether the agent cut the output short (it keeps at most 16 MiB).</param>
public sealed record GuestExecResult(int Pid, int? ExitCode, int? Signal, byte[] StandardOutput, byte[] StandardError, bool OutputTruncated)
{
    /// <summary>Standard output decoded as UTF-8.</summary>
    public string StandardOutputText => System.Text.Encoding.UTF8.GetString(StandardOutput);

    /// <summary>Standard error decoded as UTF-8.</summary>
    public string StandardErrorText => System.Text.Encoding.UTF8.GetString(StandardError);
}

/// <summary>Whether the guest's filesystems are frozen.</summary>
public enum GuestFsFreezeStatus
{
    /// <summary>Thawed: writes proceed.</summary>
    Thawed,

    /// <summary>Frozen: writes block until thawed.</summary>
    Frozen,
}

/// <summary>How <see cref="IVmGuest.ShutdownAsync"/> ends the guest.</summary>
public enum GuestShutdownMode
{
    /// <summary>Power off.</summary>
    Powerdown,

    /// <summary>Halt without powering off.</summary>
    Halt,

    /// <summary>Reboot.</summary>
    Reboot,
}

/// <summary>A network interface as the guest sees it (<c>guest-network-get-interfaces</c>).</summary>
/// <param name="Name">The guest's name for it, e.g. "eth0".</param>
/// <param name="HardwareAddress">Its MAC, lower case, or null (loopback).</param>
/// <param name="Addresses">Its IP addresses.</param>
public sealed record GuestNetworkInterface(string Name, string? HardwareAddress, IReadOnlyList<GuestIpAddress> Addresses);

/// <summary>An IP address of a guest interface.</summary>
/// <param name="Address">The address, e.g. "10.0.2.15".</param>
/// <param name="PrefixLength">The prefix length, e.g. 24.</param>
/// <param name="IsIPv6">Whether it is an IPv6 address.</param>
public sealed record GuestIpAddress(string Address, int PrefixLength, bool IsIPv6);
