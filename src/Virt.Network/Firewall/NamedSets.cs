using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace Virt.Network.Firewall;

/// <summary>
/// The named sets of one table, shared by content. nftables 1.0.6 slows down quadratically with anonymous sets (1,000
/// ports with a few <c>{ a, b }</c> each took 18 s to load against 0.7 s without), and named sets do not; identical lists
/// (a security group's ports on every NIC that uses it, the neighbour-discovery types) become one set.
/// </summary>
internal sealed class NamedSets(string family, string table)
{
    private readonly HashSet<string> names = new(StringComparer.Ordinal);
    private readonly List<JsonObject> definitions = [];

    /// <summary>The set commands, in the order the sets were first used (the fingerprint depends on a stable order).</summary>
    public IReadOnlyList<JsonObject> Definitions => definitions;

    /// <summary>What a match compares with: the one element itself, or <c>@NAME</c> of a set holding them all.</summary>
    /// <param name="type">The nftables type (<c>ipv4_addr</c>, <c>inet_service</c>, <c>icmp_type</c>, <c>ifname</c>...).</param>
    /// <param name="interval">Whether elements may be prefixes or ranges (they must not overlap: see <see cref="Prefixes"/>).</param>
    /// <param name="elements">The elements, already typed and checked.</param>
    public JsonNode Reference(string type, bool interval, IReadOnlyList<JsonNode> elements)
    {
        if (elements.Count == 1)
        {
            return elements[0].DeepClone();
        }

        var content = new JsonArray([.. elements.Select(element => element.DeepClone())]);
        var name = "s-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(type + content.ToJsonString())))[..12];
        if (names.Add(name))
        {
            var set = new JsonObject { ["family"] = family, ["table"] = table, ["name"] = name, ["type"] = type };
            if (interval)
            {
                set["flags"] = new JsonArray("interval");
            }

            set["elem"] = content;
            definitions.Add(new JsonObject { ["add"] = new JsonObject { ["set"] = set } });
        }

        return "@" + name;
    }

    /// <summary>
    /// Prefixes with those inside another one dropped: an interval set refuses overlapping elements (and 1.0.6's JSON
    /// input ignores auto-merge), and two prefixes either nest or are disjoint.
    /// </summary>
    public static IReadOnlyList<IPNetwork> Prefixes(IEnumerable<IPNetwork> prefixes)
    {
        var kept = new List<IPNetwork>();
        foreach (var prefix in prefixes.Distinct().OrderBy(prefix => prefix.PrefixLength))
        {
            if (!kept.Any(wider => wider.BaseAddress.AddressFamily == prefix.BaseAddress.AddressFamily && wider.Contains(prefix.BaseAddress)))
            {
                kept.Add(prefix);
            }
        }

        return kept;
    }

    /// <summary>Port ranges with overlapping ones merged, for the same reason.</summary>
    public static IReadOnlyList<PortRange> Ports(IEnumerable<PortRange> ranges)
    {
        var merged = new List<PortRange>();
        foreach (var range in ranges.OrderBy(range => range.First))
        {
            if (merged.Count > 0 && range.First <= merged[^1].Last)
            {
                merged[^1] = merged[^1] with { Last = Math.Max(merged[^1].Last, range.Last) };
            }
            else
            {
                merged.Add(range);
            }
        }

        return merged;
    }
}
