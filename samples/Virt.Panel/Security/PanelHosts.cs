using System.Net;
using System.Net.NetworkInformation;

namespace Virt.Panel.Security;

/// <summary>
/// The host names the panel answers to: <c>Panel:Hosts</c> (separated by <c>;</c> or <c>,</c>), or by default
/// the names of the addresses it listens on plus <c>localhost</c>, <c>127.0.0.1</c> and <c>[::1]</c> (for a
/// wildcard listen address — <c>0.0.0.0</c>, <c>[::]</c>, <c>*</c>, <c>+</c> — also this machine's host name
/// and interface addresses). Requests with another Host header are refused with 400 (ASP.NET Core's host
/// filtering), which defeats DNS rebinding; WebSocket Origins must name one of these hosts too.
/// </summary>
internal sealed class PanelHosts
{
    private readonly HashSet<string> _names;

    private PanelHosts(IEnumerable<string> names) => _names = new HashSet<string>(names.Select(Normalize).Where(name => name.Length > 0), StringComparer.OrdinalIgnoreCase);

    public IReadOnlyCollection<string> Names => _names;

    public static PanelHosts From(string? configured, string listenUrls)
    {
        if (!string.IsNullOrWhiteSpace(configured))
        {
            var names = configured.Split([';', ','], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (names.Any(name => name.Contains('*', StringComparison.Ordinal)))
            {
                throw new InvalidOperationException($"Panel:Hosts '{configured}' has a wildcard, which would let any web page reach the panel by DNS rebinding; list the host names the panel is reached by (e.g. panel.example.org;192.0.2.10)");
            }

            var hosts = new PanelHosts(names);
            if (hosts._names.Count == 0)
            {
                // An empty AllowedHosts turns ASP.NET Core's host filtering off ("*"): never fall open.
                throw new InvalidOperationException($"Panel:Hosts '{configured}' names no host; list the host names the panel is reached by (e.g. panel.example.org;192.0.2.10), or leave it unset for the listen addresses and localhost");
            }

            return hosts;
        }

        var defaults = new List<string> { "localhost", "127.0.0.1", "[::1]" };
        foreach (var url in listenUrls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var host = ListenHost(url);
            if (host is "*" or "+" or "0.0.0.0" or "[::]")
            {
                defaults.Add(Dns.GetHostName());
                defaults.AddRange(NetworkInterface.GetAllNetworkInterfaces()
                    .SelectMany(nic => nic.GetIPProperties().UnicastAddresses)
                    .Select(unicast => unicast.Address)
                    .Where(address => !address.IsIPv6LinkLocal)
                    .Select(address => address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{address}]" : address.ToString()));
            }
            else if (host.Length > 0)
            {
                defaults.Add(host);
            }
        }

        return new PanelHosts(defaults);
    }

    /// <summary>Whether a WebSocket Origin header names a panel host, over http(s), on the port the request came to.</summary>
    public bool IsAllowedOrigin(string origin, HttpRequest request)
    {
        if (!Uri.TryCreate(origin, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.UserInfo.Length > 0 || uri.AbsolutePath != "/")
        {
            return false;
        }

        var requestPort = request.Host.Port ?? (request.IsHttps ? 443 : 80);
        return _names.Contains(Normalize(uri.Host)) && uri.Port == requestPort;
    }

    /// <summary>The host of a Kestrel listen URL (<c>http://127.0.0.1:8006</c>, <c>http://*:80</c>, <c>http://[::1]:8006</c>).</summary>
    private static string ListenHost(string url)
    {
        var rest = url.Contains("://", StringComparison.Ordinal) ? url[(url.IndexOf("://", StringComparison.Ordinal) + 3)..] : url;
        rest = rest.Split('/')[0];
        if (rest.StartsWith('['))
        {
            var end = rest.IndexOf(']', StringComparison.Ordinal);
            return end > 0 ? rest[..(end + 1)] : rest;
        }

        var colon = rest.LastIndexOf(':');
        return colon >= 0 ? rest[..colon] : rest;
    }

    private static string Normalize(string name)
    {
        var trimmed = name.Trim().TrimEnd('.');
        return IPAddress.TryParse(trimmed.Trim('[', ']'), out var address) && address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{address}]" : trimmed.ToLowerInvariant();
    }
}
