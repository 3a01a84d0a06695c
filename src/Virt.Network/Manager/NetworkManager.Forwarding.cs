using Virt.Networking;

namespace Virt.Network.Manager;

/// <summary>
/// A NAT or routed network only works when the namespace forwards IP packets; a fresh namespace (and a fresh Debian host)
/// does not. Applying such a network turns forwarding on (IPv4, and IPv6 when the network has an IPv6 subnet), as libvirt
/// and Incus do for their NAT bridges. It is left on when the network goes: other networks or the administrator may rely on it.
/// </summary>
public sealed partial class NetworkManager
{
    private const string Ipv4Forwarding = "/proc/sys/net/ipv4/ip_forward";
    private const string Ipv6Forwarding = "/proc/sys/net/ipv6/conf/all/forwarding";

    private async Task EnsureForwardingAsync(NetworkDefinition definition, CancellationToken cancellationToken)
    {
        string[] switches = definition switch
        {
            NatNetworkDefinition nat => nat.Ipv6 is null ? [Ipv4Forwarding] : [Ipv4Forwarding, Ipv6Forwarding],
            RoutedNetworkDefinition => [Ipv4Forwarding],
            _ => [],
        };
        if (switches.Length == 0)
        {
            return;
        }

        foreach (var key in await Sysctl.TurnOnAsync(switches, cancellationToken).ConfigureAwait(false))
        {
            Log.ForwardingEnabled(_logger, definition.Name, key);
        }
    }
}
