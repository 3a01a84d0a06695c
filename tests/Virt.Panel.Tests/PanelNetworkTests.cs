using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Virt.Network.IntegrationTests.Infrastructure;

namespace Virt.Panel.Tests;

/// <summary>The network API against the real rtnetlink, nftables and dnsmasq, in a namespace each test makes (Panel:NetworkNamespace).</summary>
public sealed class PanelNetworkTests
{
    private const string Lab = """{"kind":"nat","name":"lab","ipv4":{"cidr":"192.0.2.0/24","gateway":"192.0.2.1","dhcpStart":"192.0.2.100","dhcpEnd":"192.0.2.200"}}""";

    [Fact(Timeout = 180_000)]
    public async Task A_nat_network_is_defined_planned_applied_inspected_and_deleted_in_a_namespace()
    {
        var ct = TestContext.Current.CancellationToken;
        using var ns = TestNamespace.Create("pn");
        await using var panel = await PanelProcess.StartAsync(ct, [$"--Panel:NetworkNamespace={ns.Path}"]);
        using var api = panel.Api();

        var defined = await api.PostAsync("/api/networks", Body(Lab), ct);
        Assert.Equal(HttpStatusCode.Created, defined.StatusCode);
        var network = await Json(defined, ct);
        Assert.Equal("nat", network.GetProperty("definition").GetProperty("kind").GetString());
        Assert.False(network.GetProperty("applied").GetBoolean());

        var plan = await GetJson(api, "/api/networks/lab/plan", ct);
        Assert.Contains(plan.GetProperty("changes").EnumerateArray(), change => change.GetProperty("layer").GetString() == "Netlink" && change.GetProperty("object").GetString()!.Contains("vn-lab", StringComparison.Ordinal));
        Assert.DoesNotContain("vn-lab", Links(ns));

        var applied = await api.PostAsync("/api/networks/lab/apply", null, ct);
        Assert.Equal(HttpStatusCode.OK, applied.StatusCode);
        Assert.Contains("vn-lab", Links(ns));
        var listed = Assert.Single((await GetJson(api, "/api/networks", ct)).EnumerateArray());
        Assert.True(listed.GetProperty("applied").GetBoolean());
        Assert.Equal(0, listed.GetProperty("pendingChanges").GetInt32());
        Assert.Equal(0, listed.GetProperty("portCount").GetInt32());
        Assert.Equal(0, (await GetJson(api, "/api/networks/lab/plan", ct)).GetProperty("changes").GetArrayLength());
        Assert.Equal(JsonValueKind.Array, (await GetJson(api, "/api/networks/lab/leases", ct)).ValueKind);
        Assert.Equal(0, (await GetJson(api, "/api/networks/lab/ports", ct)).GetArrayLength());
        Assert.Equal(JsonValueKind.Array, (await GetJson(api, "/api/networks/lab/counters", ct)).ValueKind);
        Assert.Equal(0, (await GetJson(api, "/api/host/network/drift", ct)).GetArrayLength());
        var inventory = await GetJson(api, "/api/host/network", ct);
        Assert.Contains(inventory.GetProperty("bridges").EnumerateArray(), bridge => bridge.GetProperty("name").GetString() == "vn-lab");

        var group = await api.PostAsync("/api/security-groups", Body("""{"name":"web","rules":[{"direction":"In","action":"Accept","protocol":"Tcp","destinationPorts":["80"]}]}"""), ct);
        Assert.Equal(HttpStatusCode.Created, group.StatusCode);
        Assert.Equal("web", Assert.Single((await GetJson(api, "/api/security-groups", ct)).EnumerateArray()).GetProperty("name").GetString());
        (await api.DeleteAsync("/api/security-groups/web", ct)).EnsureSuccessStatusCode();

        (await api.DeleteAsync("/api/networks/lab", ct)).EnsureSuccessStatusCode();
        Assert.DoesNotContain("vn-lab", Links(ns));
        Assert.Equal(HttpStatusCode.NotFound, (await api.GetAsync("/api/networks/lab", ct)).StatusCode);
    }

