using Virt.Network.Validation;
using Virt.Networking;

namespace Virt.Network.Tests.Validation;

public sealed class NetworkDefinitionValidatorTests
{
    private static readonly NetworkSubnet LabSubnet = new("192.0.2.0/24", "192.0.2.1")
    {
        DhcpStart = "192.0.2.100",
        DhcpEnd = "192.0.2.200",
        Reservations = [new DhcpReservation("52:54:00:00:00:01", "192.0.2.10", "web")],
    };

    private static readonly NatNetworkDefinition Lab = new("lab", LabSubnet) { Uplink = "eth0", DnsDomain = "lab.internal" };

    [Fact]
    public void AValidNetworkHasNoProblems()
    {
        Assert.Empty(NetworkDefinitionValidator.Validate(Lab, []));
        Assert.Empty(NetworkDefinitionValidator.Validate(new VxlanNetworkDefinition("ovl", 42, "198.51.100.1") { Peers = ["198.51.100.2"], Ipv4 = new NetworkSubnet("203.0.113.0/24", "203.0.113.1") }, [Lab], underlayMtu: 1500));
        Assert.Empty(NetworkDefinitionValidator.Validate(new VlanNetworkDefinition("vl") { TrunkVlans = [1, 4094], DefaultVlan = 10 }, [Lab]));
    }

    [Theory]
    [InlineData("a-name-of-16-byt")]
    [InlineData("br/0")]
    [InlineData("br 0")]
    [InlineData("br\n0")]
    [InlineData("br\t0")]
    [InlineData("br:0")]
    [InlineData(".")]
    [InlineData("..")]
    [InlineData("")]
    [InlineData("brücke-ümlaut1")] // 14 characters, 16 bytes
    public void BadInterfaceNamesAreRefusedNamingTheField(string name)
    {
        AssertProblem(NetworkDefinitionValidator.Validate(Lab with { BridgeName = name }, []), "BridgeName");
        AssertProblem(NetworkDefinitionValidator.Validate(Lab with { Uplink = name }, []), "Uplink");
        AssertProblem(NetworkDefinitionValidator.Validate(new VxlanNetworkDefinition("ovl", 1, "198.51.100.1") { UnderlayInterface = name }, []), "UnderlayInterface");
    }

    [Fact]
    public void AFifteenByteInterfaceNameIsAccepted() =>
        Assert.Empty(NetworkDefinitionValidator.Validate(Lab with { BridgeName = "abcdefghijklmno" }, []));

    [Theory]
    [InlineData("")]
    [InlineData("Lab")]
    [InlineData("1lab")]
    [InlineData("twelve-chars")]
    [InlineData("la_b")]
    public void BadNetworkNamesAreRefused(string name) =>
        AssertProblem(NetworkDefinitionValidator.Validate(Lab with { Name = name }, []), "Name");

    [Theory]
    [InlineData(0)]
    [InlineData(4095)]
    [InlineData(-1)]
    public void VlansOutsideTheRangeAreRefused(int vlan)
    {
        AssertProblem(NetworkDefinitionValidator.Validate(new VlanNetworkDefinition("vl") { DefaultVlan = vlan }, []), "DefaultVlan");
        AssertProblem(NetworkDefinitionValidator.Validate(new VlanNetworkDefinition("vl") { TrunkVlans = [10, vlan] }, []), "TrunkVlans[1]");
    }

    [Fact]
    public void DuplicateTrunkVlansAreRefused() =>
        AssertProblem(NetworkDefinitionValidator.Validate(new VlanNetworkDefinition("vl") { TrunkVlans = [10, 20, 10] }, []), "TrunkVlans[2]", "repeats TrunkVlans[0]");

    [Theory]
    [InlineData(0)]
    [InlineData(16_777_216)]
    [InlineData(-5)]
    public void VnisOutsideTheRangeAreRefused(int vni) =>
        AssertProblem(NetworkDefinitionValidator.Validate(new VxlanNetworkDefinition("ovl", vni, "198.51.100.1"), []), "Vni", vni.ToString(System.Globalization.CultureInfo.InvariantCulture));

