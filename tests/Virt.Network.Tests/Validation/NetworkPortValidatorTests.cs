using Virt.Network.Validation;
using Virt.Networking;
using static Virt.Network.Tests.Validation.NetworkDefinitionValidatorTests;

namespace Virt.Network.Tests.Validation;

public sealed class NetworkPortValidatorTests
{
    private static readonly NatNetworkDefinition Lab = new("lab", new NetworkSubnet("192.0.2.0/24", "192.0.2.1")
    {
        DhcpStart = "192.0.2.100",
        DhcpEnd = "192.0.2.200",
        Reservations = [new DhcpReservation("52:54:00:00:00:99", "192.0.2.99")],
    });

    private static readonly NetworkPortRequest Request = new("lab", "vm:web1", "net0", "tap-web1-0", NetworkPortKind.Tap, "52:54:00:00:00:01") { Ipv4Address = "192.0.2.10", Hostname = "web1" };

    private static readonly NetworkPort Existing = new(new NetworkPortRequest("lab", "ct:db", "eth0", "veth-db", NetworkPortKind.Veth, "52:54:00:00:00:02") { Ipv4Address = "192.0.2.20" }, "vn-lab", 1500, "192.0.2.20/24", "192.0.2.1");

    [Fact]
    public void AValidRequestHasNoProblems()
    {
        Assert.Empty(NetworkPortValidator.Validate(Request, Lab, [Existing]));
        Assert.Empty(NetworkPortValidator.Validate(Request with { Ipv4Address = "192.0.2.99", MacAddress = "52:54:00:00:00:99" }, Lab, [Existing]));
        Assert.Empty(NetworkPortValidator.Validate(Request with { Ipv4Address = "192.0.2.20" }, Lab, [Existing with { Request = Existing.Request with { Owner = "vm:web1", NicId = "net0" } }]));
    }

    [Theory]
    [InlineData("web1")]
    [InlineData("vm:")]
    [InlineData("lxc:web1")]
    [InlineData("vm:web 1")]
    public void BadOwnersAreRefused(string owner) =>
        AssertProblem(NetworkPortValidator.Validate(Request with { Owner = owner }, Lab, []), "Owner");

    [Theory]
    [InlineData("tap-web1-net0-xx")]
    [InlineData("tap/0")]
    [InlineData("tap 0")]
    [InlineData("tap\n0")]
    public void BadHostInterfacesAreRefused(string name) =>
        AssertProblem(NetworkPortValidator.Validate(Request with { HostInterface = name }, Lab, []), "HostInterface");

    [Fact]
    public void AMulticastMacIsRefused() =>
        AssertProblem(NetworkPortValidator.Validate(Request with { MacAddress = "33:33:00:00:00:01" }, Lab, []), "MacAddress", "multicast");

    [Fact]
    public void VlanTagsApplyOnlyOnVlanNetworksWithinTheRange()
    {
        AssertProblem(NetworkPortValidator.Validate(Request with { VlanTag = 10 }, Lab, []), "VlanTag", "vlan network");
        var vlan = new VlanNetworkDefinition("lab");
        Assert.Empty(NetworkPortValidator.Validate(Request with { VlanTag = 4094, Ipv4Address = null }, vlan, []));
        AssertProblem(NetworkPortValidator.Validate(Request with { VlanTag = 4095, Ipv4Address = null }, vlan, []), "VlanTag", "1–4094");
        AssertProblem(NetworkPortValidator.Validate(Request with { VlanTag = 10 }, vlan, []), "Ipv4Address", "no IPv4 subnet");
    }

    [Theory]
    [InlineData("198.51.100.10", "outside")]
    [InlineData("192.0.2.0", "network address")]
    [InlineData("192.0.2.255", "broadcast")]
    [InlineData("192.0.2.1", "gateway")]
    [InlineData("192.0.2.20", "ct:db/eth0")]
    [InlineData("192.0.2.99", "52:54:00:00:00:99")]
    public void FixedAddressesMustBeFreeHostsOfTheSubnet(string address, string reason) =>
        AssertProblem(NetworkPortValidator.Validate(Request with { Ipv4Address = address }, Lab, [Existing]), "Ipv4Address", reason);

    [Fact]
    public void AnInterfaceOrMacAnotherPortUsesIsRefused()
    {
        AssertProblem(NetworkPortValidator.Validate(Request with { HostInterface = "veth-db" }, Lab, [Existing]), "HostInterface", "ct:db/eth0");
        AssertProblem(NetworkPortValidator.Validate(Request with { MacAddress = "52:54:00:00:00:02" }, Lab, [Existing]), "MacAddress", "ct:db/eth0");
    }

    [Fact]
    public void TheNicFirewallIsChecked()
    {
        var problems = NetworkPortValidator.Validate(Request with { Firewall = new NicFirewall { SecurityGroups = ["Web"], AllowedAddresses = ["192.0.2.300"], Rules = [new FirewallRule(FirewallDirection.In, FirewallAction.Accept) { Protocol = FirewallProtocol.Udp, DestinationPorts = ["0"] }] } }, Lab, []);
        Assert.Equal(["Firewall.Rules[0].DestinationPorts[0]", "Firewall.SecurityGroups[0]", "Firewall.AllowedAddresses[0]"], problems.Select(p => p.Field));
    }

    [Fact]
    public void ABadHostnameIsRefused() =>
        AssertProblem(NetworkPortValidator.Validate(Request with { Hostname = "-web" }, Lab, []), "Hostname");
}
