using System.Globalization;
using Virt.Network.Host;
using Virt.Networking;

namespace Virt.Network.Manager;

/// <summary>Says, for an operation that repairing a network would run, what the host should have and what it has.</summary>
internal static class DriftReport
{
    public static NetworkDrift Of(string network, LinkOperation operation, HostLinkState host)
    {
        var (expected, actual) = operation switch
        {
            CreateBridge or CreateVxlan or CreateVeth => (operation.Detail, "missing"),
            SetMtu mtu => ("mtu " + mtu.Mtu.ToString(CultureInfo.InvariantCulture), "mtu " + (host.Link(mtu.Name)?.Mtu.ToString(CultureInfo.InvariantCulture) ?? "unknown")),
            SetMaster master => (master.Detail, host.Link(master.Name)?.Master is { } current ? "master " + current : "no master"),
            SetLinkUp up => (up.Up ? "up" : "down", up.Up ? "down" : "up"),
            SetAlias alias => (alias.Detail, $"alias '{host.Link(alias.Name)?.Alias}'"),
            DeleteLink or DeleteAddress or DeleteRoute or DeleteFdbEntry or DeletePortVlan => ("absent", "present"),
            _ => ("present", "missing"),
        };
        return new NetworkDrift(network, operation.Object, expected, actual);
    }
}
