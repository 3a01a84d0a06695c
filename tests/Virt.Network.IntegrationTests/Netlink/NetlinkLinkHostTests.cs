using System.Net;
using Virt.Network.Host;
using Virt.Network.IntegrationTests.Infrastructure;
using Virt.Network.Netlink;
using Virt.Tests;

namespace Virt.Network.IntegrationTests.Netlink;

/// <summary>NetlinkLinkHost against the real kernel, in namespaces the tests make; what it reads is checked against <c>ip -j</c>.</summary>
public sealed class NetlinkLinkHostTests
{
    private const string Zeros = "00:00:00:00:00:00";

    [Fact]
    public async Task CreatesLinksAddressesRoutesAndFdbEntriesAndReadsBackExactlyWhatIpSees()
    {
        var ct = TestContext.Current.CancellationToken;
        using var host = TestNamespace.Create("nl-read");
        using var peer = TestNamespace.Create("nl-peer");
        var links = new NetlinkLinkHost(host.Path);

        await links.ApplyAsync(
        [
            new CreateBridge("vn-lab", "virt:network:lab", 1450, VlanFiltering: false),
            new CreateVeth("vp-a", "vp-a-peer", "virt:port:vm-a/net0", null, PeerNamespace: peer.Path),
            new SetMaster("vp-a", "vn-lab"),
            new CreateVeth("ul0", "ul0-peer", "virt:network:underlay", 1500),
            new AddAddress("ul0", IPNetwork.Parse("198.51.100.0/24"), IPAddress.Parse("198.51.100.1")),
            new SetLinkUp("ul0"),
            new SetLinkUp("ul0-peer"),
            new CreateVxlan("vx-lab", "virt:network:lab", 4242, IPAddress.Parse("198.51.100.1"), 4789, "ul0", 1400),
            new SetMaster("vx-lab", "vn-lab"),
            new AddFdbEntry("vx-lab", Zeros, IPAddress.Parse("198.51.100.2")),
            new AddFdbEntry("vx-lab", Zeros, IPAddress.Parse("198.51.100.3")),
            new SetLinkUp("vn-lab"),
            new SetLinkUp("vp-a"),
            new SetLinkUp("vx-lab"),
            new AddAddress("vn-lab", IPNetwork.Parse("192.0.2.0/24"), IPAddress.Parse("192.0.2.1")),
            new AddAddress("vn-lab", IPNetwork.Parse("2001:db8:1::/64"), IPAddress.Parse("2001:db8:1::1")),
            new AddRoute(IPNetwork.Parse("203.0.113.0/24"), IPAddress.Parse("198.51.100.2"), "ul0"),
            new AddRoute(IPNetwork.Parse("2001:db8:2::/64"), null, "vn-lab"),
            new SetMtu("vp-a", 1400),
            new SetAlias("ul0-peer", "virt:network:underlay-peer"),
        ],
        ct);

        var state = await links.ReadAsync(ct);

        Assert.Equal(
            IpJson.Links(host).Order(),
            state.Links.Select(link => IpJson.Describe(link.Name, link.Index, link.Kind, link.MacAddress, link.Mtu, link.Up, link.Master, link.Alias)).Order());
        Assert.Equal(IpJson.Addresses(host).Order(), state.Addresses.Where(address => !address.Address.IsIPv6LinkLocal).Select(address => $"{address.Link} {address.Address}/{address.PrefixLength}").Order());
        Assert.Equal(IpJson.Routes(host).Order(), state.Routes.Where(route => !route.Destination.BaseAddress.IsIPv6LinkLocal).Select(route => IpJson.Route(route.Destination.ToString(), route.Gateway?.ToString(), route.Link)).Order());

        var bridge = state.Link("vn-lab")!;
        Assert.Equal(("bridge", 1400, true, "virt:network:lab"), (bridge.Kind, bridge.Mtu, bridge.Up, bridge.Alias)); // a bridge takes its smallest port's MTU
        Assert.False(bridge.VlanFiltering);
        Assert.Equal(("vn-lab", 1400, "virt:port:vm-a/net0"), (state.Link("vp-a")!.Master, state.Link("vp-a")!.Mtu, state.Link("vp-a")!.Alias));
        Assert.Equal("virt:network:underlay-peer", state.Link("ul0-peer")!.Alias);
        Assert.Equal(new VxlanState(4242, IPAddress.Parse("198.51.100.1"), 4789, false, state.Link("ul0")!.Index), state.Link("vx-lab")!.Vxlan);
        Assert.Equal(
            ["vx-lab 00:00:00:00:00:00 198.51.100.2", "vx-lab 00:00:00:00:00:00 198.51.100.3"],
            state.Fdb.Select(entry => $"{entry.Device} {entry.MacAddress} {entry.Destination}").Order());
        Assert.Contains(new AddressState("vn-lab", IPAddress.Parse("2001:db8:1::1"), 64), state.Addresses);
        Assert.Contains(new RouteState(IPNetwork.Parse("203.0.113.0/24"), IPAddress.Parse("198.51.100.2"), "ul0"), state.Routes);
        Assert.Contains(new RouteState(IPNetwork.Parse("2001:db8:2::/64"), null, "vn-lab"), state.Routes);
        Assert.Contains("vp-a-peer", peer.Exec("ip", "-o", "link", "show"), StringComparison.Ordinal);

        var inventory = Virt.Network.Manager.HostInventory.From(state);
        Assert.Equal(["vp-a", "vx-lab"], inventory.Bridges.Single(b => b.Name == "vn-lab").Ports.Order());
        Assert.Contains(new Virt.Networking.HostAddress("vn-lab", "192.0.2.1/24"), inventory.Addresses);

        await links.ApplyAsync(
        [
            new DeleteRoute(IPNetwork.Parse("203.0.113.0/24"), IPAddress.Parse("198.51.100.2"), "ul0"),
            new DeleteFdbEntry("vx-lab", Zeros, IPAddress.Parse("198.51.100.3")),
            new DeleteAddress("vn-lab", IPNetwork.Parse("2001:db8:1::/64"), IPAddress.Parse("2001:db8:1::1")),
            new SetMaster("vp-a", null),
            new DeleteLink("vx-lab"),
            new DeleteLink("vp-a"),
            new DeleteLink("vn-lab"),
        ],
        ct);

        var after = await links.ReadAsync(ct);
        Assert.Equal(["lo", "ul0", "ul0-peer"], after.Links.Select(link => link.Name).Order());
        Assert.DoesNotContain(after.Routes, route => route.Destination == IPNetwork.Parse("203.0.113.0/24"));
        Assert.Empty(after.Fdb);
        Assert.DoesNotContain("vp-a-peer", peer.Exec("ip", "-o", "link", "show"), StringComparison.Ordinal);
        AssertNothingInRootNamespace("vn-lab", "vp-a", "ul0", "vx-lab");
    }

