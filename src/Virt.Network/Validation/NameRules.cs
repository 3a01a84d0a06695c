using System.Text;
using System.Text.RegularExpressions;

namespace Virt.Network.Validation;

/// <summary>
/// The syntax of the names networking inputs carry: Linux interface names, network and security group names, DNS labels
/// and domains, MAC addresses. Each check returns <see langword="null"/> when the value is fine, or a message naming the
/// field, the value and the fix.
/// </summary>
internal static partial class NameRules
{
    /// <summary>The kernel's IFNAMSIZ less the terminating NUL.</summary>
    public const int MaxInterfaceNameBytes = 15;

    /// <summary>
    /// A Linux interface name as the kernel accepts it (dev_valid_name): 1–15 bytes, not "." or "..", no '/', ':' or
    /// whitespace; control characters are refused too, since they would corrupt every tool's output that lists it.
    /// </summary>
    public static string? InterfaceName(string field, string? value)
    {
        const string Fix = "use 1–15 bytes of letters, digits, '.', '_' and '-' (e.g. 'vn-lab')";
        if (string.IsNullOrEmpty(value))
        {
            return $"{field} is empty: {Fix}";
        }

        var bytes = Encoding.UTF8.GetByteCount(value);
        if (bytes > MaxInterfaceNameBytes)
        {
            return $"{field} '{Printable(value)}' is {bytes} bytes long, more than the kernel's {MaxInterfaceNameBytes}: {Fix}";
        }

        if (value is "." or "..")
        {
            return $"{field} '{value}' is not a usable interface name: {Fix}";
        }

        foreach (var character in value)
        {
            var what = character switch
            {
                '/' => "'/'",
                ':' => "':'",
                _ when char.IsWhiteSpace(character) => "whitespace",
                _ when char.IsControl(character) => "a control character",
                _ => null,
            };
            if (what is not null)
            {
                return $"{field} '{Printable(value)}' contains {what}, which an interface name may not: {Fix}";
            }
        }

        return null;
    }

    /// <summary>A network's name: 1–11 characters of a-z 0-9 -, starting with a letter (so that "vn-" + name fits 15 bytes).</summary>
    public static string? NetworkName(string field, string? value) =>
        Virt.Networking.NetworkNames.IsValidNetworkName(value)
            ? null
            : $"{field} '{Printable(value)}' is not a valid network name: use 1–11 characters of a-z, 0-9 and '-', starting with a letter (e.g. 'lab')";

    /// <summary>A security group's name: 1–32 characters of a-z 0-9 _ -, starting with a letter.</summary>
    public static string? SecurityGroupName(string field, string? value) =>
        value is not null && SecurityGroupPattern().IsMatch(value)
            ? null
            : $"{field} '{Printable(value)}' is not a valid security group name: use 1–32 characters of a-z, 0-9, '_' and '-', starting with a letter (e.g. 'web')";

    /// <summary>A DNS label (a host name within the network's domain): 1–63 characters of a-z 0-9 -, not starting or ending with '-'.</summary>
    public static string? DnsLabel(string field, string? value) =>
        Virt.Networking.NetworkNames.IsValidHostname(value)
            ? null
            : $"{field} '{Printable(value)}' is not a valid host name: use 1–63 characters of a-z, 0-9 and '-', not starting or ending with '-' (e.g. 'web1')";

    /// <summary>A DNS domain: labels separated by dots, at most 253 characters, no trailing dot.</summary>
    public static string? DnsDomain(string field, string? value) =>
        value is not null && value.Length <= 253 && value.Split('.').All(Virt.Networking.NetworkNames.IsValidHostname)
            ? null
            : $"{field} '{Printable(value)}' is not a valid DNS domain: use labels of a-z, 0-9 and '-' separated by dots, at most 253 characters (e.g. 'lab.internal')";

    /// <summary>A unicast MAC address written <c>xx:xx:xx:xx:xx:xx</c>.</summary>
    public static string? UnicastMac(string field, string? value)
    {
        if (value is null || !IsMac(value))
        {
            return $"{field} '{Printable(value)}' is not a MAC address: write six hexadecimal pairs separated by ':' (e.g. '52:54:00:12:34:56')";
        }

        var first = Convert.ToByte(value[..2], 16);
        if ((first & 1) != 0)
        {
            return $"{field} '{value}' is a multicast address (the first byte is odd): use a unicast address, e.g. a locally administered one starting with '52:54:00'";
        }

        if (value.All(c => c is '0' or ':'))
        {
            return $"{field} '{value}' is the all-zero address: use a real unicast address (e.g. '52:54:00:12:34:56')";
        }

        return null;
    }

    /// <summary>Whether the text is written as a MAC address (<c>xx:xx:xx:xx:xx:xx</c>), unicast or not.</summary>
    public static bool IsMac(string? value) => value is not null && MacPattern().IsMatch(value);

    /// <summary>A MAC as the SDK compares and writes it (lower case).</summary>
    public static string NormalizeMac(string mac) => mac.ToLowerInvariant();

    /// <summary>A value as it can be shown in a message: control characters escaped, so a newline cannot split the message.</summary>
    public static string Printable(string? value)
    {
        if (value is null)
        {
            return "(null)";
        }

        var builder = new StringBuilder(value.Length);
        foreach (var character in value)
        {
            if (char.IsControl(character))
            {
                builder.Append(System.Globalization.CultureInfo.InvariantCulture, $"\\u{(int)character:x4}");
            }
            else
            {
                builder.Append(character);
            }
        }

        return builder.ToString();
    }

    [GeneratedRegex("^[a-z][a-z0-9_-]{0,31}\\z")]
    private static partial Regex SecurityGroupPattern();

    [GeneratedRegex("^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}\\z")]
    private static partial Regex MacPattern();
}
