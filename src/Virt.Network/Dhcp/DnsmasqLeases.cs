using System.Globalization;
using Virt.Network.Validation;
using Virt.Networking;

namespace Virt.Network.Dhcp;

/// <summary>
/// Reads dnsmasq's leases file: <c>EXPIRY MAC ADDRESS HOSTNAME CLIENT-ID</c> per IPv4 lease (expiry in seconds since the
/// epoch, 0 for an infinite lease; <c>*</c> for no hostname). The file is dnsmasq's and may be mid-rewrite or damaged,
/// so a line that is not a lease (the IPv6 <c>duid</c> line, IPv6 leases, which carry an IAID instead of a MAC, garbage)
/// is skipped, never thrown on.
/// </summary>
internal static class DnsmasqLeases
{
    /// <summary>The IPv4 leases in <paramref name="text"/>, in file order.</summary>
    public static IReadOnlyList<DhcpLease> Parse(string? text)
    {
        var leases = new List<DhcpLease>();
        if (string.IsNullOrEmpty(text))
        {
            return leases;
        }

        foreach (var line in text.Split('\n'))
        {
            if (TryParseLine(line, out var lease))
            {
                leases.Add(lease);
            }
        }

        return leases;
    }

    private static bool TryParseLine(string line, out DhcpLease lease)
    {
        lease = null!;
        var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (fields.Length < 4
            || !long.TryParse(fields[0], NumberStyles.None, CultureInfo.InvariantCulture, out var expiry)
            || expiry > DateTimeOffset.MaxValue.ToUnixTimeSeconds()
            || !NameRules.IsMac(fields[1])
            || Ipam.ParseAddress(fields[2]) is not { AddressFamily: System.Net.Sockets.AddressFamily.InterNetwork } address)
        {
            return false;
        }

        lease = new DhcpLease(
            fields[1].ToLowerInvariant(),
            address.ToString(),
            fields[3] == "*" ? null : fields[3],
            expiry == 0 ? null : DateTimeOffset.FromUnixTimeSeconds(expiry));
        return true;
    }
}
