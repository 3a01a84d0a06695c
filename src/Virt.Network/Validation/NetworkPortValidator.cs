using System.Text.RegularExpressions;
using Virt.Network.Dhcp;
using Virt.Networking;

namespace Virt.Network.Validation;

/// <summary>
/// Checks a NIC's request to join a network against the network and the ports already recorded: owner and NIC id, the
/// host interface's name, MAC, VLAN tag, fixed address, host name and firewall. Pure; every problem is returned at once.
/// </summary>
internal static partial class NetworkPortValidator
{
    /// <summary>
    /// Every problem of <paramref name="request"/> on <paramref name="network"/>. <paramref name="existingPorts"/> are the
    /// recorded ports (of every network); the one with the same owner and NIC id is the one being replaced and is skipped.
    /// </summary>
    public static IReadOnlyList<NetworkProblem> Validate(NetworkPortRequest request, NetworkDefinition network, IReadOnlyList<NetworkPort> existingPorts)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(existingPorts);
        var problems = new ProblemList();
        if (request.Network != network.Name)
        {
            problems.Add("Network", $"Network '{NameRules.Printable(request.Network)}' is not the network '{network.Name}' the port is checked against: name the network the NIC joins");
        }

        if (request.Owner is null || !OwnerPattern().IsMatch(request.Owner))
        {
            problems.Add("Owner", $"Owner '{NameRules.Printable(request.Owner)}' is not 'vm:NAME' or 'ct:NAME': write the kind and the VM's or container's name, e.g. 'vm:web1'");
        }

        if (request.NicId is null || !NicIdPattern().IsMatch(request.NicId))
        {
            problems.Add("NicId", $"NicId '{NameRules.Printable(request.NicId)}' is not a NIC id: use 1–64 characters of letters, digits, '.', '_' and '-' (e.g. 'net0')");
        }

        problems.AddIfAny("HostInterface", NameRules.InterfaceName("HostInterface", request.HostInterface));
        if (!Enum.IsDefined(request.Kind))
        {
            problems.Add("Kind", $"Kind '{(int)request.Kind}' is not a port kind: use Tap or Veth");
        }

        var macProblem = NameRules.UnicastMac("MacAddress", request.MacAddress);
        problems.AddIfAny("MacAddress", macProblem);
        AddVlanProblems(problems, request, network);
        if (request.Hostname is not null)
        {
            problems.AddIfAny("Hostname", NameRules.DnsLabel("Hostname", request.Hostname));
        }

        var others = existingPorts.Where(p => p is not null && !(p.Request.Owner == request.Owner && p.Request.NicId == request.NicId)).ToList();
        AddConflictProblems(problems, request, others, macProblem is null);
        AddAddressProblems(problems, request, network, others, macProblem is null);
        if (request.Firewall is { } firewall)
        {
            FirewallRuleValidator.AddNicFirewallProblems(problems, "Firewall", firewall);
        }

        return problems;
    }

    private static void AddVlanProblems(ProblemList problems, NetworkPortRequest request, NetworkDefinition network)
    {
        if (request.VlanTag is not { } tag)
        {
            return;
        }

        if (network is not VlanNetworkDefinition)
        {
            problems.Add("VlanTag", $"VlanTag {tag} is set but network '{network.Name}' is a {network.Kind} network: VLAN tags apply only on a vlan network; remove VlanTag or use a vlan network");
            return;
        }

        NetworkDefinitionValidator.AddVlanIdProblem(problems, "VlanTag", tag);
    }

    private static void AddConflictProblems(ProblemList problems, NetworkPortRequest request, List<NetworkPort> others, bool macValid)
    {
        if (others.FirstOrDefault(p => p.Request.HostInterface == request.HostInterface) is { } sameInterface)
        {
            problems.Add("HostInterface", $"HostInterface '{request.HostInterface}' is the interface of port {sameInterface.Request.Owner}/{sameInterface.Request.NicId} already: give this NIC its own interface name");
        }

        if (macValid && others.FirstOrDefault(p => p.Request.Network == request.Network && SameMac(p.Request.MacAddress, request.MacAddress)) is { } sameMac)
        {
            problems.Add("MacAddress", $"MacAddress '{request.MacAddress}' is used by port {sameMac.Request.Owner}/{sameMac.Request.NicId} on network '{request.Network}' already: give each NIC of a network its own MAC");
        }
    }

    private static void AddAddressProblems(ProblemList problems, NetworkPortRequest request, NetworkDefinition network, List<NetworkPort> others, bool macValid)
    {
        if (request.Ipv4Address is null)
        {
            return;
        }

        var subnetDefinition = NetworkDefinitionValidator.Subnets(network).FirstOrDefault(s => s.Field == "Ipv4").Subnet;
        if (subnetDefinition is null || Ipam.ParseCidr(subnetDefinition.Cidr).Subnet is not { } subnet)
        {
            problems.Add("Ipv4Address", $"Ipv4Address '{NameRules.Printable(request.Ipv4Address)}' is set but network '{network.Name}' has no IPv4 subnet: remove Ipv4Address or give the network an Ipv4 subnet");
            return;
        }

        var address = SubnetValidator.HostAddress(problems, "Ipv4Address", request.Ipv4Address, subnet, required: true);
        if (address is null)
        {
            return;
        }

        if (Ipam.ParseAddress(subnetDefinition.Gateway) is { } gateway && gateway.Equals(address))
        {
            problems.Add("Ipv4Address", $"Ipv4Address '{address}' is network '{network.Name}''s gateway: use another address in {subnet}");
            return;
        }

        foreach (var other in others.Where(p => p.Request.Network == request.Network && p.Ipv4Address is not null))
        {
            var slash = other.Ipv4Address!.IndexOf('/', StringComparison.Ordinal);
            if (Ipam.ParseAddress(slash < 0 ? other.Ipv4Address : other.Ipv4Address[..slash]) is { } taken && taken.Equals(address))
            {
                problems.Add("Ipv4Address", $"Ipv4Address '{address}' is taken by port {other.Request.Owner}/{other.Request.NicId}: use a free address in {subnet}");
                return;
            }
        }

        var reservation = subnetDefinition.Reservations?.FirstOrDefault(r => r is not null && Ipam.ParseAddress(r.Address) is { } reserved && reserved.Equals(address));
        if (reservation is not null && macValid && !SameMac(reservation.MacAddress, request.MacAddress))
        {
            problems.Add("Ipv4Address", $"Ipv4Address '{address}' is reserved on network '{network.Name}' for MAC {reservation.MacAddress}: use a free address, or give the NIC that MAC");
        }
    }

    private static bool SameMac(string? first, string? second) => string.Equals(first, second, StringComparison.OrdinalIgnoreCase);

    [GeneratedRegex("^(vm|ct):[A-Za-z0-9][A-Za-z0-9._-]{0,62}\\z")]
    private static partial Regex OwnerPattern();

    [GeneratedRegex("^[A-Za-z0-9._-]{1,64}\\z")]
    private static partial Regex NicIdPattern();
}
