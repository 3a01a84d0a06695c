using System.Globalization;
using System.Net.Sockets;
using Virt.Network.Dhcp;
using Virt.Networking;

namespace Virt.Network.Validation;

/// <summary>
/// Checks firewall rules, network and NIC firewalls and security groups before anything reaches nftables, so that a
/// bad port or ICMP type is reported with its field instead of failing the whole ruleset's transaction.
/// </summary>
internal static class FirewallRuleValidator
{
    /// <summary>The longest comment a rule may carry (kept in the nftables rule's comment).</summary>
    public const int MaxCommentLength = 100;

    /// <summary>The ICMP (IPv4) type names nftables knows.</summary>
    public static IReadOnlySet<string> IcmpTypes { get; } = new HashSet<string>(StringComparer.Ordinal)
    {
        "echo-reply", "destination-unreachable", "source-quench", "redirect", "echo-request", "router-advertisement",
        "router-solicitation", "time-exceeded", "parameter-problem", "timestamp-request", "timestamp-reply", "info-request",
        "info-reply", "address-mask-request", "address-mask-reply",
    };

    /// <summary>The ICMPv6 type names nftables knows.</summary>
    public static IReadOnlySet<string> Icmpv6Types { get; } = new HashSet<string>(StringComparer.Ordinal)
    {
        "destination-unreachable", "packet-too-big", "time-exceeded", "parameter-problem", "echo-request", "echo-reply",
        "mld-listener-query", "mld-listener-report", "mld-listener-done", "mld-listener-reduction", "nd-router-solicit",
        "nd-router-advert", "nd-neighbor-solicit", "nd-neighbor-advert", "nd-redirect", "router-renumbering",
        "ind-neighbor-solicit", "ind-neighbor-advert", "mld2-listener-report",
    };

    /// <summary>Every problem of one rule; fields are prefixed with <paramref name="field"/> (e.g. <c>Firewall.Rules[2]</c>).</summary>
    public static IReadOnlyList<NetworkProblem> Validate(FirewallRule rule, string field = "Rule")
    {
        var problems = new ProblemList();
        AddRuleProblems(problems, field, rule);
        return problems;
    }

    /// <summary>Every problem of a network's firewall.</summary>
    public static IReadOnlyList<NetworkProblem> Validate(NetworkFirewall firewall, string field = "Firewall")
    {
        var problems = new ProblemList();
        AddFirewallProblems(problems, field, firewall);
        return problems;
    }

    /// <summary>Every problem of a security group: its name and its rules.</summary>
    public static IReadOnlyList<NetworkProblem> Validate(SecurityGroup group, string field = "SecurityGroup")
    {
        ArgumentNullException.ThrowIfNull(group);
        var problems = new ProblemList();
        problems.AddIfAny(field + ".Name", NameRules.SecurityGroupName(field + ".Name", group.Name));
        AddRulesProblems(problems, field + ".Rules", group.Rules);
        return problems;
    }

    /// <summary>Every problem of a NIC's firewall: its rules, defaults, allowed addresses and security group names (their syntax; whether they exist is the manager's check).</summary>
    public static IReadOnlyList<NetworkProblem> Validate(NicFirewall firewall, string field = "Firewall")
    {
        var problems = new ProblemList();
        AddNicFirewallProblems(problems, field, firewall);
        return problems;
    }

    internal static void AddFirewallProblems(ProblemList problems, string field, NetworkFirewall firewall)
    {
        AddActionProblem(problems, field + ".DefaultIn", firewall.DefaultIn);
        AddActionProblem(problems, field + ".DefaultOut", firewall.DefaultOut);
        AddRulesProblems(problems, field + ".Rules", firewall.Rules);
    }

    internal static void AddNicFirewallProblems(ProblemList problems, string field, NicFirewall firewall)
    {
        if (firewall.DefaultIn is { } defaultIn)
        {
            AddActionProblem(problems, field + ".DefaultIn", defaultIn);
        }

        if (firewall.DefaultOut is { } defaultOut)
        {
            AddActionProblem(problems, field + ".DefaultOut", defaultOut);
        }

        AddRulesProblems(problems, field + ".Rules", firewall.Rules);
        for (var i = 0; i < firewall.SecurityGroups.Count; i++)
        {
            var name = $"{field}.SecurityGroups[{i}]";
            problems.AddIfAny(name, NameRules.SecurityGroupName(name, firewall.SecurityGroups[i]));
        }

        for (var i = 0; i < firewall.AllowedAddresses.Count; i++)
        {
            AddPrefixProblem(problems, $"{field}.AllowedAddresses[{i}]", firewall.AllowedAddresses[i]);
        }
    }

    private static void AddRulesProblems(ProblemList problems, string field, IReadOnlyList<FirewallRule>? rules)
    {
        if (rules is null)
        {
            problems.Add(field, $"{field} is null: give an empty list for no rules");
            return;
        }

        for (var i = 0; i < rules.Count; i++)
        {
            AddRuleProblems(problems, $"{field}[{i}]", rules[i]);
        }
    }

    private static void AddRuleProblems(ProblemList problems, string field, FirewallRule? rule)
    {
        if (rule is null)
        {
            problems.Add(field, $"{field} is null: remove it or give a rule");
            return;
        }

        if (!Enum.IsDefined(rule.Direction))
        {
            problems.Add(field + ".Direction", $"{field}.Direction '{(int)rule.Direction}' is not a direction: use In or Out");
        }

        AddActionProblem(problems, field + ".Action", rule.Action);
        if (!Enum.IsDefined(rule.Protocol))
        {
            problems.Add(field + ".Protocol", $"{field}.Protocol '{(int)rule.Protocol}' is not a protocol: use Any, Tcp, Udp, Icmp or Icmpv6");
        }

        AddPortProblems(problems, field, rule);
        AddIcmpProblems(problems, field, rule);
        var families = new HashSet<AddressFamily>();
        for (var i = 0; i < rule.Sources.Count; i++)
        {
            families.UnionWith(AddPrefixProblem(problems, $"{field}.Sources[{i}]", rule.Sources[i]));
        }

        for (var i = 0; i < rule.Destinations.Count; i++)
        {
            families.UnionWith(AddPrefixProblem(problems, $"{field}.Destinations[{i}]", rule.Destinations[i]));
        }

        AddFamilyProblems(problems, field, rule, families);
        AddCommentProblem(problems, field + ".Comment", rule.Comment);
    }

