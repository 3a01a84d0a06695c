using System.Text.Json;
using Virt.Network.IntegrationTests.Infrastructure;

namespace Virt.Ctl.Tests;

/// <summary>virtctl's net and secgroup commands against the real rtnetlink, nftables and dnsmasq, in a namespace each test makes.</summary>
public sealed class VirtctlNetworkTests
{
    private const string Lab = """{"kind":"nat","name":"lab","ipv4":{"cidr":"192.0.2.0/24","gateway":"192.0.2.1","dhcpStart":"192.0.2.100","dhcpEnd":"192.0.2.200"}}""";

    private const string Web = """{"name":"web","rules":[{"direction":"In","action":"Accept","protocol":"Tcp","destinationPorts":["80","443"]}]}""";

    [Fact(Timeout = 180_000)]
    public async Task A_nat_network_is_defined_planned_applied_inspected_and_deleted_in_a_namespace()
    {
        using var ns = TestNamespace.Create("pn");
        using var virtctl = new Virtctl(TestContext.Current.CancellationToken);
        virtctl.Environment["VIRTCTL_NETNS"] = ns.Path;
        var definition = Write(virtctl, "lab.json", Lab);

        var defined = await virtctl.JsonAsync("net", "define", definition);
        Assert.Equal("nat", defined.GetProperty("definition").GetProperty("kind").GetString());
        Assert.False(defined.GetProperty("applied").GetBoolean());
        var plan = await virtctl.JsonAsync("net", "plan", "lab");
        Assert.Contains(plan.GetProperty("changes").EnumerateArray(), change => change.GetProperty("object").GetString()!.Contains("vn-lab", StringComparison.Ordinal));
        Assert.DoesNotContain("vn-lab", ns.Exec("ip", "-j", "link"), StringComparison.Ordinal);

        await virtctl.JsonAsync("net", "apply", "lab");
        Assert.Contains(Links(ns), link => link == "vn-lab");
        var listed = Assert.Single((await virtctl.JsonAsync("net", "list")).EnumerateArray());
        Assert.True(listed.GetProperty("applied").GetBoolean());
        Assert.Equal(0, listed.GetProperty("pendingChanges").GetInt32());
        Assert.Equal(0, (await virtctl.JsonAsync("net", "plan", "lab")).GetProperty("changes").GetArrayLength());
        Assert.Equal("192.0.2.1", (await virtctl.JsonAsync("net", "show", "lab")).GetProperty("definition").GetProperty("ipv4").GetProperty("gateway").GetString());
        Assert.Equal(JsonValueKind.Array, (await virtctl.JsonAsync("net", "leases", "lab")).ValueKind);
        Assert.Equal(0, (await virtctl.JsonAsync("net", "ports", "lab")).GetArrayLength());
        Assert.Equal(JsonValueKind.Array, (await virtctl.JsonAsync("net", "counters", "lab")).ValueKind);
        Assert.Equal(0, (await virtctl.JsonAsync("net", "drift")).GetArrayLength());
        var inventory = await virtctl.JsonAsync("net", "inventory");
        Assert.Contains(inventory.GetProperty("addresses").EnumerateArray(), address => address.GetProperty("cidr").GetString() == "192.0.2.1/24");

        // The people's output: a table naming the network, and plain words for an empty plan.
        var (exit, table, _) = await virtctl.RunAsync("net", "list");
        Assert.Equal(0, exit);
        Assert.Contains("192.0.2.0/24", table, StringComparison.Ordinal);

        await virtctl.JsonAsync("secgroup", "define", Write(virtctl, "web.json", Web));
        var group = Assert.Single((await virtctl.JsonAsync("secgroup", "list")).EnumerateArray());
        Assert.Equal("web", group.GetProperty("name").GetString());
        await virtctl.JsonAsync("secgroup", "delete", "web");
        Assert.Equal(0, (await virtctl.JsonAsync("secgroup", "list")).GetArrayLength());

        await virtctl.JsonAsync("net", "delete", "lab");
        Assert.DoesNotContain(Links(ns), link => link == "vn-lab");
        Assert.Equal(0, (await virtctl.JsonAsync("net", "list")).GetArrayLength());
        Assert.Equal(3, (await virtctl.RunAsync("net", "show", "lab")).ExitCode);
    }

    [Fact(Timeout = 120_000)]
    public async Task Bad_definitions_exit_2_naming_the_field_and_create_nothing()
    {
        using var ns = TestNamespace.Create("pn");
        using var virtctl = new Virtctl(TestContext.Current.CancellationToken);
        virtctl.Environment["VIRTCTL_NETNS"] = ns.Path;
        var before = Links(ns);

        var vlan = await virtctl.RunAsync("net", "define", Write(virtctl, "vlan.json", """{"kind":"vlan","name":"trunk","defaultVlan":5000}"""));
        Assert.Equal(2, vlan.ExitCode);
        Assert.Contains("DefaultVlan", vlan.Error, StringComparison.Ordinal);
        var bridge = await virtctl.RunAsync("net", "define", Write(virtctl, "bridge.json", """{"kind":"isolated","name":"iso","bridgeName":"a-sixteen-bytes!"}"""));
        Assert.Equal(2, bridge.ExitCode);
        Assert.Contains("BridgeName", bridge.Error, StringComparison.Ordinal);
        var kind = await virtctl.RunAsync("net", "define", Write(virtctl, "kind.json", """{"kind":"mesh","name":"m"}"""));
        Assert.Equal(2, kind.ExitCode);
        Assert.Contains("kind", kind.Error, StringComparison.Ordinal);
        var field = await virtctl.RunAsync("net", "define", Write(virtctl, "field.json", """{"kind":"nat","name":"lab","ipv4":{"cidr":"192.0.2.0/24","gateway":"192.0.2.1"},"vni":5}"""));
        Assert.Equal(2, field.ExitCode);
        Assert.Contains("vni", field.Error, StringComparison.Ordinal);

        Assert.Equal(0, (await virtctl.JsonAsync("net", "list")).GetArrayLength());
        Assert.Equal(before, Links(ns));
        Assert.Equal(3, (await virtctl.RunAsync("net", "apply", "nosuch")).ExitCode);
    }

    private static string Write(Virtctl virtctl, string name, string json)
    {
        var path = Path.Combine(virtctl.State, name);
        File.WriteAllText(path, json);
        return path;
    }

    private static List<string> Links(TestNamespace ns) =>
        [.. JsonDocument.Parse(ns.Exec("ip", "-j", "link")).RootElement.EnumerateArray().Select(link => link.GetProperty("ifname").GetString()!).Order()];
}
