using Virt.Network.Validation;
using Virt.Networking;
using static Virt.Network.Tests.Validation.NetworkDefinitionValidatorTests;

namespace Virt.Network.Tests.Validation;

public sealed class FirewallRuleValidatorTests
{
    private static readonly FirewallRule Tcp = new(FirewallDirection.In, FirewallAction.Accept) { Protocol = FirewallProtocol.Tcp };

    [Fact]
    public void ValidRulesHaveNoProblems()
    {
        Assert.Empty(FirewallRuleValidator.Validate(Tcp with { DestinationPorts = ["22", "8000-8080", "65535"], Sources = ["192.0.2.0/24", "198.51.100.7"], Comment = "ssh and web" }));
        Assert.Empty(FirewallRuleValidator.Validate(new FirewallRule(FirewallDirection.Out, FirewallAction.Drop) { Protocol = FirewallProtocol.Icmpv6, IcmpTypes = ["nd-neighbor-solicit", "echo-request"], Destinations = ["2001:db8::/32"] }));
        Assert.Empty(FirewallRuleValidator.Validate(new SecurityGroup("web_tier-1", [Tcp])));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("65536")]
    [InlineData("200-100")]
    [InlineData("http")]
    [InlineData("-5")]
    [InlineData("1-")]
    [InlineData("")]
    public void BadPortsAreRefused(string port) =>
        AssertProblem(FirewallRuleValidator.Validate(Tcp with { DestinationPorts = ["22", port] }), "Rule.DestinationPorts[1]", "1–65535");

    [Fact]
    public void PortsNeedTcpOrUdp() =>
        AssertProblem(FirewallRuleValidator.Validate(Tcp with { Protocol = FirewallProtocol.Icmp, DestinationPorts = ["22"] }), "Rule.DestinationPorts", "only to Tcp or Udp");

    [Fact]
    public void IcmpTypesNeedAnIcmpProtocolAndAKnownName()
    {
        AssertProblem(FirewallRuleValidator.Validate(Tcp with { IcmpTypes = ["echo-request"] }), "Rule.IcmpTypes", "only to Icmp or Icmpv6");
        AssertProblem(FirewallRuleValidator.Validate(Tcp with { Protocol = FirewallProtocol.Icmp, IcmpTypes = ["nd-neighbor-solicit"] }), "Rule.IcmpTypes[0]", "echo-request");
        AssertProblem(FirewallRuleValidator.Validate(Tcp with { Protocol = FirewallProtocol.Icmpv6, IcmpTypes = ["ping"] }), "Rule.IcmpTypes[0]", "nd-neighbor-solicit");
    }

    [Theory]
    [InlineData("192.0.2.5/24", "'192.0.2.0/24'")]
    [InlineData("192.0.2.300", "not an address")]
    [InlineData("example.com", "not an address")]
    public void BadAddressesAreRefused(string source, string reason) =>
        AssertProblem(FirewallRuleValidator.Validate(Tcp with { Sources = [source] }), "Rule.Sources[0]", reason);

    [Fact]
    public void ARuleMixingFamiliesOrIcmpOfTheOtherFamilyIsRefused()
    {
        AssertProblem(FirewallRuleValidator.Validate(Tcp with { Sources = ["192.0.2.0/24"], Destinations = ["2001:db8::1"] }), "Rule", "mixes IPv4 and IPv6");
        AssertProblem(FirewallRuleValidator.Validate(Tcp with { Protocol = FirewallProtocol.Icmp, Sources = ["2001:db8::1"] }), "Rule.Protocol", "Icmpv6");
    }

    [Theory]
    [InlineData("say \"hi\"")]
    [InlineData("it's")]
    [InlineData("two\nlines")]
    public void CommentsWithQuotesOrNewlinesAreRefused(string comment) =>
        AssertProblem(FirewallRuleValidator.Validate(Tcp with { Comment = comment }), "Rule.Comment", "quote");

    [Fact]
    public void LongCommentsAreRefused() =>
        AssertProblem(FirewallRuleValidator.Validate(Tcp with { Comment = new string('x', 101) }), "Rule.Comment", "at most 100");

    [Theory]
    [InlineData("")]
    [InlineData("Web")]
    [InlineData("1web")]
    [InlineData("web tier")]
    [InlineData("a-name-that-is-longer-than-32-chars")]
    public void BadSecurityGroupNamesAreRefused(string name) =>
        AssertProblem(FirewallRuleValidator.Validate(new SecurityGroup(name, [])), "SecurityGroup.Name");

    [Fact]
    public void NicFirewallsCheckTheirAddressesAndGroupNames()
    {
        var problems = FirewallRuleValidator.Validate(new NicFirewall { SecurityGroups = ["web", "Bad"], AllowedAddresses = ["192.0.2.9", "nope"], DefaultIn = (FirewallAction)7 });
        Assert.Equal(["Firewall.DefaultIn", "Firewall.SecurityGroups[1]", "Firewall.AllowedAddresses[1]"], problems.Select(p => p.Field));
    }
}
