using System.Buffers;
using System.Security.Cryptography;
using System.Text.Json;
using Virt.Network.Host;
using Virt.Networking;

namespace Virt.Network.Firewall;

/// <summary>
/// The fingerprint of a ruleset: SHA-256 (first 16 hex digits) over the table name, the identity of this build of the
/// compiler and every field of the ruleset. The generated JSON is a function of exactly those, so hashing them says the
/// same as hashing the JSON, without building it: an unchanged re-apply of 1,000 ports costs milliseconds, not the
/// half second a compilation takes. The build identity (the module's MVID, stable for identical code under
/// deterministic builds) makes an SDK upgrade that changes the compiler re-apply once.
/// </summary>
internal static class RulesetFingerprint
{
    private static readonly Guid CompilerBuild = typeof(RulesetFingerprint).Assembly.ManifestModule.ModuleVersionId;

    /// <summary>Computes the fingerprint of <paramref name="ruleset"/> in tables named <paramref name="table"/>.</summary>
    public static string Compute(string table, FirewallRuleset ruleset)
    {
        var buffer = new ArrayBufferWriter<byte>(64 * 1024);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartArray();
            writer.WriteStringValue(table);
            writer.WriteStringValue(CompilerBuild);
            foreach (var nat in ruleset.Nat)
            {
                Strings(writer, "nat", nat.Network, nat.Bridge, nat.Subnet.ToString(), nat.Uplink);
            }

            foreach (var network in ruleset.Networks)
            {
                Strings(writer, "network", network.Network, network.Bridge, network.Firewall.DefaultIn.ToString(), network.Firewall.DefaultOut.ToString());
                foreach (var rule in network.Firewall.Rules)
                {
                    Rule(writer, rule);
                }
            }

            foreach (var port in ruleset.Ports)
            {
                Strings(writer, "port", port.Network, port.Owner, port.NicId, port.HostInterface, port.Bridge, port.MacAddress, port.AntiSpoofing ? "spoof-checked" : "open", port.DefaultIn.ToString(), port.DefaultOut.ToString());
                Strings(writer, [.. port.AllowedSources.Select(address => address.ToString())]);
                foreach (var scoped in port.Rules)
                {
                    writer.WriteStringValue(scoped.Scope);
                    writer.WriteNumberValue(scoped.Index);
                    Rule(writer, scoped.Rule);
                }
            }

            writer.WriteEndArray();
        }

        return Convert.ToHexStringLower(SHA256.HashData(buffer.WrittenSpan))[..16];
    }

    private static void Rule(Utf8JsonWriter writer, FirewallRule rule)
    {
        Strings(writer, rule.Direction.ToString(), rule.Action.ToString(), rule.Protocol.ToString(), rule.Comment);
        Strings(writer, [.. rule.DestinationPorts]);
        Strings(writer, [.. rule.Sources]);
        Strings(writer, [.. rule.Destinations]);
        Strings(writer, [.. rule.IcmpTypes]);
    }

    // Each list is its own JSON array, so ["a", "b"] + [] and ["a"] + ["b"] hash differently.
    private static void Strings(Utf8JsonWriter writer, params string?[] values)
    {
        writer.WriteStartArray();
        foreach (var value in values)
        {
            writer.WriteStringValue(value);
        }

        writer.WriteEndArray();
    }
}