    [Fact]
    public void TheLargestVniIsAccepted() =>
        Assert.Empty(NetworkDefinitionValidator.Validate(new VxlanNetworkDefinition("ovl", 16_777_215, "198.51.100.1"), []));

    [Theory]
    [InlineData(0)]
    [InlineData(65536)]
    public void VxlanPortsOutsideTheRangeAreRefused(int port) =>
        AssertProblem(NetworkDefinitionValidator.Validate(new VxlanNetworkDefinition("ovl", 1, "198.51.100.1") { Port = port }, []), "Port");

    [Fact]
    public void PeersMustBeAddressesOfTheLocalFamilyOtherThanItAndDistinct()
    {
        var problems = NetworkDefinitionValidator.Validate(
            new VxlanNetworkDefinition("ovl", 1, "198.51.100.1") { Peers = ["198.51.100.2", "not-an-ip", "2001:db8::2", "198.51.100.1", "198.51.100.2"] },
            []);
        Assert.Equal(["Peers[1]", "Peers[2]", "Peers[3]", "Peers[4]"], problems.Select(p => p.Field));
        AssertProblem(NetworkDefinitionValidator.Validate(new VxlanNetworkDefinition("ovl", 1, "198.51.100.300"), []), "LocalAddress");
    }

    [Theory]
    [InlineData(67)]
    [InlineData(65536)]
    public void MtusOutsideTheRangeAreRefused(int mtu) =>
        AssertProblem(NetworkDefinitionValidator.Validate(Lab with { Mtu = mtu }, []), "Mtu");

    [Fact]
    public void AVxlanMtuThatLeavesNoRoomForTheHeaderIsRefusedWithTheLargestThatFits()
    {
        var ipv4 = new VxlanNetworkDefinition("ovl", 1, "198.51.100.1") { Mtu = 1500 };
        AssertProblem(NetworkDefinitionValidator.Validate(ipv4, [], underlayMtu: 1500), "Mtu", "at most 1450");
        AssertProblem(NetworkDefinitionValidator.ValidateVxlanMtu(ipv4 with { LocalAddress = "2001:db8::1" }, 1500), "Mtu", "at most 1430");
        Assert.Empty(NetworkDefinitionValidator.ValidateVxlanMtu(ipv4 with { Mtu = 1450 }, 1500));
        AssertProblem(NetworkDefinitionValidator.ValidateVxlanMtu(ipv4 with { Mtu = null }, 100), "Mtu", "at least 118");
    }

    [Theory]
    [InlineData("192.0.2.128/25")]
    [InlineData("192.0.0.0/16")]
    [InlineData("192.0.2.0/24")]
    public void SubnetsOverlappingAnotherNetworkInEitherDirectionAreRefused(string cidr)
    {
        var gateway = cidr.StartsWith("192.0.2.128", StringComparison.Ordinal) ? "192.0.2.129" : "192.0.2.1";
        var other = new RoutedNetworkDefinition("other", new NetworkSubnet(cidr, gateway));
        AssertProblem(NetworkDefinitionValidator.Validate(Lab, [other]), "Ipv4.Cidr", "overlaps network 'other'");
    }

    [Fact]
    public void TheDefinitionBeingReplacedIsNotAConflict() =>
        Assert.Empty(NetworkDefinitionValidator.Validate(Lab with { Mtu = 9000 }, [Lab]));

