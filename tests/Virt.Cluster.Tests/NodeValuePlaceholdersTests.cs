using System.Text.Json;
using Virt.Cluster.Definitions;
using Virt.Clustering;

namespace Virt.Cluster.Tests;

/// <summary>Per-node values filled into a shared definition: whole JSON strings only, never JSON of their own.</summary>
public sealed class NodeValuePlaceholdersTests
{
    private static readonly IReadOnlyList<ClusterNode> Members =
    [
        Member("node-c", new() { ["underlay"] = "203.0.113.3" }),
        Member("node-a", new() { ["underlay"] = "203.0.113.1" }),
        Member("node-b", new() { ["underlay"] = "203.0.113.2", ["uplink"] = "eth1" }),
        Member("node-d", new()),
    ];

    [Fact]
    public void Node_becomes_this_nodes_value_and_peers_every_other_members_in_name_order()
    {
        var json = """{"kind":"vxlan","name":"overlay","localAddress":"{{node:underlay}}","peers":["198.51.100.9","{{peers:underlay}}"],"note":"{{node:underlay}} stays text inside a longer string"}""";

        var rendered = JsonDocument.Parse(NodeValuePlaceholders.Render(json, "network/overlay", "node-a", Own(), Members)).RootElement;

        Assert.Equal("203.0.113.1", rendered.GetProperty("localAddress").GetString());
        Assert.Equal(["198.51.100.9", "203.0.113.2", "203.0.113.3"], rendered.GetProperty("peers").EnumerateArray().Select(peer => peer.GetString()));
        Assert.Equal("{{node:underlay}} stays text inside a longer string", rendered.GetProperty("note").GetString());
    }

    [Fact]
    public void A_definition_without_placeholders_is_returned_as_it_is()
    {
        const string json = """{"kind":"isolated","name":"lan","mtu":1400}""";

        Assert.Same(json, NodeValuePlaceholders.Render(json, "network/lan", "node-a", Own(), Members));
    }

    [Fact]
    public void A_value_is_a_string_in_the_document_whatever_it_holds()
    {
        var own = new Dictionary<string, string> { ["underlay"] = "\", \"kind\": \"bridge" };

        var rendered = JsonDocument.Parse(NodeValuePlaceholders.Render("""{"kind":"vxlan","localAddress":"{{node:underlay}}"}""", "network/overlay", "node-a", own, Members)).RootElement;

        Assert.Equal("vxlan", rendered.GetProperty("kind").GetString());
        Assert.Equal("\", \"kind\": \"bridge", rendered.GetProperty("localAddress").GetString());
    }

    [Fact]
    public void A_missing_value_and_peers_outside_a_list_are_refused_naming_the_definition_and_the_fix()
    {
        var missing = Assert.Throws<ClusterException>(() => NodeValuePlaceholders.Render("""{"a":"{{node:uplink}}"}""", "network/overlay", "node-a", Own(), Members));
        Assert.Contains("network/overlay uses {{node:uplink}}, but node node-a has no value 'uplink'", missing.Message, StringComparison.Ordinal);
        Assert.Contains("ClusterOptions.NodeValues[\"uplink\"]", missing.Message, StringComparison.Ordinal);

        var scalar = Assert.Throws<ClusterException>(() => NodeValuePlaceholders.Render("""{"a":"{{peers:underlay}}"}""", "network/overlay", "node-a", Own(), Members));
        Assert.Contains("outside a list", scalar.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("underlay", true)]
    [InlineData("vxlan-local-2", true)]
    [InlineData("Underlay", false)]
    [InlineData("-x", false)]
    [InlineData("a b", false)]
    [InlineData("", false)]
    public void Keys_are_lowercase_letters_digits_and_dashes(string key, bool valid) =>
        Assert.Equal(valid, NodeValuePlaceholders.IsKey(key));

    [Fact]
    public void The_options_refuse_a_bad_key_or_an_empty_value()
    {
        var options = new ClusterOptions { NodeName = "node-a" };
        options.Endpoints.Add("http://127.0.0.1:2379");
        options.NodeValues["Bad Key"] = "x";
        options.NodeValues["underlay"] = string.Empty;

        var result = new ClusterOptionsValidator().Validate(null, options);

        Assert.True(result.Failed);
        Assert.Contains("'Bad Key'", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("'underlay' = ''", result.FailureMessage, StringComparison.Ordinal);
    }

    private static Dictionary<string, string> Own() => new() { ["underlay"] = "203.0.113.1" };

    private static ClusterNode Member(string name, Dictionary<string, string> values) =>
        new(name, ClusterNodeState.Online, null, DateTimeOffset.UnixEpoch, null, false) { Values = values };
}
