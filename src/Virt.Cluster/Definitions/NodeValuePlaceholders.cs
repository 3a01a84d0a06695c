using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Virt.Clustering;

namespace Virt.Cluster.Definitions;

/// <summary>
/// Per-node values in the cluster's shared definitions (<see cref="ClusterOptions.NodeValues"/>): a JSON string that is
/// exactly <c>{{node:KEY}}</c> becomes this node's value, an array element that is exactly <c>{{peers:KEY}}</c> becomes
/// the values of the other members that have one (in node-name order, each once). Whole values only, replaced in the parsed
/// document, so a value can never add JSON of its own.
/// </summary>
internal static partial class NodeValuePlaceholders
{
    /// <summary>Whether <paramref name="key"/> can name a value: lowercase letters, digits and '-', up to 63.</summary>
    public static bool IsKey(string key) => KeyRule().IsMatch(key);

    /// <summary>Whether the JSON uses a placeholder (so it renders differently per node, and again when members change).</summary>
    public static bool Uses(string json) => json.Contains("{{node:", StringComparison.Ordinal) || json.Contains("{{peers:", StringComparison.Ordinal);

    /// <summary>The definition as this node applies it.</summary>
    /// <param name="json">The shared definition.</param>
    /// <param name="what">The definition, for errors (<c>network/lan</c>).</param>
    /// <param name="node">This node's name.</param>
    /// <param name="own">This node's values.</param>
    /// <param name="members">Every member with its values (this node among them, skipped for <c>peers</c>).</param>
    /// <exception cref="ClusterException">A placeholder names a key this node has no value for, or is not where it may be.</exception>
    public static string Render(string json, string what, string node, IReadOnlyDictionary<string, string> own, IReadOnlyList<ClusterNode> members)
    {
        if (!Uses(json))
        {
            return json;
        }

        var root = JsonNode.Parse(json) ?? throw new ClusterException(VirtErrorKind.InvalidInput, $"the shared definition {what} is null JSON");
        var rendered = Replace(root, what, node, own, members, inArray: false);
        return rendered!.ToJsonString();
    }

    private static JsonNode? Replace(JsonNode? value, string what, string node, IReadOnlyDictionary<string, string> own, IReadOnlyList<ClusterNode> members, bool inArray)
    {
        switch (value)
        {
            case JsonObject obj:
                foreach (var (name, child) in obj.ToList())
                {
                    obj[name] = Replace(child?.DeepClone(), what, node, own, members, inArray: false);
                }

                return obj;
            case JsonArray array:
                var items = new JsonArray();
                foreach (var item in array)
                {
                    if (Placeholder(item) is ("peers", var key))
                    {
                        foreach (var peer in members.Where(m => m.Name != node && m.Values.ContainsKey(key)).OrderBy(m => m.Name, StringComparer.Ordinal))
                        {
                            items.Add((JsonNode)JsonValue.Create(peer.Values[key]));
                        }
                    }
                    else
                    {
                        items.Add((JsonNode?)Replace(item?.DeepClone(), what, node, own, members, inArray: true));
                    }
                }

                return items;
            default:
                return Placeholder(value) switch
                {
                    ("node", var key) => own.TryGetValue(key, out var mine)
                        ? JsonValue.Create(mine)
                        : throw new ClusterException(VirtErrorKind.InvalidInput, $"the shared definition {what} uses {{{{node:{key}}}}}, but node {node} has no value '{key}': set ClusterOptions.NodeValues[\"{key}\"] on that node"),
                    ("peers", var key) when !inArray => throw new ClusterException(VirtErrorKind.InvalidInput, $"the shared definition {what} uses {{{{peers:{key}}}}} outside a list: it stands for every other node's value, so put it in an array"),
                    _ => value,
                };
        }
    }

    private static (string Scope, string Key)? Placeholder(JsonNode? value)
    {
        if (value is not JsonValue scalar || scalar.GetValueKind() != JsonValueKind.String)
        {
            return null;
        }

        var match = PlaceholderRule().Match(scalar.GetValue<string>());
        return match.Success ? (match.Groups[1].Value, match.Groups[2].Value) : null;
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{0,62}$")]
    private static partial Regex KeyRule();

    [GeneratedRegex("^\\{\\{(node|peers):([a-z0-9][a-z0-9-]{0,62})\\}\\}$")]
    private static partial Regex PlaceholderRule();
}
