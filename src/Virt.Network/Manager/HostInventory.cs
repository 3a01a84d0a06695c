using System.Globalization;
using Virt.Network.Host;
using Virt.Networking;

namespace Virt.Network.Manager;

/// <summary>The host's links, addresses, routes and bridges (from the rtnetlink dumps) as the public, read-only inventory.</summary>
internal static class HostInventory
{
    public static HostNetworkInventory From(HostLinkState host)
    {
        // Ports by their bridge once, rather than a scan of every link per bridge.
        var ports = host.Links.Where(l => l.Master is not null).ToLookup(l => l.Master!, StringComparer.Ordinal);
        return new(
            [.. host.Links.Select(l => new HostLink(l.Name, l.Index, l.Kind, l.MacAddress, l.Mtu, l.Up, l.Master, l.Alias))],
            [.. host.Addresses.Select(a => new HostAddress(a.Link, string.Create(CultureInfo.InvariantCulture, $"{a.Address}/{a.PrefixLength}")))],
            [.. host.Routes.Select(r => new HostRoute(r.Destination.ToString(), r.Gateway?.ToString(), r.Link))],
            [.. host.Links.Where(l => l.Kind == "bridge").Select(b => new HostBridge(b.Name, [.. ports[b.Name].Select(p => p.Name)], b.VlanFiltering))]);
    }
}
