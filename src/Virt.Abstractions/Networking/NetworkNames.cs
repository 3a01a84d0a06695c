using System.Text;
using System.Text.RegularExpressions;

namespace Virt.Networking;

/// <summary>
/// The names a managed network and the hosts on it go by, checked the same way everywhere: by the network backend when
/// a network or a port is defined, by the VM and container validators when a NIC names a network, and by the backends
/// when they give a port its DNS name.
/// </summary>
public static partial class NetworkNames
{
    /// <summary>The longest DNS label (RFC 1035).</summary>
    public const int MaxHostnameLength = 63;

    /// <summary>Whether a network name is acceptable: 1–11 characters of <c>a-z 0-9 -</c>, starting with a letter (it becomes part of the bridge name <c>vn-NAME</c>, 15 bytes at most).</summary>
    /// <param name="name">The name.</param>
    /// <returns>True when valid.</returns>
    public static bool IsValidNetworkName(string? name) => name is not null && NetworkNamePattern().IsMatch(name);

    /// <summary>Whether a host name is acceptable on a network's DNS: one label of 1–63 characters of <c>a-z 0-9 -</c>, not starting or ending with '-'.</summary>
    /// <param name="name">The name.</param>
    /// <returns>True when valid.</returns>
    public static bool IsValidHostname(string? name) => name is not null && HostnamePattern().IsMatch(name);

    /// <summary>
    /// The DNS name a VM's or container's NIC is given from its owner's name: lower case, every character other than
    /// <c>a-z 0-9</c> turned into '-', at most 63 characters, without '-' at either end (<c>Web_1.lab</c> becomes
    /// <c>web-1-lab</c>). <see langword="null"/> when nothing usable remains, so the NIC simply has no name.
    /// </summary>
    /// <param name="name">A VM's name, or a container's host name or name.</param>
    /// <returns>The host name, or <see langword="null"/>.</returns>
    public static string? HostnameFrom(string? name)
    {
        if (name is null)
        {
            return null;
        }

        var label = new StringBuilder(Math.Min(name.Length, MaxHostnameLength));
        foreach (var character in name.AsSpan(0, Math.Min(name.Length, MaxHostnameLength)))
        {
            label.Append(char.IsAsciiLetterOrDigit(character) ? char.ToLowerInvariant(character) : '-');
        }

        var hostname = label.ToString().Trim('-');
        return IsValidHostname(hostname) ? hostname : null;
    }

    [GeneratedRegex("^[a-z][a-z0-9-]{0,10}\\z")]
    private static partial Regex NetworkNamePattern();

    [GeneratedRegex("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\z")]
    private static partial Regex HostnamePattern();
}
