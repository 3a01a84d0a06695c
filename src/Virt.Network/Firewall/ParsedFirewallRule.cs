using System.Net;
using System.Net.Sockets;
using Virt.Network.Host;
using Virt.Networking;

namespace Virt.Network.Firewall;

/// <summary>A destination port or an inclusive port range, parsed from <c>"80"</c> or <c>"1000-2000"</c>.</summary>
internal readonly record struct PortRange(int First, int Last);

/// <summary>
/// A <see cref="FirewallRule"/> with every user string parsed into typed values (ports as numbers, prefixes as
/// <see cref="IPNetwork"/>, ICMP types from nftables' own list), so the compiler never writes a user's text into nftables
/// except as a comment. Anything that does not parse is refused with an <see cref="ArgumentException"/> naming the rule.
/// </summary>
internal sealed record ParsedFirewallRule(
    FirewallRule Rule,
    IReadOnlyList<PortRange> Ports,
    IReadOnlyList<IPNetwork> Sources,
    IReadOnlyList<IPNetwork> Destinations,
    IReadOnlyList<string> IcmpTypes,
    string? Comment)
{
    // The type names nftables 1.0.6 knows for `icmp type` and `icmpv6 type` (src/proto.c of nftables).
    private static readonly HashSet<string> IcmpTypeNames =
    [
        "echo-reply", "destination-unreachable", "source-quench", "redirect", "echo-request", "router-advertisement",
        "router-solicitation", "time-exceeded", "parameter-problem", "timestamp-request", "timestamp-reply",
        "info-request", "info-reply", "address-mask-request", "address-mask-reply",
    ];

    private static readonly HashSet<string> Icmpv6TypeNames =
    [
        "destination-unreachable", "packet-too-big", "time-exceeded", "parameter-problem", "echo-request", "echo-reply",
        "mld-listener-query", "mld-listener-report", "mld-listener-done", "mld-listener-reduction", "nd-router-solicit",
        "nd-router-advert", "nd-neighbor-solicit", "nd-neighbor-advert", "nd-redirect", "router-renumbering",
        "ind-neighbor-solicit", "ind-neighbor-advert", "mld2-listener-report",
    ];

    /// <summary>Parses a rule; <paramref name="ruleName"/> names it in errors (<c>group:web#0 of port vm:a/net0</c>).</summary>
    public static ParsedFirewallRule Parse(FirewallRule rule, string ruleName)
    {
        var ports = rule.DestinationPorts.Select(port => ParsePort(port, ruleName)).ToList();
        if (ports.Count > 0 && rule.Protocol is not (FirewallProtocol.Tcp or FirewallProtocol.Udp))
        {
            throw new ArgumentException($"firewall rule {ruleName}: destination ports need protocol tcp or udp, not {rule.Protocol}");
        }

        var knownTypes = rule.Protocol switch
        {
            FirewallProtocol.Icmp => IcmpTypeNames,
            FirewallProtocol.Icmpv6 => Icmpv6TypeNames,
            _ => null,
        };
        if (rule.IcmpTypes.Count > 0 && knownTypes is null)
        {
            throw new ArgumentException($"firewall rule {ruleName}: ICMP types need protocol icmp or icmpv6, not {rule.Protocol}");
        }

        foreach (var type in rule.IcmpTypes)
        {
            if (!knownTypes!.Contains(type))
            {
                throw new ArgumentException(
                    $"firewall rule {ruleName}: '{Printable(type)}' is not an {rule.Protocol} type nftables knows; use one of {string.Join(", ", knownTypes.Order(StringComparer.Ordinal))}");
            }
        }

        return new ParsedFirewallRule(
            rule,
            ports,
            rule.Sources.Select(prefix => ParsePrefix(prefix, ruleName, "source")).ToList(),
            rule.Destinations.Select(prefix => ParsePrefix(prefix, ruleName, "destination")).ToList(),
            rule.IcmpTypes.Distinct(StringComparer.Ordinal).ToList(),
            CheckComment(rule.Comment, ruleName));
    }

    /// <summary>
    /// The address families the rule needs one nftables rule each for: ICMP fixes the family; prefixes of both families
    /// split the rule in two (nftables matches one family per rule); no prefix at all matches any family (null).
    /// </summary>
    public IReadOnlyList<AddressFamily?> Families()
    {
        AddressFamily? fixedFamily = Rule.Protocol switch
        {
            FirewallProtocol.Icmp => AddressFamily.InterNetwork,
            FirewallProtocol.Icmpv6 => AddressFamily.InterNetworkV6,
            _ => null,
        };
        if (Sources.Count == 0 && Destinations.Count == 0)
        {
            return [fixedFamily];
        }

        // A family is possible when each non-empty prefix list has a prefix of it.
        return new[] { AddressFamily.InterNetwork, AddressFamily.InterNetworkV6 }
            .Where(family => fixedFamily is null || fixedFamily == family)
            .Where(family => Sources.Count == 0 || Sources.Any(prefix => prefix.BaseAddress.AddressFamily == family))
            .Where(family => Destinations.Count == 0 || Destinations.Any(prefix => prefix.BaseAddress.AddressFamily == family))
            .Select(family => (AddressFamily?)family)
            .ToList();
    }

    private static PortRange ParsePort(string text, string ruleName)
    {
        var parts = text.Split('-');
        if (parts.Length is 1 or 2 && parts.All(IsPortNumber))
        {
            var first = int.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture);
            var last = int.Parse(parts[^1], System.Globalization.CultureInfo.InvariantCulture);
            if (first <= last)
            {
                return new PortRange(first, last);
            }
        }

        throw new ArgumentException(
            $"firewall rule {ruleName}: destination port '{Printable(text)}' is not a port (1-65535) or a range 'FIRST-LAST' with FIRST <= LAST");
    }

    private static bool IsPortNumber(string text) =>
        text.Length is > 0 and <= 5 && text.All(char.IsAsciiDigit) && int.Parse(text, System.Globalization.CultureInfo.InvariantCulture) is >= 1 and <= 65535;

    private static IPNetwork ParsePrefix(string text, string ruleName, string what)
    {
        var isPrefix = text.Contains('/', StringComparison.Ordinal);
        if (!isPrefix && IPAddress.TryParse(text, out var address) && (address.AddressFamily == AddressFamily.InterNetwork || address.ScopeId == 0))
        {
            return new IPNetwork(address, address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128);
        }

        // IPNetwork clears host bits silently; "192.0.2.1/24" is more likely a typo for an address than a network, so refuse it.
        if (isPrefix && IPNetwork.TryParse(text, out var network) && network.BaseAddress.Equals(IPAddress.Parse(text[..text.IndexOf('/', StringComparison.Ordinal)])))
        {
            return network;
        }

        throw new ArgumentException(
            $"firewall rule {ruleName}: {what} '{Printable(text)}' is not an address or a CIDR prefix with no host bits set (192.0.2.0/24, 2001:db8::/32)");
    }

    private static string? CheckComment(string? comment, string ruleName)
    {
        if (comment is null)
        {
            return null;
        }

        if (comment.Length > 100 || comment.Any(character => char.IsControl(character) || character is '"' or '\'' or '\\'))
        {
            throw new ArgumentException(
                $"firewall rule {ruleName}: the comment must be at most 100 characters without quotes, backslashes or control characters");
        }

        return comment;
    }

    // Hostile input is echoed in errors only with its control characters made visible.
    private static string Printable(string text) =>
        string.Concat(text.Take(64).Select(character => char.IsControl(character) ? $"\\u{(int)character:x4}" : character.ToString()));
}
