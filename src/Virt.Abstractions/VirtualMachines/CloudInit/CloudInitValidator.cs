using System.Net;
using System.Text.RegularExpressions;

namespace Virt.VirtualMachines;

/// <summary>
/// Checks a <see cref="CloudInitSpec"/> value by value. The seed is written as JSON (valid YAML), so no
/// value can break out of its place; these rules catch what cloud-init or the guest would reject or
/// misread later, where nobody sees the error: line breaks in single-line values, relative or <c>..</c>
/// paths, clear-text passwords, malformed names and addresses.
/// </summary>
internal static partial class CloudInitValidator
{
    public static void Validate(CloudInitSpec? cloudInit, List<VmSpecProblem> problems)
    {
        if (cloudInit is null)
        {
            return;
        }

        SingleLine("CloudInit.InstanceId", cloudInit.InstanceId, problems);
        if (cloudInit.Hostname is { } hostname && !HostnamePattern().IsMatch(hostname))
        {
            problems.Add(new("CloudInit.Hostname", $"'{Show(hostname)}' is not a host name: use letters, digits and hyphens, dot-separated labels of 1–63 characters"));
        }

        for (var i = 0; i < cloudInit.Users.Count; i++)
        {
            var user = cloudInit.Users[i];
            var field = $"CloudInit.Users[{i}]";
            if (user?.Name is null || !UserPattern().IsMatch(user.Name))
            {
                problems.Add(new(field + ".Name", $"'{Show(user?.Name)}' is not a user name: use 1–32 of a-z 0-9 _ -, starting with a letter or _"));
                continue;
            }

            for (var k = 0; k < user.SshAuthorizedKeys.Count; k++)
            {
                if (!SingleLine($"{field}.SshAuthorizedKeys[{k}]", user.SshAuthorizedKeys[k], problems) || !user.SshAuthorizedKeys[k].Contains(' ', StringComparison.Ordinal))
                {
                    problems.Add(new($"{field}.SshAuthorizedKeys[{k}]", "is not one OpenSSH public key line (\"ssh-ed25519 AAAA... comment\")"));
                }
            }

            if (user.PasswordHash is { } hash && (!SingleLine(field + ".PasswordHash", hash, problems) || !hash.StartsWith('$')))
            {
                problems.Add(new(field + ".PasswordHash", "must be a crypt(3) hash such as $6$salt$... (mkpasswd -m sha-512), never a clear-text password"));
            }

            SingleLine(field + ".Sudo", user.Sudo, problems);
            SingleLine(field + ".Shell", user.Shell, problems);
            for (var g = 0; g < user.Groups.Count; g++)
            {
                if (user.Groups[g] is not { } group || !UserPattern().IsMatch(group))
                {
                    problems.Add(new($"{field}.Groups[{g}]", $"'{Show(user.Groups[g])}' is not a group name"));
                }
            }
        }

        for (var i = 0; i < cloudInit.Packages.Count; i++)
        {
            if (cloudInit.Packages[i] is not { } package || !PackagePattern().IsMatch(package))
            {
                problems.Add(new($"CloudInit.Packages[{i}]", $"'{Show(cloudInit.Packages[i])}' is not a package name"));
            }
        }

        for (var i = 0; i < cloudInit.WriteFiles.Count; i++)
        {
            var file = cloudInit.WriteFiles[i];
            var field = $"CloudInit.WriteFiles[{i}]";
            if (file?.Path is not { } path || !path.StartsWith('/') || path.Split('/').Contains("..") || !SingleLine(field + ".Path", path, problems))
            {
                problems.Add(new(field + ".Path", $"'{Show(file?.Path)}' must be an absolute path without '..' or line breaks"));
            }

            if (file?.Content is null || file.Content.Contains('\0', StringComparison.Ordinal))
            {
                problems.Add(new(field + ".Content", "is null or contains NUL: write text"));
            }

            if (file?.Permissions is { } permissions && !PermissionsPattern().IsMatch(permissions))
            {
                problems.Add(new(field + ".Permissions", $"'{Show(permissions)}' is not octal permissions such as 0644"));
            }

            if (file?.Owner is { } owner && !OwnerPattern().IsMatch(owner))
            {
                problems.Add(new(field + ".Owner", $"'{Show(owner)}' is not user:group"));
            }
        }

        for (var i = 0; i < cloudInit.RunCommands.Count; i++)
        {
            var command = cloudInit.RunCommands[i];
            if (command is null || command.Count == 0 || command.Any(a => a is null || a.Contains('\0', StringComparison.Ordinal)))
            {
                problems.Add(new($"CloudInit.RunCommands[{i}]", "must be a non-empty argv list without NUL"));
            }
        }

        for (var i = 0; i < (cloudInit.Ethernets?.Count ?? 0); i++)
        {
            var nic = cloudInit.Ethernets![i];
            var field = $"CloudInit.Ethernets[{i}]";
            if (nic?.Name is null || !InterfacePattern().IsMatch(nic.Name))
            {
                problems.Add(new(field + ".Name", $"'{Show(nic?.Name)}' is not an interface name (1–15 of a-z A-Z 0-9 _ - .)"));
            }

            if (nic?.MacAddress is null || !MacPattern().IsMatch(nic.MacAddress))
            {
                problems.Add(new(field + ".MacAddress", $"'{Show(nic?.MacAddress)}' is not a MAC address such as 52:54:00:12:34:56"));
            }

            foreach (var address in nic?.Addresses ?? [])
            {
                if (address is null || !IPNetwork.TryParse(address, out _))
                {
                    problems.Add(new(field + ".Addresses", $"'{Show(address)}' is not an address in CIDR form such as 192.0.2.10/24"));
                }
            }

            foreach (var (name, value) in (nic?.Nameservers ?? []).Select(n => ("Nameservers", (string?)n)).Append(("Gateway4", nic?.Gateway4)))
            {
                if (value is not null && !IPAddress.TryParse(value, out _))
                {
                    problems.Add(new($"{field}.{name}", $"'{Show(value)}' is not an IP address"));
                }
            }
        }
    }

    /// <summary>Adds a problem and returns false when a single-line value has a line break or NUL.</summary>
    private static bool SingleLine(string field, string? value, List<VmSpecProblem> problems)
    {
        if (value is not null && value.AsSpan().IndexOfAny('\n', '\r', '\0') >= 0)
        {
            problems.Add(new(field, "contains a line break or NUL: it must be one line"));
            return false;
        }

        return true;
    }

    private static string Show(string? value) => value is null ? "(null)" : value.Replace("\n", "\\n", StringComparison.Ordinal).Replace("\r", "\\r", StringComparison.Ordinal).Replace("\0", "\\0", StringComparison.Ordinal);

    [GeneratedRegex("^(?=.{1,253}\\z)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\\z")]
    private static partial Regex HostnamePattern();

    [GeneratedRegex("^[a-z_][a-z0-9_-]{0,31}\\z")]
    private static partial Regex UserPattern();

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9.+:~_-]{0,127}\\z")]
    private static partial Regex PackagePattern();

    [GeneratedRegex("^0?[0-7]{3,4}\\z")]
    private static partial Regex PermissionsPattern();

    [GeneratedRegex("^[a-z_][a-z0-9_-]{0,31}(:[a-z_][a-z0-9_-]{0,31})?\\z")]
    private static partial Regex OwnerPattern();

    [GeneratedRegex("^[A-Za-z0-9_.-]{1,15}\\z")]
    private static partial Regex InterfacePattern();

    [GeneratedRegex("^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}\\z")]
    private static partial Regex MacPattern();
}
