using System.Globalization;
using Virt.VirtualMachines;

namespace Virt.Kvm.VirtualMachines.Migration;

/// <summary>
/// Which destinations a migration may name. QEMU's <c>migrate</c> also takes <c>exec:CMD</c> (runs CMD
/// with /bin/sh as QEMU's user — root), <c>file:PATH</c> (writes the guest's RAM over any host file) and
/// <c>fd:</c>; none of them is a destination QEMU, so only <c>tcp:HOST:PORT</c> and <c>unix:/PATH</c> pass, and
/// <c>tcp:</c> to another host (clear text) only when the caller allowed clear text.
/// </summary>
internal static class MigrationDestination
{
    public static void Check(string vmName, string uri, bool allowClearText)
    {
        if (IsUnix(uri))
        {
            return;
        }

        if (IsTcp(uri, out var host))
        {
            // A QEMU waiting with -incoming tcp: takes no TLS from this path: off this host, the guest's memory would cross
            // the network as it is. Loopback never leaves the host.
            if (!allowClearText && !IsLoopback(host))
            {
                throw new ArgumentException(
                    $"VM '{vmName}': migration destination '{uri}' is another host, and a stream to a QEMU waiting there is clear text: the guest's memory would cross the network unencrypted. Migrate with a ticket from that host's PrepareIncomingAsync (TLS), or set VmMigrationOptions.AllowClearText on a network only these hosts can reach",
                    nameof(VmMigrationOptions.DestinationUri));
            }

            return;
        }

        throw new ArgumentException(
            $"VM '{vmName}': migration destination '{uri}' is not allowed: give the address of a QEMU waiting with -incoming, as tcp:HOST:PORT or unix:/absolute/path (exec:, file:, fd: and other QEMU transports are refused: they run commands or write files on this host)",
            nameof(VmMigrationOptions.DestinationUri));
    }

    private static bool IsUnix(string uri) =>
        uri.StartsWith("unix:/", StringComparison.Ordinal) && !uri.Contains(',', StringComparison.Ordinal) && !uri.Any(char.IsControl);

    /// <summary>Loopback, or the unspecified address (which connects to this host): the stream never leaves it.</summary>
    private static bool IsLoopback(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
        || (System.Net.IPAddress.TryParse(host.Trim('[', ']'), out var address)
            && (System.Net.IPAddress.IsLoopback(address) || address.Equals(System.Net.IPAddress.Any) || address.Equals(System.Net.IPAddress.IPv6Any)));

    private static bool IsTcp(string uri, out string host)
    {
        host = "";
        if (!uri.StartsWith("tcp:", StringComparison.Ordinal))
        {
            return false;
        }

        // HOST:PORT, HOST a name, an IPv4 address or a bracketed IPv6 address; nothing after the port
        // (QEMU reads ",option=..." there).
        var rest = uri["tcp:".Length..];
        var colon = rest.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(rest[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            return false;
        }

        host = rest[..colon];
        if (host.StartsWith('[') && host.EndsWith(']'))
        {
            return System.Net.IPAddress.TryParse(host[1..^1], out var address) && address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;
        }

        return host.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-');
    }
}
