using Virt.Network.Manager;
using Virt.Networking;

namespace Virt.Network.IntegrationTests.Manager;

/// <summary>
/// Bad input is refused before the host is touched: with a NAT network applied and a VXLAN underlay in place, each bad
/// definition or port throws a NetworkException naming the field (or the refusal) with its error kind, and the
/// namespace's links, addresses and nftables ruleset (<c>ip -j</c>, <c>nft -j</c>) are byte for byte what they were.
/// </summary>
public sealed class NetworkManagerBadInputTests : IDisposable
{
    private static readonly NetworkSubnet FreeSubnet = new("203.0.113.0/24", "203.0.113.1");

    private readonly ManagerLab _lab = ManagerLab.Create("bad");

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public void Dispose() => _lab.Dispose();

    [Theory(Timeout = 180_000)]
    [InlineData("bridge name of 16 bytes", "BridgeName", VirtErrorKind.InvalidInput)]
    [InlineData("bridge name with a slash", "BridgeName", VirtErrorKind.InvalidInput)]
    [InlineData("bridge name with a space", "BridgeName", VirtErrorKind.InvalidInput)]
    [InlineData("bridge name with a newline", "BridgeName", VirtErrorKind.InvalidInput)]
    [InlineData("port interface of 16 bytes", "HostInterface", VirtErrorKind.InvalidInput)]
    [InlineData("VLAN 0", "DefaultVlan", VirtErrorKind.InvalidInput)]
    [InlineData("VLAN 4095", "TrunkVlans[0]", VirtErrorKind.InvalidInput)]
    [InlineData("VNI 0", "Vni", VirtErrorKind.InvalidInput)]
    [InlineData("VNI 2^24", "Vni", VirtErrorKind.InvalidInput)]
    [InlineData("subnet overlapping nat1's", "Ipv4.Cidr", VirtErrorKind.InvalidInput)]
    [InlineData("gateway outside its subnet", "Ipv4.Gateway", VirtErrorKind.InvalidInput)]
    [InlineData("VXLAN MTU 1480 over a 1500 underlay", "Mtu", VirtErrorKind.InvalidInput)]
    [InlineData("adopting a bridge with host addresses", "AllowBridgeWithHostAddresses", VirtErrorKind.Refused)]
    [InlineData("port on an unknown network", "nosuchnet", VirtErrorKind.NotFound)]
    public async Task Bad_input_is_refused_naming_the_field_and_the_host_stays_as_it_was(string input, string named, VirtErrorKind kind)
    {
        var ct = TestContext.Current.CancellationToken;
        var manager = _lab.NewManager();
        await manager.DefineAsync(new NatNetworkDefinition("nat1", new NetworkSubnet("192.0.2.0/24", "192.0.2.1")), ct);
        await manager.ApplyAsync("nat1", ct);
        _lab.Namespace.Exec("ip", "link", "add", "ul0", "type", "veth", "peer", "name", "ul0p");
        _lab.Namespace.Exec("ip", "addr", "add", "198.51.100.1/24", "dev", "ul0");
        _lab.Namespace.Exec("ip", "link", "add", "br0", "type", "bridge");
        _lab.Namespace.Exec("ip", "addr", "add", "198.51.100.200/24", "dev", "br0");
        var before = _lab.Snapshot();

        var error = await Assert.ThrowsAsync<NetworkException>(() => AttemptAsync(manager, input));

        Assert.Contains(named, error.Message, StringComparison.Ordinal);
        Assert.Equal(kind, error.ErrorKind);
        Assert.Equal(before, _lab.Snapshot());
        Assert.False(File.Exists(_lab.JournalPath), "a refused change left a journal");
        Assert.True((await manager.PlanAsync("nat1", ct)).IsEmpty);
    }

    private static Task AttemptAsync(NetworkManager manager, string input) => input switch
    {
        "bridge name of 16 bytes" => Define(manager, new IsolatedNetworkDefinition("bad") { BridgeName = "vn-0123456789abc" }),
        "bridge name with a slash" => Define(manager, new IsolatedNetworkDefinition("bad") { BridgeName = "vn/bad" }),
        "bridge name with a space" => Define(manager, new IsolatedNetworkDefinition("bad") { BridgeName = "vn bad" }),
        "bridge name with a newline" => Define(manager, new IsolatedNetworkDefinition("bad") { BridgeName = "vn\nbad" }),
        "port interface of 16 bytes" => manager.PrepareAsync(new NetworkPortRequest("nat1", "vm:web", "net0", "tap-0123456789ab", NetworkPortKind.Tap, "52:54:00:12:34:56"), Token),
        "VLAN 0" => Define(manager, new VlanNetworkDefinition("bad") { DefaultVlan = 0 }),
        "VLAN 4095" => Define(manager, new VlanNetworkDefinition("bad") { TrunkVlans = [4095] }),
        "VNI 0" => Define(manager, new VxlanNetworkDefinition("bad", 0, "198.51.100.1")),
        "VNI 2^24" => Define(manager, new VxlanNetworkDefinition("bad", 16_777_216, "198.51.100.1")),
        "subnet overlapping nat1's" => Define(manager, new NatNetworkDefinition("bad", new NetworkSubnet("192.0.2.128/25", "192.0.2.129"))),
        "gateway outside its subnet" => Define(manager, new NatNetworkDefinition("bad", new NetworkSubnet("203.0.113.0/24", "198.51.100.1"))),
        "VXLAN MTU 1480 over a 1500 underlay" => Define(manager, new VxlanNetworkDefinition("bad", 42, "198.51.100.1") { UnderlayInterface = "ul0", Mtu = 1480, Ipv4 = FreeSubnet }),
        "adopting a bridge with host addresses" => DefineAndApply(manager, new NatNetworkDefinition("bad", FreeSubnet) { BridgeName = "br0", AdoptExistingBridge = true }),
        "port on an unknown network" => manager.PrepareAsync(new NetworkPortRequest("nosuchnet", "vm:web", "net0", "tap-web0", NetworkPortKind.Tap, "52:54:00:12:34:56"), Token),
        _ => throw new ArgumentOutOfRangeException(nameof(input), input, "no such case"),
    };

    private static Task Define(NetworkManager manager, NetworkDefinition definition) => manager.DefineAsync(definition, Token);

    private static async Task DefineAndApply(NetworkManager manager, NetworkDefinition definition)
    {
        // The definition itself is valid; the host refuses it: the bridge carries addresses the SDK did not put there.
        await manager.DefineAsync(definition, Token);
        await manager.ApplyAsync(definition.Name, Token);
    }
}
