using System.Net;
using System.Net.Sockets;
using Virt.Network.Dhcp;
using Virt.Networking;

namespace Virt.Network.Validation;

/// <summary>Checks a network's subnet: its CIDR, gateway, DHCP range, lease time and reservations.</summary>
internal static class SubnetValidator
{
    /// <summary>dnsmasq's shortest lease.</summary>
    public static readonly TimeSpan MinimumLeaseTime = TimeSpan.FromMinutes(2);

    /// <summary>Adds every problem of <paramref name="subnet"/>; returns the parsed subnet when its CIDR is valid and of <paramref name="family"/>.</summary>
    public static IPNetwork? AddProblems(ProblemList problems, string field, NetworkSubnet subnet, AddressFamily family)
    {
        var familyName = family == AddressFamily.InterNetwork ? "IPv4" : "IPv6";
        var example = family == AddressFamily.InterNetwork ? "192.0.2.0/24" : "2001:db8:1::/64";
        var parsed = Ipam.ParseCidr(subnet.Cidr);
        if (parsed.Subnet is not { } network)
        {
            problems.Add(field + ".Cidr", parsed.Suggested is { } suggested
                ? $"{field}.Cidr '{subnet.Cidr}' is not a network address (host bits are set after the prefix): write '{suggested}'"
                : $"{field}.Cidr '{NameRules.Printable(subnet.Cidr)}' is not a CIDR: write the network and prefix, e.g. '{example}'");
            return null;
        }

        if (network.BaseAddress.AddressFamily != family)
        {
            problems.Add(field + ".Cidr", $"{field}.Cidr '{subnet.Cidr}' is not {familyName}: give an {familyName} subnet, e.g. '{example}'");
            return null;
        }

        var maxPrefix = family == AddressFamily.InterNetwork ? 30 : 126;
        if (network.PrefixLength > maxPrefix)
        {
            problems.Add(field + ".Cidr", $"{field}.Cidr '{subnet.Cidr}' leaves no room for a gateway and hosts: use a prefix of at most /{maxPrefix}");
            return null;
        }

        var gateway = HostAddress(problems, field + ".Gateway", subnet.Gateway, network, required: true);
        AddRangeProblems(problems, field, subnet, network, gateway);
        if (subnet.LeaseTime < MinimumLeaseTime)
        {
            problems.Add(field + ".LeaseTime", $"{field}.LeaseTime {subnet.LeaseTime} is shorter than dnsmasq's minimum: use at least 2 minutes");
        }

        AddReservationProblems(problems, field, subnet, network, gateway);
        return network;
    }

    /// <summary>
    /// Parses an address that must be a host of <paramref name="network"/> (inside it, not its network or broadcast
    /// address); adds the problem and returns null otherwise.
    /// </summary>
    public static IPAddress? HostAddress(ProblemList problems, string field, string? text, IPNetwork network, bool required)
    {
        if (text is null && !required)
        {
            return null;
        }

        var address = Ipam.ParseAddress(text);
        if (address is null)
        {
            problems.Add(field, $"{field} '{NameRules.Printable(text)}' is not an IP address: write an address inside {network}, e.g. '{FirstHost(network)}'");
            return null;
        }

        if (!Ipam.Contains(network, address))
        {
            problems.Add(field, $"{field} '{text}' is outside the subnet {network}: use an address inside it, e.g. '{FirstHost(network)}'");
            return null;
        }

        if (address.Equals(Ipam.NetworkAddress(network)))
        {
            problems.Add(field, $"{field} '{text}' is the network address of {network}: use a host address, e.g. '{FirstHost(network)}'");
            return null;
        }

        if (address.Equals(Ipam.BroadcastAddress(network)))
        {
            problems.Add(field, $"{field} '{text}' is the broadcast address of {network}: use a host address, e.g. '{FirstHost(network)}'");
            return null;
        }

        return address;
    }