    [Fact]
    public void TheSameBridgeOrTheSameVniOnThePortIsAConflict()
    {
        AssertProblem(NetworkDefinitionValidator.Validate(new IsolatedNetworkDefinition("iso") { BridgeName = "vn-lab" }, [Lab]), "BridgeName", "network 'lab'");
        var first = new VxlanNetworkDefinition("a", 7, "198.51.100.1");
        AssertProblem(NetworkDefinitionValidator.Validate(new VxlanNetworkDefinition("b", 7, "198.51.100.1"), [first]), "Vni", "network 'a'");
        Assert.Empty(NetworkDefinitionValidator.Validate(new VxlanNetworkDefinition("b", 7, "198.51.100.1") { Port = 4790 }, [first]));
    }

    [Fact]
    public void ACidrWithHostBitsSetIsRefusedWithTheNetworkAddressAsTheFix() =>
        AssertProblem(NetworkDefinitionValidator.Validate(Lab with { Ipv4 = LabSubnet with { Cidr = "192.0.2.5/24" } }, []), "Ipv4.Cidr", "'192.0.2.0/24'");

    [Theory]
    [InlineData("198.51.100.1", "outside")]
    [InlineData("192.0.2.0", "network address")]
    [InlineData("192.0.2.255", "broadcast")]
    [InlineData("gateway", "not an IP address")]
    [InlineData("2001:db8::1", "outside")]
    public void AGatewayOutsideItsSubnetOrNotAHostIsRefused(string gateway, string reason) =>
        AssertProblem(NetworkDefinitionValidator.Validate(Lab with { Ipv4 = LabSubnet with { Gateway = gateway } }, []), "Ipv4.Gateway", reason);

    [Fact]
    public void AnIpv6CidrWhereIpv4IsExpectedIsRefused() =>
        AssertProblem(NetworkDefinitionValidator.Validate(Lab with { Ipv4 = new NetworkSubnet("2001:db8::/64", "2001:db8::1") }, []), "Ipv4.Cidr", "not IPv4");

    [Fact]
    public void DhcpRangeProblemsAreNamed()
    {
        AssertProblem(NetworkDefinitionValidator.Validate(Lab with { Ipv4 = LabSubnet with { DhcpEnd = null } }, []), "Ipv4.DhcpEnd", "give both ends");
        AssertProblem(NetworkDefinitionValidator.Validate(Lab with { Ipv4 = LabSubnet with { DhcpStart = "192.0.2.201" } }, []), "Ipv4.DhcpStart", "swap");
        AssertProblem(NetworkDefinitionValidator.Validate(Lab with { Ipv4 = LabSubnet with { DhcpStart = "192.0.2.1" } }, []), "Ipv4.DhcpStart", "contains the gateway");
        AssertProblem(NetworkDefinitionValidator.Validate(Lab with { Ipv4 = LabSubnet with { DhcpEnd = "192.0.3.10" } }, []), "Ipv4.DhcpEnd", "outside");
    }

    [Fact]
    public void AReservationOutsideTheSubnetIsRefused() =>
        AssertProblem(NetworkDefinitionValidator.Validate(Lab with { Ipv4 = LabSubnet with { Reservations = [new DhcpReservation("52:54:00:00:00:01", "198.51.100.10")] } }, []), "Ipv4.Reservations[0].Address", "outside the subnet 192.0.2.0/24");

    [Fact]
    public void DuplicateReservationsAreRefused()
    {
        var problems = NetworkDefinitionValidator.Validate(Lab with
        {
            Ipv4 = LabSubnet with
            {
                Reservations =
                [
                    new DhcpReservation("52:54:00:00:00:01", "192.0.2.10", "web"),
                    new DhcpReservation("52:54:00:00:00:01", "192.0.2.11", "db"),
                    new DhcpReservation("52:54:00:00:00:03", "192.0.2.10", "web"),
                ],
            },
        }, []);
        Assert.Equal(["Ipv4.Reservations[1].MacAddress", "Ipv4.Reservations[2].Address", "Ipv4.Reservations[2].Hostname"], problems.Select(p => p.Field));
    }

