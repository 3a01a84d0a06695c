using Virt.Network.Tests.Manager.Fakes;

namespace Virt.Network.Tests.Manager;

public sealed class InventoryTests : IDisposable
{
    private readonly NetworkTestBed _bed = new();

    public void Dispose() => _bed.Dispose();

    [Fact]
    public async Task Inventory_lists_links_addresses_routes_and_bridges_with_their_ports()
    {
        _bed.Links.AddHostLink("eth0", "veth");
        _bed.Links.AddHostAddress("eth0", "203.0.113.5/24");
        await _bed.AppliedAsync(NetworkTestBed.Nat());
        _bed.Links.AddHostLink("tap0", "tun", master: "vn-nat1");

        var inventory = await _bed.NewManager().GetHostInventoryAsync(TestContext.Current.CancellationToken);

        Assert.Equal(["eth0", "vn-nat1", "tap0"], inventory.Links.Select(l => l.Name));
        Assert.Contains(inventory.Addresses, a => a is { Link: "vn-nat1", Cidr: "192.0.2.1/24" });
        Assert.Contains(inventory.Routes, r => r is { Destination: "203.0.113.0/24", Link: "eth0", Gateway: null });
        var bridge = Assert.Single(inventory.Bridges);
        Assert.Equal(("vn-nat1", "tap0"), (bridge.Name, Assert.Single(bridge.Ports)));
    }
}