    [Fact(Timeout = 180_000)]
    public async Task A_vlan_and_a_vxlan_network_are_defined_with_their_own_fields_planned_applied_and_deleted_in_a_namespace()
    {
        var ct = TestContext.Current.CancellationToken;
        using var ns = TestNamespace.Create("pn");
        AddTrunkAndUnderlay(ns);
        await using var panel = await PanelProcess.StartAsync(ct, [$"--Panel:NetworkNamespace={ns.Path}"]);
        using var api = panel.Api();

        var vlan = await api.PostAsync("/api/networks", Body("""{"kind":"vlan","name":"trunk","uplink":"t0","trunkVlans":[10,20],"defaultVlan":5}"""), ct);
        Assert.True(vlan.StatusCode == HttpStatusCode.Created, await vlan.Content.ReadAsStringAsync(ct));
        var vlanDefinition = (await Json(vlan, ct)).GetProperty("definition");
        Assert.Equal("t0", vlanDefinition.GetProperty("uplink").GetString());
        Assert.Equal([10, 20], vlanDefinition.GetProperty("trunkVlans").EnumerateArray().Select(v => v.GetInt32()));
        Assert.Equal(5, vlanDefinition.GetProperty("defaultVlan").GetInt32());
        var vlanPlan = Changes(await GetJson(api, "/api/networks/trunk/plan", ct));
        Assert.Contains(vlanPlan, change => change.Object == "link vn-trunk" && change.Detail.Contains("vlan_filtering 1", StringComparison.Ordinal));
        Assert.Contains(vlanPlan, change => change.Object == "vlan 10 on port t0");
        Assert.Contains(vlanPlan, change => change.Object == "vlan 20 on port t0");

        // This host's kernel has no bridge VLAN filtering (docs/network.md): the apply is refused, naming it, and leaves nothing.
        var vlanApplied = await api.PostAsync("/api/networks/trunk/apply", null, ct);
        var vlanAnswer = await vlanApplied.Content.ReadAsStringAsync(ct);
        if (vlanApplied.IsSuccessStatusCode)
        {
            var trunk = ns.Exec("bridge", "-j", "vlan", "show", "dev", "t0");
            Assert.Contains("\"vlan\":10", trunk, StringComparison.Ordinal);
            Assert.Contains("\"vlan\":20", trunk, StringComparison.Ordinal);
        }
        else
        {
            Assert.Contains("VLAN filtering", vlanAnswer, StringComparison.Ordinal);
            Assert.DoesNotContain("vn-trunk", Links(ns));
        }

        var vxlan = await api.PostAsync("/api/networks", Body("""{"kind":"vxlan","name":"ovl","vni":4242,"localAddress":"203.0.113.1","underlayInterface":"u0","peers":["203.0.113.2","203.0.113.3"],"mtu":1400}"""), ct);
        Assert.True(vxlan.StatusCode == HttpStatusCode.Created, await vxlan.Content.ReadAsStringAsync(ct));
        var vxlanDefinition = (await Json(vxlan, ct)).GetProperty("definition");
        Assert.Equal(4242, vxlanDefinition.GetProperty("vni").GetInt32());
        Assert.Equal(["203.0.113.2", "203.0.113.3"], vxlanDefinition.GetProperty("peers").EnumerateArray().Select(p => p.GetString()));
        var vxlanPlan = Changes(await GetJson(api, "/api/networks/ovl/plan", ct));
        Assert.Contains(vxlanPlan, change => change.Object == "link vx-ovl" && change.Detail.Contains("vxlan id 4242 local 203.0.113.1 dstport 4789 dev u0", StringComparison.Ordinal) && change.Detail.Contains("mtu 1400", StringComparison.Ordinal));
        (await api.PostAsync("/api/networks/ovl/apply", null, ct)).EnsureSuccessStatusCode();

        var device = JsonDocument.Parse(ns.Exec("ip", "-d", "-j", "link", "show", "vx-ovl")).RootElement[0];
        Assert.Equal(4242, device.GetProperty("linkinfo").GetProperty("info_data").GetProperty("id").GetInt32());
        Assert.Equal(1400, device.GetProperty("mtu").GetInt32());
        Assert.Equal("vn-ovl", device.GetProperty("master").GetString());
        var fdb = ns.Exec("bridge", "fdb", "show", "dev", "vx-ovl");
        Assert.Contains("dst 203.0.113.2", fdb, StringComparison.Ordinal);
        Assert.Contains("dst 203.0.113.3", fdb, StringComparison.Ordinal);
        Assert.Equal(0, (await GetJson(api, "/api/networks/ovl/plan", ct)).GetProperty("changes").GetArrayLength());

        (await api.DeleteAsync("/api/networks/ovl", ct)).EnsureSuccessStatusCode();
        (await api.DeleteAsync("/api/networks/trunk", ct)).EnsureSuccessStatusCode();
        Assert.DoesNotContain("vx-ovl", Links(ns));
        Assert.DoesNotContain("vn-ovl", Links(ns));
        Assert.DoesNotContain("vn-trunk", Links(ns));
        Assert.Equal(0, (await GetJson(api, "/api/networks", ct)).GetArrayLength());
    }

