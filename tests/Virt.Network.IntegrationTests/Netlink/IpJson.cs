using System.Globalization;
using System.Text.Json;
using Virt.Network.IntegrationTests.Infrastructure;

namespace Virt.Network.IntegrationTests.Netlink;

/// <summary>What <c>ip -j</c> reports inside a test namespace, in the shapes the tests compare with ReadAsync's.</summary>
internal static class IpJson
{
    /// <summary>Every link as "name index kind mac mtu up master alias".</summary>
    public static IEnumerable<string> Links(TestNamespace space)
    {
        using var links = JsonDocument.Parse(space.Exec("ip", "-j", "-d", "link", "show"));
        return [.. links.RootElement.EnumerateArray().Select(link => Describe(
            link.GetProperty("ifname").GetString()!,
            link.GetProperty("ifindex").GetInt32(),
            link.TryGetProperty("linkinfo", out var info) && info.TryGetProperty("info_kind", out var kind) ? kind.GetString() : null,
            link.TryGetProperty("address", out var mac) ? mac.GetString() : null,
            link.GetProperty("mtu").GetInt32(),
            link.GetProperty("flags").EnumerateArray().Any(flag => flag.GetString() == "UP"),
            link.TryGetProperty("master", out var master) ? master.GetString() : null,
            link.TryGetProperty("ifalias", out var alias) ? alias.GetString() : null))];
    }

    /// <summary>Every address except IPv6 link-local ones (the kernel adds those when a link gets carrier, at any time) as "link address/prefix".</summary>
    public static IEnumerable<string> Addresses(TestNamespace space)
    {
        using var links = JsonDocument.Parse(space.Exec("ip", "-j", "addr", "show"));
        return [.. links.RootElement.EnumerateArray().SelectMany(link => link.GetProperty("addr_info").EnumerateArray()
            .Select(address => $"{link.GetProperty("ifname").GetString()} {address.GetProperty("local").GetString()}/{address.GetProperty("prefixlen").GetInt32()}"))
            .Where(address => !address.Contains(" fe80:", StringComparison.Ordinal))];
    }

    /// <summary>The main table's unicast routes (both families, no IPv6 link-local) as "destination via gateway dev link".</summary>
    public static IEnumerable<string> Routes(TestNamespace space) =>
        [.. RoutesOf(space, "-4").Concat(RoutesOf(space, "-6")).Where(route => !route.StartsWith("fe80:", StringComparison.Ordinal))];

    public static string Describe(string name, int index, string? kind, string? mac, int mtu, bool up, string? master, string? alias) =>
        string.Create(CultureInfo.InvariantCulture, $"{name} {index} {kind ?? "-"} {mac ?? "-"} {mtu} {(up ? "up" : "down")} {master ?? "-"} {alias ?? "-"}");

    public static string Route(string destination, string? gateway, string? link) => $"{destination} via {gateway ?? "-"} dev {link ?? "-"}";

    private static IEnumerable<string> RoutesOf(TestNamespace space, string family)
    {
        using var routes = JsonDocument.Parse(space.Exec("ip", "-j", family, "route", "show", "table", "main"));
        var hostPrefix = family == "-4" ? "/32" : "/128";
        return [.. routes.RootElement.EnumerateArray()
            .Where(route => !route.TryGetProperty("type", out var type) || type.GetString() == "unicast")
            .Select(route =>
            {
                var destination = route.GetProperty("dst").GetString()!;
                destination = destination == "default" ? (family == "-4" ? "0.0.0.0/0" : "::/0") : destination.Contains('/', StringComparison.Ordinal) ? destination : destination + hostPrefix;
                return Route(destination, route.TryGetProperty("gateway", out var gateway) ? gateway.GetString() : null, route.TryGetProperty("dev", out var dev) ? dev.GetString() : null);
            })];
    }
}
