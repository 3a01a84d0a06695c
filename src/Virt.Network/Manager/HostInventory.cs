using Virt.Network.Host;
using Virt.Networking;

namespace Virt.Network.Manager;

/// <summary>The host's links, addresses, routes and bridges as the public, read-only inventory.</summary>
internal static class HostInventory
{
    public static HostNetworkInventory From(HostLinkState host) => new(
        [.. host.Links.Select(l => new HostLink(l.Name, l.Index, l.Kind, l.MacAddress, l.Mtu, l.Up, l.Master, l.Alias))],
        [.. host.Addresses.Select(a => new HostAddress(a.Link, $"{a.Address}/{a.PrefixLength}"))],
        [.. host.Routes.Select(r => new HostRoute(r.Destination.ToString(), r.Gateway?.ToString(), r.Link))],
        [.. host.Links.Where(l => l.Kind == "bridge").Select(b => new HostBridge(b.Name, [.. host.Links.Where(l => l.Master == b.Name).Select(l => l.Name)], b.VlanFiltering))]);
}
