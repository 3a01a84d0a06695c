using System.Globalization;
using Virt.Network.Host;
using Virt.Networking;

namespace Virt.Network.Netlink;

/// <summary>Turns the dumped link state into the public, read-only <see cref="HostNetworkInventory"/>.</summary>
internal static class HostInventoryMapper
{
    public static HostNetworkInventory ToInventory(HostLinkState state) => new(
        [.. state.Links.Select(link => new HostLink(link.Name, link.Index, link.Kind, link.MacAddress, link.Mtu, link.Up, link.Master, link.Alias))],
        [.. state.Addresses.Select(address => new HostAddress(address.Link, string.Create(CultureInfo.InvariantCulture, $"{address.Address}/{address.PrefixLength}")))],
        [.. state.Routes.Select(route => new HostRoute(route.Destination.ToString(), route.Gateway?.ToString(), route.Link))],
        [.. state.Links.Where(link => link.Kind == "bridge").Select(bridge => new HostBridge(
            bridge.Name,
            [.. state.Links.Where(port => port.Master == bridge.Name).Select(port => port.Name)],
            bridge.VlanFiltering))]);
}