    [Fact(Timeout = 120_000)]
    public async Task Bad_definitions_are_400_naming_the_field_and_create_nothing_and_changes_need_the_csrf_header()
    {
        var ct = TestContext.Current.CancellationToken;
        using var ns = TestNamespace.Create("pn");
        await using var panel = await PanelProcess.StartAsync(ct, [$"--Panel:NetworkNamespace={ns.Path}"]);
        using var api = panel.Api();
        var before = Links(ns);

        foreach (var (body, field) in new[]
        {
            ("""{"kind":"vlan","name":"trunk","defaultVlan":5000}""", "DefaultVlan"),
            ("""{"kind":"isolated","name":"iso","bridgeName":"a-sixteen-bytes!"}""", "BridgeName"),
            ("""{"kind":"mesh","name":"m"}""", "kind"),
            ("""{"name":"nokind"}""", "kind"),
            ("""{"kind":"nat","name":"lab","ipv4":{"cidr":"192.0.2.0/24","gateway":"192.0.2.1"},"vni":5}""", "vni"),
        })
        {
            var refused = await api.PostAsync("/api/networks", Body(body), ct);
            var text = await refused.Content.ReadAsStringAsync(ct);
            Assert.True(refused.StatusCode == HttpStatusCode.BadRequest, $"{body}: {refused.StatusCode} {text}");
            Assert.Contains(field, text, StringComparison.Ordinal);
        }

        var badGroup = await api.PostAsync("/api/security-groups", Body("""{"name":"web","rules":[{"direction":"Sideways","action":"Accept"}]}"""), ct);
        Assert.Equal(HttpStatusCode.BadRequest, badGroup.StatusCode);
        Assert.Contains("direction", await badGroup.Content.ReadAsStringAsync(ct), StringComparison.Ordinal);

        Assert.Equal(0, (await GetJson(api, "/api/networks", ct)).GetArrayLength());
        Assert.Equal(0, (await GetJson(api, "/api/security-groups", ct)).GetArrayLength());
        Assert.Equal(before, Links(ns));
        Assert.Equal(HttpStatusCode.NotFound, (await api.PostAsync("/api/networks/nosuch/apply", null, ct)).StatusCode);

        // A browser session (cookie) changes networks only with the panel's header, like every other change.
        var cookies = new CookieContainer();
        using var browser = new HttpClient(new HttpClientHandler { CookieContainer = cookies }) { BaseAddress = panel.Address };
        (await browser.PostAsJsonAsync("/api/login", new { secret = PanelProcess.Password }, ct)).EnsureSuccessStatusCode();
        Assert.Equal(HttpStatusCode.Forbidden, (await browser.PostAsync("/api/networks", Body(Lab), ct)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/api/networks", ct)).StatusCode);
        using var anonymous = new HttpClient { BaseAddress = panel.Address };
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/host/network", ct)).StatusCode);
        Assert.Equal(0, (await GetJson(api, "/api/networks", ct)).GetArrayLength());
    }

    /// <summary>A trunk uplink (t0) and an underlay with this host's address 203.0.113.1/24 (u0), each the end of a veth pair in the namespace.</summary>
    internal static void AddTrunkAndUnderlay(TestNamespace ns)
    {
        ns.Exec("ip", "link", "add", "t0", "type", "veth", "peer", "name", "t1");
        ns.Exec("ip", "link", "add", "u0", "type", "veth", "peer", "name", "u1");
        ns.Exec("ip", "address", "add", "203.0.113.1/24", "dev", "u0");
        ns.Exec("ip", "link", "set", "u0", "up");
        ns.Exec("ip", "link", "set", "u1", "up");
    }

    private static List<(string Object, string Detail)> Changes(JsonElement plan) =>
        [.. plan.GetProperty("changes").EnumerateArray().Select(change => (change.GetProperty("object").GetString()!, change.GetProperty("detail").GetString()!))];

    private static StringContent Body(string json) => new(json, Encoding.UTF8, "application/json");

    private static async Task<JsonElement> Json(HttpResponseMessage response, CancellationToken ct) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct)).RootElement.Clone();

    private static async Task<JsonElement> GetJson(HttpClient api, string path, CancellationToken ct)
    {
        var response = await api.GetAsync(path, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        Assert.True(response.IsSuccessStatusCode, $"GET {path}: {response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>The links in the namespace, from <c>ip -j link</c>.</summary>
    internal static List<string> Links(TestNamespace ns) =>
        [.. JsonDocument.Parse(ns.Exec("ip", "-j", "link")).RootElement.EnumerateArray().Select(link => link.GetProperty("ifname").GetString()!).Order()];
}
