using System.Globalization;
using System.Net;
using Virt.Network.Host;
using Virt.Network.Netlink;

namespace Virt.Network.Tests.Netlink;

/// <summary>Decoding of real dumps (<see cref="CapturedDump"/>) into the state the planner compares, and into the public inventory.</summary>
public sealed class HostLinkStateBuilderTests
{
    private static readonly HostLinkState State = Decode();

    [Fact]
    public void LinksCarryKindMacMtuFlagsMasterAliasAndVxlanSettings()
    {
        Assert.Equal(
        [
            new LinkState("lo", 1, null, "00:00:00:00:00:00", 65536, true, null, null),
            new LinkState("br0", 2, "bridge", "ce:09:95:9e:b5:af", 1450, true, null, "virt:network:cap"),
            new LinkState("ul1", 3, "veth", "ee:59:e0:97:88:47", 1500, true, null, null) { PeerIndex = 4 },
            new LinkState("ul0", 4, "veth", "66:2f:48:5f:91:64", 1500, true, null, null) { PeerIndex = 3 },
            new LinkState("vx0", 5, "vxlan", "ce:09:95:9e:b5:af", 1450, true, "br0", null) { Vxlan = new VxlanState(42, IPAddress.Parse("198.51.100.1"), 4789, false, 4) },
        ],
        State.Links);
    }

    [Fact]
    public void AddressesOfBothFamiliesAreNamedByLink()
    {
        Assert.Equal(
            ["br0 192.0.2.1/24", "br0 2001:db8::1/64", "br0 fe80::cc09:95ff:fe9e:b5af/64", "lo 127.0.0.1/8", "lo ::1/128", "ul0 198.51.100.1/24", "ul0 fe80::642f:48ff:fe5f:9164/64", "ul1 fe80::ec59:e0ff:fe97:8847/64", "vx0 fe80::cc09:95ff:fe9e:b5af/64"],
            State.Addresses.Select(a => string.Create(CultureInfo.InvariantCulture, $"{a.Link} {a.Address}/{a.PrefixLength}")).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void OnlyTheMainTablesUnicastRoutesAreKept()
    {
        Assert.Equal(
            ["192.0.2.0/24 - br0", "198.51.100.0/24 - ul0", "2001:db8::/64 - br0", "203.0.113.0/24 198.51.100.2 ul0", "fe80::/64 - br0", "fe80::/64 - ul0", "fe80::/64 - ul1", "fe80::/64 - vx0"],
            State.Routes.Select(r => $"{r.Destination} {r.Gateway?.ToString() ?? "-"} {r.Link}").Order(StringComparer.Ordinal));
    }

    [Fact]
    public void OnlyFdbEntriesWithARemoteDestinationAreKept()
    {
        Assert.Equal([new FdbState("vx0", "00:00:00:00:00:00", IPAddress.Parse("198.51.100.2"))], State.Fdb);
    }

    [Fact]
    public void TheInventoryListsBridgesWithTheirPorts()
    {
        var inventory = Virt.Network.Manager.HostInventory.From(State);

        Assert.Equal([new Virt.Networking.HostBridge("br0", ["vx0"], false)], inventory.Bridges.Select(b => b with { Ports = [.. b.Ports] }), new BridgeComparer());
        Assert.Contains(new Virt.Networking.HostRoute("203.0.113.0/24", "198.51.100.2", "ul0"), inventory.Routes);
        Assert.Contains(new Virt.Networking.HostAddress("br0", "2001:db8::1/64"), inventory.Addresses);
        Assert.Equal(5, inventory.Links.Count);
    }

    private static HostLinkState Decode()
    {
        var builder = new HostLinkStateBuilder();
        foreach (var line in CapturedDump.Messages.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var fields = line.Split(' ');
            var message = new NetlinkMessage(ushort.Parse(fields[1], CultureInfo.InvariantCulture), MessageFlags.Multipart, 1, Convert.FromHexString(fields[2]));
            switch (fields[0])
            {
                case "link": builder.AddLink(message); break;
                case "addr": builder.AddAddress(message); break;
                case "route": builder.AddRoute(message); break;
                case "fdb": builder.AddFdbEntry(message); break;
            }
        }

        return builder.Build();
    }

    private sealed class BridgeComparer : IEqualityComparer<Virt.Networking.HostBridge>
    {
        public bool Equals(Virt.Networking.HostBridge? x, Virt.Networking.HostBridge? y) =>
            x!.Name == y!.Name && x.VlanFiltering == y.VlanFiltering && x.Ports.SequenceEqual(y.Ports);

        public int GetHashCode(Virt.Networking.HostBridge obj) => obj.Name.GetHashCode(StringComparison.Ordinal);
    }
}