    private static void AddRangeProblems(ProblemList problems, string field, NetworkSubnet subnet, IPNetwork network, IPAddress? gateway)
    {
        if ((subnet.DhcpStart is null) != (subnet.DhcpEnd is null))
        {
            var missing = subnet.DhcpStart is null ? "DhcpStart" : "DhcpEnd";
            problems.Add($"{field}.{missing}", $"{field}.{missing} is missing while {(missing == "DhcpStart" ? "DhcpEnd" : "DhcpStart")} is set: give both ends of the DHCP range, or neither for no dynamic range");
            return;
        }

        var start = HostAddress(problems, field + ".DhcpStart", subnet.DhcpStart, network, required: false);
        var end = HostAddress(problems, field + ".DhcpEnd", subnet.DhcpEnd, network, required: false);
        if (start is null || end is null)
        {
            return;
        }

        if (Ipam.Compare(start, end) > 0)
        {
            problems.Add(field + ".DhcpStart", $"{field}.DhcpStart '{start}' comes after DhcpEnd '{end}': swap them");
        }
        else if (gateway is not null && Ipam.Compare(start, gateway) <= 0 && Ipam.Compare(gateway, end) <= 0)
        {
            problems.Add(field + ".DhcpStart", $"{field}.DhcpStart '{start}' to DhcpEnd '{end}' contains the gateway {gateway}: start the range after the gateway, or move the gateway out of it");
        }
    }

    private static void AddReservationProblems(ProblemList problems, string field, NetworkSubnet subnet, IPNetwork network, IPAddress? gateway)
    {
        if (subnet.Reservations is null)
        {
            problems.Add(field + ".Reservations", $"{field}.Reservations is null: give an empty list for no reservations");
            return;
        }

        var macs = new Dictionary<string, int>(StringComparer.Ordinal);
        var addresses = new Dictionary<IPAddress, int>();
        var hostnames = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < subnet.Reservations.Count; i++)
        {
            var name = $"{field}.Reservations[{i}]";
            var reservation = subnet.Reservations[i];
            if (reservation is null)
            {
                problems.Add(name, $"{name} is null: remove it or give a reservation");
                continue;
            }

            var macProblem = NameRules.UnicastMac(name + ".MacAddress", reservation.MacAddress);
            problems.AddIfAny(name + ".MacAddress", macProblem);
            if (macProblem is null && !macs.TryAdd(NameRules.NormalizeMac(reservation.MacAddress), i))
            {
                problems.Add(name + ".MacAddress", $"{name}.MacAddress '{reservation.MacAddress}' is reserved already by Reservations[{macs[NameRules.NormalizeMac(reservation.MacAddress)]}]: keep one reservation per MAC");
            }

            var address = HostAddress(problems, name + ".Address", reservation.Address, network, required: true);
            if (address is not null && address.Equals(gateway))
            {
                problems.Add(name + ".Address", $"{name}.Address '{address}' is the gateway's address: reserve another address in {network}");
            }
            else if (address is not null && !addresses.TryAdd(address, i))
            {
                problems.Add(name + ".Address", $"{name}.Address '{address}' is reserved already by Reservations[{addresses[address]}]: give each MAC its own address");
            }

            if (reservation.Hostname is not null)
            {
                var hostnameProblem = NameRules.DnsLabel(name + ".Hostname", reservation.Hostname);
                problems.AddIfAny(name + ".Hostname", hostnameProblem);
                if (hostnameProblem is null && !hostnames.TryAdd(reservation.Hostname, i))
                {
                    problems.Add(name + ".Hostname", $"{name}.Hostname '{reservation.Hostname}' is used already by Reservations[{hostnames[reservation.Hostname]}]: give each host its own name");
                }
            }
        }
    }

    private static IPAddress FirstHost(IPNetwork network)
    {
        var bytes = network.BaseAddress.GetAddressBytes();
        bytes[^1] |= 1;
        return new IPAddress(bytes);
    }
}
