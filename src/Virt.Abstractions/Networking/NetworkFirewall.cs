namespace Virt.Networking;

/// <summary>Which way traffic goes, seen from the guest or container.</summary>
public enum FirewallDirection
{
    /// <summary>To the NIC (the guest receives it).</summary>
    In,

    /// <summary>From the NIC (the guest sends it).</summary>
    Out,
}

/// <summary>What a matching rule or a default policy does.</summary>
public enum FirewallAction
{
    /// <summary>Let it through.</summary>
    Accept,

    /// <summary>Drop it silently.</summary>
    Drop,

    /// <summary>Drop it and tell the sender (TCP reset, ICMP unreachable).</summary>
    Reject,
}

/// <summary>The protocol a rule matches.</summary>
public enum FirewallProtocol
{
    /// <summary>Any protocol.</summary>
    Any,

    /// <summary>TCP (ports apply).</summary>
    Tcp,

    /// <summary>UDP (ports apply).</summary>
    Udp,

    /// <summary>ICMP for IPv4 (ICMP types apply).</summary>
    Icmp,

    /// <summary>ICMPv6 (ICMP types apply).</summary>
    Icmpv6,
}

/// <summary>One firewall rule; rules are evaluated in order and the first match decides.</summary>
/// <param name="Direction">Which way it applies.</param>
/// <param name="Action">What it does.</param>
public sealed record FirewallRule(FirewallDirection Direction, FirewallAction Action)
{
    /// <summary>The protocol. Default any.</summary>
    public FirewallProtocol Protocol { get; init; } = FirewallProtocol.Any;

    /// <summary>Destination ports for TCP/UDP: single ports or ranges <c>"1000-2000"</c>; empty for all.</summary>
    public IReadOnlyList<string> DestinationPorts { get; init; } = [];

    /// <summary>Source prefixes (CIDR or single addresses); empty for any.</summary>
    public IReadOnlyList<string> Sources { get; init; } = [];

    /// <summary>Destination prefixes; empty for any.</summary>
    public IReadOnlyList<string> Destinations { get; init; } = [];

    /// <summary>ICMP or ICMPv6 type names as nftables spells them (<c>echo-request</c>); empty for all.</summary>
    public IReadOnlyList<string> IcmpTypes { get; init; } = [];

    /// <summary>A free-text note (kept in the rule's nftables comment, at most 100 characters, no quotes or newlines).</summary>
    public string? Comment { get; init; }
}

/// <summary>A named, reusable set of rules that NICs refer to (a security group).</summary>
/// <param name="Name">1–32 characters of <c>a-z 0-9 _ -</c>, starting with a letter.</param>
/// <param name="Rules">Its rules, in order.</param>
public sealed record SecurityGroup(string Name, IReadOnlyList<FirewallRule> Rules);

/// <summary>Firewall settings of a whole network: default policies and rules applied to each of its ports.</summary>
public sealed record NetworkFirewall
{
    /// <summary>What happens to traffic to a port that no rule matched. Default accept.</summary>
    public FirewallAction DefaultIn { get; init; } = FirewallAction.Accept;

    /// <summary>What happens to traffic from a port that no rule matched. Default accept.</summary>
    public FirewallAction DefaultOut { get; init; } = FirewallAction.Accept;

    /// <summary>Rules for every port, evaluated after the port's own rules.</summary>
    public IReadOnlyList<FirewallRule> Rules { get; init; } = [];
}

/// <summary>Firewall settings of one NIC.</summary>
public sealed record NicFirewall
{
    /// <summary>Security groups whose rules apply, in order, after <see cref="Rules"/>.</summary>
    public IReadOnlyList<string> SecurityGroups { get; init; } = [];

    /// <summary>The NIC's own rules, evaluated first.</summary>
    public IReadOnlyList<FirewallRule> Rules { get; init; } = [];

    /// <summary>The NIC's default for incoming traffic; <see langword="null"/> takes the network's.</summary>
    public FirewallAction? DefaultIn { get; init; }

    /// <summary>The NIC's default for outgoing traffic; <see langword="null"/> takes the network's.</summary>
    public FirewallAction? DefaultOut { get; init; }

    /// <summary>
    /// Drop what the NIC sends with another source MAC, or another source IP than its assigned addresses (its DHCP
    /// reservation and <see cref="AllowedAddresses"/>). Default true.
    /// </summary>
    public bool AntiSpoofing { get; init; } = true;

    /// <summary>More source addresses the NIC may use (a VIP, a second address).</summary>
    public IReadOnlyList<string> AllowedAddresses { get; init; } = [];
}

/// <summary>A rule's hit counter, read back from the kernel.</summary>
/// <param name="Scope">Where the rule sits: <c>network:NAME</c>, <c>port:OWNER/NIC</c> or <c>group:NAME</c> via a port.</param>
/// <param name="Handle">What it is: a rule index, <c>default-in</c>, <c>default-out</c> or <c>anti-spoofing</c>.</param>
/// <param name="Packets">Packets matched.</param>
/// <param name="Bytes">Bytes matched.</param>
public sealed record FirewallRuleCounter(string Scope, string Handle, long Packets, long Bytes);