    [Fact]
    public async Task ADuplicateLinkIsAConflictNamingTheLinkAndTheKernelsWords()
    {
        var ct = TestContext.Current.CancellationToken;
        using var host = TestNamespace.Create("nl-dup");
        var links = new NetlinkLinkHost(host.Path);

        var error = await Assert.ThrowsAsync<NetlinkOperationException>(() => links.ApplyAsync(
            [new CreateBridge("vn-dup", "virt:network:dup", null, false), new SetLinkUp("vn-dup"), new CreateBridge("vn-dup", "virt:network:dup", null, false), new SetLinkUp("lo", false)],
            ct));

        Assert.Equal((2, 17, Virt.VirtErrorKind.Conflict), (error.Index, error.Errno, error.ErrorKind));
        Assert.StartsWith("RTM_NEWLINK link vn-dup (bridge, mtu default, vlan_filtering 0, alias 'virt:network:dup') failed: File exists", error.Message, StringComparison.Ordinal);
        Assert.EndsWith("(errno 17)", error.Message, StringComparison.Ordinal);
        var state = await links.ReadAsync(ct);
        Assert.True(state.Link("vn-dup")!.Up); // the operations before the failure took effect
        Assert.True(state.Link("lo")!.Up); // the one after it did not run
    }

    [Fact]
    public async Task AnOperationOnAMissingLinkIsNotFoundNamingTheLink()
    {
        var ct = TestContext.Current.CancellationToken;
        using var host = TestNamespace.Create("nl-missing");
        var links = new NetlinkLinkHost(host.Path);

        var error = await Assert.ThrowsAsync<NetlinkOperationException>(() => links.ApplyAsync(
            [new AddAddress("vn-none", IPNetwork.Parse("192.0.2.0/24"), IPAddress.Parse("192.0.2.1"))], ct));

        Assert.Equal((0, Virt.VirtErrorKind.NotFound), (error.Index, error.ErrorKind));
        Assert.Contains("cannot find link vn-none: No such device", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BridgeVlanFilteringIsRefusedWithTheReasonOnAKernelWithoutIt()
    {
        var ct = TestContext.Current.CancellationToken;
        using var host = TestNamespace.Create("nl-vlan");
        var links = new NetlinkLinkHost(host.Path);
        await links.ApplyAsync([new CreateBridge("vn-vlan", "virt:network:vlan", null, false), new CreateVeth("vp-v", "vp-v-peer", "virt:port:c/eth0", null), new SetMaster("vp-v", "vn-vlan")], ct);

        var portVlan = await Assert.ThrowsAsync<NetlinkOperationException>(() => links.ApplyAsync([new AddPortVlan("vp-v", 10, Pvid: true, Untagged: true)], ct));
        var filtering = await Assert.ThrowsAsync<NetlinkOperationException>(() => links.ApplyAsync([new CreateBridge("vn-vlan2", "virt:network:vlan2", null, VlanFiltering: true)], ct));

        foreach (var error in new[] { portVlan, filtering })
        {
            Assert.Equal((Virt.VirtErrorKind.Refused, 95), (error.ErrorKind, error.Errno));
            Assert.Contains("Operation not supported", error.Message, StringComparison.Ordinal);
            Assert.Contains("this kernel has no bridge VLAN filtering", error.Message, StringComparison.Ordinal);
        }

        Assert.StartsWith("RTM_SETLINK vlan 10 on port vp-v (add pvid untagged) failed", portVlan.Message, StringComparison.Ordinal);
        Assert.Empty((await links.ReadAsync(ct)).PortVlans);
    }

    [Fact]
    public async Task TwoVxlanEndpointsInTwoNamespacesPingEachOtherOverTheOverlay()
    {
        var ct = TestContext.Current.CancellationToken;
        HostRequirement.RequireTool("ping", "iputils-ping");
        using var left = TestNamespace.Create("nl-vxl");
        using var right = TestNamespace.Create("nl-vxr");
        await new NetlinkLinkHost(left.Path).ApplyAsync([new CreateVeth("ul-l", "ul-r", "virt:network:underlay", null, PeerNamespace: right.Path), .. Endpoint("ul-l", "198.51.100.1", "198.51.100.2", "192.0.2.1")], ct);
        await new NetlinkLinkHost(right.Path).ApplyAsync(Endpoint("ul-r", "198.51.100.2", "198.51.100.1", "192.0.2.2"), ct);

        var (exitCode, output) = left.TryExec("ping", "-c", "1", "-W", "2", "192.0.2.2");

        Assert.True(exitCode == 0, output);
        Assert.Equal(0, right.TryExec("ping", "-c", "1", "-W", "2", "192.0.2.1").ExitCode);
        AssertNothingInRootNamespace("ul-l", "ul-r", "vn-ovl", "vx-ovl");
    }

    [Fact]
    public async Task PackedRequestsNameTheFailedOperationButTheKernelRunsTheRestOfTheSend()
    {
        var ct = TestContext.Current.CancellationToken;
        using var host = TestNamespace.Create("nl-pack");
        var links = new NetlinkLinkHost(host.Path, messagesPerSend: 16);

        var error = await Assert.ThrowsAsync<NetlinkOperationException>(() => links.ApplyAsync(
            [new CreateBridge("vn-dup", "virt:network:dup", null, false), new CreateBridge("vn-dup", "virt:network:dup", null, false), new SetLinkUp("lo", false)],
            ct));

        Assert.Equal((1, 17), (error.Index, error.Errno)); // each create is two requests (link, then alias): acks map back to operations
        Assert.False((await links.ReadAsync(ct)).Link("lo")!.Up); // why NetlinkLinkHost sends one request per send by default
    }

    [Theory]
    [InlineData(NetlinkLinkHost.DefaultMessagesPerSend)]
    [InlineData(128)]
    public async Task AThousandOperationBatchCompletesAndReadAsyncSeesEveryLink(int messagesPerSend)
    {
        var ct = TestContext.Current.CancellationToken;
        using var host = TestNamespace.Create("nl-1000");
        var links = new NetlinkLinkHost(host.Path, messagesPerSend: messagesPerSend);

        await links.ApplyAsync(ThousandOperations("vn-many", 200), ct);

        var state = await links.ReadAsync(ct);
        var ports = state.Links.Where(link => link.Name.StartsWith("vb", StringComparison.Ordinal)).ToList();
        Assert.Equal(400, ports.Count);
        Assert.All(ports, port => Assert.True(port.Up, port.Name));
        Assert.Equal(200, ports.Count(port => port.Master == "vn-many" && port.Alias!.StartsWith("virt:port:vm", StringComparison.Ordinal)));
        Assert.Equal(200, ports.Count(port => port.Master is null && port.Alias!.StartsWith("virt:peer:vm", StringComparison.Ordinal)));
        Assert.Equal(200, Virt.Network.Manager.HostInventory.From(state).Bridges.Single(bridge => bridge.Name == "vn-many").Ports.Count);
        AssertNothingInRootNamespace("vn-many", "vb0", "vb0p", "vb199", "vb199p");
    }

    /// <summary>A bridge, then per pair: create (with alias), master, up, peer up, peer alias: 1 + 5 × pairs operations.</summary>
    internal static LinkOperation[] ThousandOperations(string bridge, int pairs)
    {
        string Name(int i) => "vb" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var range = Enumerable.Range(0, pairs).ToList();
        return
        [
            new CreateBridge(bridge, "virt:network:many", null, false),
            .. range.Select(i => new CreateVeth(Name(i), Name(i) + "p", $"virt:port:vm{i}/net0", null)),
            .. range.Select(i => new SetMaster(Name(i), bridge)),
            .. range.Select(i => new SetLinkUp(Name(i))),
            .. range.Select(i => new SetLinkUp(Name(i) + "p")),
            .. range.Select(i => new SetAlias(Name(i) + "p", $"virt:peer:vm{i}/net0")),
        ];
    }

    // An overlay endpoint: underlay address, a VXLAN device replicating to the other side, a bridge holding the overlay's address.
    private static LinkOperation[] Endpoint(string underlay, string local, string remote, string overlayAddress) =>
    [
        new AddAddress(underlay, IPNetwork.Parse("198.51.100.0/24"), IPAddress.Parse(local)),
        new SetLinkUp(underlay),
        new CreateBridge("vn-ovl", "virt:network:ovl", 1450, false),
        new CreateVxlan("vx-ovl", "virt:network:ovl", 100, IPAddress.Parse(local), 4789, underlay, 1450),
        new AddFdbEntry("vx-ovl", Zeros, IPAddress.Parse(remote)),
        new SetMaster("vx-ovl", "vn-ovl"),
        new SetLinkUp("vx-ovl"),
        new SetLinkUp("vn-ovl"),
        new AddAddress("vn-ovl", IPNetwork.Parse("192.0.2.0/24"), IPAddress.Parse(overlayAddress)),
    ];

    private static void AssertNothingInRootNamespace(params string[] names)
    {
        var root = TestNamespace.Run("ip", "-o", "link", "show");
        foreach (var name in names)
        {
            Assert.DoesNotContain($": {name}:", root, StringComparison.Ordinal);
            Assert.DoesNotContain($": {name}@", root, StringComparison.Ordinal);
        }
    }
}
