using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;

namespace Virt.Network.Firewall;

/// <summary>
/// Builders for the pieces of nftables' JSON schema (libnftables-json(5)) the compiler uses. Values are typed (numbers,
/// parsed addresses, names checked by the caller); strings reach nftables as JSON strings, never as nft syntax.
/// </summary>
internal static class NftablesExpressions
{
    /// <summary>The IP protocol numbers the rules match (numbers, so no name lookup in /etc/protocols is involved).</summary>
    public const int Icmp = 1;

    /// <summary>TCP.</summary>
    public const int Tcp = 6;

    /// <summary>UDP.</summary>
    public const int Udp = 17;

    /// <summary>ICMPv6.</summary>
    public const int Icmpv6 = 58;

    public static JsonObject Meta(string key) => new() { ["meta"] = new JsonObject { ["key"] = key } };

    public static JsonObject Payload(string protocol, string field) =>
        new() { ["payload"] = new JsonObject { ["protocol"] = protocol, ["field"] = field } };

    public static JsonObject Ct(string key) => new() { ["ct"] = new JsonObject { ["key"] = key } };

    public static JsonObject Match(JsonNode left, JsonNode right, string op = "==") =>
        new() { ["match"] = new JsonObject { ["op"] = op, ["left"] = left, ["right"] = right } };

    public static JsonObject BitAnd(JsonNode left, long mask) => new() { ["&"] = new JsonArray(left, mask) };

    public static JsonObject BitOr(JsonNode left, long bits) => new() { ["|"] = new JsonArray(left, bits) };

    public static JsonObject SetMark(JsonNode value) =>
        new() { ["mangle"] = new JsonObject { ["key"] = Meta("mark"), ["value"] = value } };

    public static JsonObject Counter() => new() { ["counter"] = null };

    public static JsonObject Verdict(string verdict) => new() { [verdict] = null };

    public static JsonObject Jump(string chain) => new() { ["jump"] = new JsonObject { ["target"] = chain } };

    public static JsonObject Masquerade() => new() { ["masquerade"] = null };

    public static JsonObject VerdictMap(JsonNode key, string map) =>
        new() { ["vmap"] = new JsonObject { ["key"] = key, ["data"] = "@" + map } };

    /// <summary>An address or prefix as nftables' JSON spells it.</summary>
    public static JsonNode Prefix(IPNetwork network)
    {
        var full = network.BaseAddress.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        return network.PrefixLength == full
            ? network.BaseAddress.ToString()
            : new JsonObject { ["prefix"] = new JsonObject { ["addr"] = network.BaseAddress.ToString(), ["len"] = network.PrefixLength } };
    }

    public static JsonNode Port(PortRange range) =>
        range.First == range.Last ? range.First : new JsonObject { ["range"] = new JsonArray(range.First, range.Last) };

    /// <summary>The payload protocol of an address family's header (<c>ip</c> or <c>ip6</c>).</summary>
    public static string IpProtocol(AddressFamily family) => family == AddressFamily.InterNetwork ? "ip" : "ip6";
}