    private static void AddPortProblems(ProblemList problems, string field, FirewallRule rule)
    {
        if (rule.DestinationPorts.Count > 0 && rule.Protocol is not (FirewallProtocol.Tcp or FirewallProtocol.Udp))
        {
            problems.Add(field + ".DestinationPorts", $"{field}.DestinationPorts [{string.Join(", ", rule.DestinationPorts)}] is set on a {rule.Protocol} rule: ports apply only to Tcp or Udp; set Protocol or remove the ports");
        }

        for (var i = 0; i < rule.DestinationPorts.Count; i++)
        {
            var name = $"{field}.DestinationPorts[{i}]";
            var text = rule.DestinationPorts[i];
            var dash = text?.IndexOf('-', StringComparison.Ordinal) ?? -1;
            var valid = text is not null && (dash < 0
                ? IsPort(text)
                : IsPort(text[..dash]) && IsPort(text[(dash + 1)..]) && Port(text[..dash]) <= Port(text[(dash + 1)..]));
            if (!valid)
            {
                problems.Add(name, $"{name} '{NameRules.Printable(text)}' is not a port or range: write a port 1–65535 ('443') or a range 'LOW-HIGH' with LOW <= HIGH ('8000-8080')");
            }
        }
    }

    private static void AddIcmpProblems(ProblemList problems, string field, FirewallRule rule)
    {
        if (rule.IcmpTypes.Count == 0)
        {
            return;
        }

        var known = rule.Protocol switch
        {
            FirewallProtocol.Icmp => IcmpTypes,
            FirewallProtocol.Icmpv6 => Icmpv6Types,
            _ => null,
        };
        if (known is null)
        {
            problems.Add(field + ".IcmpTypes", $"{field}.IcmpTypes [{string.Join(", ", rule.IcmpTypes)}] is set on a {rule.Protocol} rule: ICMP types apply only to Icmp or Icmpv6; set Protocol or remove the types");
            return;
        }

        for (var i = 0; i < rule.IcmpTypes.Count; i++)
        {
            var name = $"{field}.IcmpTypes[{i}]";
            if (rule.IcmpTypes[i] is not { } type || !known.Contains(type))
            {
                problems.Add(name, $"{name} '{NameRules.Printable(rule.IcmpTypes[i])}' is not an {rule.Protocol} type nftables knows: use one of {string.Join(", ", known.Order(StringComparer.Ordinal))}");
            }
        }
    }

    private static void AddFamilyProblems(ProblemList problems, string field, FirewallRule rule, HashSet<AddressFamily> families)
    {
        if (families.Count > 1)
        {
            problems.Add(field, $"{field} mixes IPv4 and IPv6 in Sources and Destinations, which no packet can match: split it into one rule per family");
        }
        else if (rule.Protocol == FirewallProtocol.Icmp && families.Contains(AddressFamily.InterNetworkV6))
        {
            problems.Add(field + ".Protocol", $"{field}.Protocol Icmp is IPv4 but the rule's addresses are IPv6: use Icmpv6");
        }
        else if (rule.Protocol == FirewallProtocol.Icmpv6 && families.Contains(AddressFamily.InterNetwork))
        {
            problems.Add(field + ".Protocol", $"{field}.Protocol Icmpv6 is IPv6 but the rule's addresses are IPv4: use Icmp");
        }
    }

    private static void AddCommentProblem(ProblemList problems, string field, string? comment)
    {
        if (comment is null)
        {
            return;
        }

        if (comment.Length > MaxCommentLength)
        {
            problems.Add(field, $"{field} is {comment.Length} characters long: shorten it to at most {MaxCommentLength}");
        }

        if (comment.Any(c => c is '"' or '\'' || char.IsControl(c)))
        {
            problems.Add(field, $"{field} '{NameRules.Printable(comment)}' contains a quote, a newline or a control character: remove them (nftables keeps it as a quoted string)");
        }
    }

    /// <summary>Adds a problem unless the text is an address or a CIDR; returns the family it has, if it parsed.</summary>
    private static IEnumerable<AddressFamily> AddPrefixProblem(ProblemList problems, string field, string? text)
    {
        var parsed = Ipam.ParseAddressOrCidr(text);
        if (parsed.Subnet is { } subnet)
        {
            return [subnet.BaseAddress.AddressFamily];
        }

        problems.Add(field, parsed.Suggested is { } suggested
            ? $"{field} '{text}' has host bits set after the prefix: write the network, '{suggested}'"
            : $"{field} '{NameRules.Printable(text)}' is not an address or CIDR: write e.g. '192.0.2.10', '198.51.100.0/24' or '2001:db8::/64'");
        return [];
    }

    private static void AddActionProblem(ProblemList problems, string field, FirewallAction action)
    {
        if (!Enum.IsDefined(action))
        {
            problems.Add(field, $"{field} '{(int)action}' is not an action: use Accept, Drop or Reject");
        }
    }

    private static bool IsPort(string text) => Port(text) is >= 1 and <= 65535;

    private static int Port(string text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var port) ? port : -1;
}
