using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;
using Virt.Cluster.IntegrationTests.Infrastructure;
using Virt.Clustering;

namespace Virt.Panel.Tests;

/// <summary>The panel as a cluster node (Panel:Etcd) on a real 3-member etcd, beside a node joined by an SDK process.</summary>
public sealed class PanelClusterTests(EtcdCluster etcd) : IClassFixture<EtcdCluster>
{
    private const string Chromium = "/usr/bin/chromium";

    [Fact(Timeout = 180_000)]
    public async Task The_panel_joins_as_its_host_shows_the_nodes_switches_maintenance_and_drains_a_node_from_the_ui()
    {
        var ct = TestContext.Current.CancellationToken;
        var prefix = $"/panel-{Guid.NewGuid():N}/";
        await using var panel = await PanelProcess.StartAsync(ct, [$"--Panel:Etcd={string.Join(",", etcd.ClientUrls)}", $"--Panel:ClusterPrefix={prefix}", "--Panel:HostName=panel-node"]);
        var options = new ClusterOptions { NodeName = "node-b", KeyPrefix = prefix, StateDirectory = Path.Combine(panel.State, "other-node") };
        foreach (var url in etcd.ClientUrls)
        {
            options.Endpoints.Add(url);
        }

        await using var other = new ClusterManager(options);
        await other.JoinAsync(new NodeCapacity(2, 4L << 30, 3L << 30, ["lan"], [], "7.2.22"), ct);
        using var api = panel.Api();

        // The panel joins in the background when it starts: wait until both nodes are online.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        JsonElement cluster;
        while (true)
        {
            cluster = await api.GetFromJsonAsync<JsonElement>("/api/cluster/nodes", ct);
            var online = cluster.GetProperty("nodes").EnumerateArray().Count(n => n.GetProperty("node").GetProperty("state").GetString() == "Online");
            if (online == 2 || DateTime.UtcNow > deadline)
            {
                break;
            }

            await Task.Delay(200, ct);
        }

        Assert.Equal("panel-node", cluster.GetProperty("self").GetString());
        Assert.True(cluster.GetProperty("holdsLease").GetBoolean());
        Assert.Equal(["node-b", "panel-node"], cluster.GetProperty("nodes").EnumerateArray().Select(n => n.GetProperty("node").GetProperty("name").GetString()));
        Assert.All(cluster.GetProperty("nodes").EnumerateArray(), n => Assert.Equal("Online", n.GetProperty("node").GetProperty("state").GetString()));

        var unknown = await api.PostAsJsonAsync("/api/cluster/nodes/node-x/maintenance", new { maintenance = true }, ct);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Contains("node 'node-x' is not in the cluster", await unknown.Content.ReadAsStringAsync(ct), StringComparison.Ordinal);

        HostRequirement.Require(File.Exists(Chromium), $"{Chromium} (apt-get install chromium)");
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new()
        {
            ExecutablePath = Chromium,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });
        var page = await browser.NewPageAsync();
        await page.GotoAsync(panel.Address.ToString());
        await page.GetByTestId("secret").FillAsync(PanelProcess.Password);
        await page.GetByTestId("login").ClickAsync();
        await page.WaitForSelectorAsync("[data-testid=vm-create]");
        await page.GotoAsync(panel.Address + "#/nodes");
        await page.WaitForSelectorAsync("[data-testid=node-state-node-b]:has-text('Online')");
        Assert.Contains("panel-node", await page.GetByTestId("cluster-self").InnerTextAsync(), StringComparison.Ordinal);

        await page.GetByTestId("maintenance-node-b").ClickAsync();
        await page.WaitForSelectorAsync("[data-testid=node-state-node-b]:has-text('Maintenance')");
        Assert.Equal(ClusterNodeState.Maintenance, (await other.GetNodeAsync("node-b", ct)).State);
        await page.GetByTestId("resume-node-b").ClickAsync();
        await page.WaitForSelectorAsync("[data-testid=node-state-node-b]:has-text('Online')");
        Assert.False((await other.GetNodeAsync("node-b", ct)).Maintenance);

        // Draining the panel's own node from the page: the panel runs the node's migration agent, which finds no running
        // clustered VM to move and reports the drain done; the node stays in maintenance until it returns to service.
        page.Dialog += (_, dialog) => dialog.AcceptAsync();
        await page.GetByTestId("drain-panel-node").ClickAsync();
        await page.WaitForSelectorAsync("[data-testid=node-drain-panel-node]:has-text('Done')");
        await page.WaitForSelectorAsync("[data-testid=node-state-panel-node]:has-text('Maintenance')");
        Assert.Equal(ClusterDrainState.Done, (await other.GetDrainAsync("panel-node", ct))!.State);
        var drain = await api.GetFromJsonAsync<JsonElement>("/api/cluster/nodes/panel-node/drain", ct);
        Assert.Equal("Done", drain.GetProperty("state").GetString());
        await page.GetByTestId("resume-panel-node").ClickAsync();
        await page.WaitForSelectorAsync("[data-testid=node-state-panel-node]:has-text('Online')");
        Assert.Equal(HttpStatusCode.NotFound, (await api.GetAsync("/api/cluster/nodes/panel-node/drain", ct)).StatusCode);

        // node-b runs no agent here: its drain is asked (202) and waits, shown as such, until resume calls it off.
        var asked = await api.PostAsync("/api/cluster/nodes/node-b/drain", null, ct);
        Assert.Equal(HttpStatusCode.Accepted, asked.StatusCode);
        Assert.Equal("Requested", (await asked.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("state").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await api.PostAsync("/api/cluster/nodes/node-x/drain", null, ct)).StatusCode);
        var resumed = await api.PostAsync("/api/cluster/nodes/node-b/resume", null, ct);
        Assert.Equal("Online", (await resumed.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("state").GetString());
        Assert.Null(await other.GetDrainAsync("node-b", ct));
    }

    [Fact(Timeout = 60_000)]
    public async Task A_panel_in_no_cluster_says_how_to_join_one()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var panel = await PanelProcess.StartAsync(ct);
        using var api = panel.Api();
        var response = await api.GetAsync("/api/cluster/nodes", ct);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("--Panel:Etcd=http://HOST:2379", await response.Content.ReadAsStringAsync(ct), StringComparison.Ordinal);
    }
}
