using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace Virt.Networking;

/// <summary>
/// The checks a VM's and a container's NIC share when it names a managed network (<c>Network</c>, <c>VlanTag</c>,
/// <c>Firewall</c>), so that both validators word them the same way. Each problem goes to <c>report(fieldSuffix, message)</c>.
/// </summary>
internal static partial class ManagedNicRules
{
    /// <summary>Whether the value is a dotted-quad IPv4 address (no prefix).</summary>
    /// <param name="value">The value.</param>
    /// <returns>True when it is.</returns>
    public static bool IsDottedIpv4(string? value) =>
        value is not null && DottedIpv4Pattern().IsMatch(value) && IPAddress.TryParse(value, out var address) && address.AddressFamily == AddressFamily.InterNetwork;

    /// <summary>Checks <c>Network</c>, <c>VlanTag</c> and <c>Firewall</c> of one NIC.</summary>
    /// <param name="network">The NIC's Network.</param>
    /// <param name="vlanTag">The NIC's VlanTag.</param>
    /// <param name="firewall">The NIC's Firewall.</param>
    /// <param name="report">Receives each problem: the field's name (Network, VlanTag, Firewall) and the message with its fix.</param>
    public static void Check(string? network, int? vlanTag, NicFirewall? firewall, Action<string, string> report)
    {
        if (network is not null && !NetworkNames.IsValidNetworkName(network))
        {
            report("Network", $"'{network}' is not a network name: use 1–11 characters of a-z 0-9 -, starting with a letter (the name given to AddNetwork's network definition)");
        }

        if (vlanTag is { } tag)
        {
            if (network is null)
            {
                report("VlanTag", "a VLAN tag applies only on a managed network: set Network, or remove VlanTag");
            }
            else if (tag is < 1 or > 4094)
            {
                report("VlanTag", $"{tag} is out of range: use 1 to 4094, or null for the network's default");
            }
        }

        if (firewall is not null && network is null)
        {
            report("Firewall", "a NIC firewall applies only on a managed network: set Network, or remove Firewall");
        }
    }

    [GeneratedRegex("^[0-9]{1,3}(\\.[0-9]{1,3}){3}\\z")]
    private static partial Regex DottedIpv4Pattern();
}