    [Theory]
    [InlineData("01:00:5e:00:00:01", "multicast")]
    [InlineData("00:00:00:00:00:00", "all-zero")]
    [InlineData("52-54-00-00-00-01", "not a MAC")]
    public void ReservationsNeedAUnicastMac(string mac, string reason) =>
        AssertProblem(NetworkDefinitionValidator.Validate(Lab with { Ipv4 = LabSubnet with { Reservations = [new DhcpReservation(mac, "192.0.2.10")] } }, []), "Ipv4.Reservations[0].MacAddress", reason);

    [Fact]
    public void ReservationsOnTheGatewayOrWithABadHostnameAreRefused()
    {
        AssertProblem(NetworkDefinitionValidator.Validate(Lab with { Ipv4 = LabSubnet with { Reservations = [new DhcpReservation("52:54:00:00:00:01", "192.0.2.1")] } }, []), "Ipv4.Reservations[0].Address", "gateway");
        AssertProblem(NetworkDefinitionValidator.Validate(Lab with { Ipv4 = LabSubnet with { Reservations = [new DhcpReservation("52:54:00:00:00:01", "192.0.2.10", "web.lab")] } }, []), "Ipv4.Reservations[0].Hostname");
    }

    [Fact]
    public void ABadDnsDomainIsRefused() =>
        AssertProblem(NetworkDefinitionValidator.Validate(Lab with { DnsDomain = "lab..internal" }, []), "DnsDomain");

    [Fact]
    public void AdoptingABridgeNeedsItsName() =>
        AssertProblem(NetworkDefinitionValidator.Validate(new IsolatedNetworkDefinition("iso") { AdoptExistingBridge = true }, []), "BridgeName", "AdoptExistingBridge");

    [Fact]
    public void TheNetworkFirewallsRulesAreChecked() =>
        AssertProblem(NetworkDefinitionValidator.Validate(Lab with { Firewall = new NetworkFirewall { Rules = [new FirewallRule(FirewallDirection.In, FirewallAction.Drop) { DestinationPorts = ["22"] }] } }, []), "Firewall.Rules[0].DestinationPorts");

    [Fact]
    public void RoutesAreChecked()
    {
        var routed = new RoutedNetworkDefinition("rt", LabSubnet) { Routes = [new NetworkRoute("203.0.113.7/24"), new NetworkRoute("203.0.113.0/24", "198.51.100.1")] };
        var problems = NetworkDefinitionValidator.Validate(routed, []);
        Assert.Equal(["Routes[0].Destination", "Routes[1].Via"], problems.Select(p => p.Field));
        Assert.Contains("'203.0.113.0/24'", problems[0].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EveryProblemIsReportedAtOnce()
    {
        var problems = NetworkDefinitionValidator.Validate(
            new VxlanNetworkDefinition("Bad Name", 0, "x") { BridgeName = "br/0", Port = 0, Mtu = 10, Ipv4 = new NetworkSubnet("203.0.113.0/24", "198.51.100.1") },
            []);
        Assert.Equal(["Name", "BridgeName", "Mtu", "Vni", "Port", "LocalAddress", "Ipv4.Gateway"], problems.Select(p => p.Field));
        var exception = NetworkProblem.ToException("network 'Bad Name'", problems);
        Assert.Equal(VirtErrorKind.InvalidInput, exception!.ErrorKind);
        Assert.Contains("br/0", exception.Message, StringComparison.Ordinal);
    }

    /// <summary>Asserts that one of the problems is of <paramref name="field"/> and that its message names the field (and the text given).</summary>
    internal static void AssertProblem(IReadOnlyList<NetworkProblem> problems, string field, string? messagePart = null)
    {
        var problem = Assert.Single(problems, p => p.Field == field);
        Assert.StartsWith(field.Split('.')[0], problem.Message, StringComparison.Ordinal);
        Assert.Contains(field, problem.Message, StringComparison.Ordinal);
        if (messagePart is not null)
        {
            Assert.Contains(messagePart, problem.Message, StringComparison.Ordinal);
        }
    }
}
