using Virt.Kvm.Testing;
using System.Net.Http.Json;
using Microsoft.Playwright;

namespace Virt.Panel.Tests;

/// <summary>The web UI in Debian's chromium through Playwright: a VM and a container end to end, and the phone layout.</summary>
public sealed class PanelBrowserTests
{
    private const string Chromium = "/usr/bin/chromium";

    /// <summary>A panel process and Debian's chromium (no background networking: this host reaches nothing outside), both gone after the test.</summary>
    private static async Task WithPanelAndBrowserAsync(Func<PanelProcess, IBrowser, CancellationToken, Task> test, CancellationToken ct, IEnumerable<string>? panelArguments = null)
    {
        HostRequirement.Require(File.Exists(Chromium), $"{Chromium} (apt-get install chromium)");
        await using var panel = await PanelProcess.StartAsync(ct, panelArguments);
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new()
        {
            ExecutablePath = Chromium,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });
        await test(panel, browser, ct);
    }

    private static async Task LogInAsync(IPage page, Uri address)
    {
        await page.GotoAsync(address.ToString());
        await page.GetByTestId("secret").FillAsync(PanelProcess.Password);
        await page.GetByTestId("login").ClickAsync();
        await page.WaitForSelectorAsync("[data-testid=vm-create]");
    }

    /// <summary>Every Content-Security-Policy violation chromium reports on the page's console (a blocked script, style, image or socket).</summary>
    private static System.Collections.Concurrent.ConcurrentQueue<string> WatchContentSecurityPolicy(IPage page)
    {
        var violations = new System.Collections.Concurrent.ConcurrentQueue<string>();
        page.Console += (_, message) =>
        {
            if (message.Text.Contains("Content Security Policy", StringComparison.OrdinalIgnoreCase))
            {
                violations.Enqueue(message.Text);
            }
        };
        return violations;
    }

    /// <summary>A logged-in page on the Networks page that accepts the delete's confirm() and watches the Content-Security-Policy.</summary>
    private static async Task<(IPage Page, System.Collections.Concurrent.ConcurrentQueue<string> Violations)> OpenNetworksPageAsync(PanelProcess panel, IBrowser browser)
    {
        var page = await browser.NewPageAsync();
        page.Dialog += (_, dialog) => dialog.AcceptAsync();
        var violations = WatchContentSecurityPolicy(page);
        await LogInAsync(page, panel.Address);
        await page.GotoAsync(panel.Address + "#/networks");
        return (page, violations);
    }

    private static string Screenshots => Environment.GetEnvironmentVariable("VIRT_PANEL_SCREENSHOTS") is { Length: > 0 } directory ? directory : Path.GetTempPath();

    [Fact(Timeout = 300_000)]
    public async Task A_vm_is_created_started_watched_on_its_serial_console_and_stopped_from_the_ui()
    {
        Assert.True(File.Exists(Path.Combine(Kvm.Testing.EmbeddedGuest.DefaultDirectory, "vmlinux")), "the test guest (scripts/build-guest.sh)");
        await WithPanelAndBrowserAsync(async (panel, browser, ct) =>
        {
            var page = await browser.NewPageAsync(new() { ViewportSize = new() { Width = 1280, Height = 900 } });
            var violations = WatchContentSecurityPolicy(page);
            await LogInAsync(page, panel.Address);

            await page.GetByTestId("vm-name").FillAsync("uivm");
            await page.GetByTestId("vm-create").ClickAsync();
            await page.WaitForSelectorAsync("[data-testid=state-uivm]:has-text('Stopped')");
            await page.GetByTestId("open-uivm").ClickAsync();
            await page.GetByTestId("vm-start").ClickAsync();

            // The state cell is updated by the server-sent events, not by a reload.
            await page.WaitForSelectorAsync("[data-testid=state-uivm]:has-text('Running')", new() { Timeout = 60_000 });
            await page.GetByTestId("open-serial").ClickAsync();
            await page.WaitForFunctionAsync("() => document.querySelector('#terminal .xterm-rows')?.innerText.includes('VIRT-GUEST-READY')", null, new() { Timeout = 120_000 });
            await page.GetByTestId("open-vnc").ClickAsync();
            await page.WaitForSelectorAsync("[data-testid=vnc-connected]", new() { Timeout = 30_000 });

            // The PID followed the SSE feed too.
            Assert.Matches("^[0-9]+$", await page.Locator("[data-live-pid='vms:uivm']").InnerTextAsync());

            // Both consoles stay open side by side.
            Assert.Contains("VIRT-GUEST-READY", await page.Locator("#terminal .xterm-rows").InnerTextAsync(), StringComparison.Ordinal);
            await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "panel-vm.png"), FullPage = true });

            await page.GetByTestId("vm-stop").ClickAsync();
            await page.WaitForSelectorAsync("[data-testid=state-uivm]:has-text('Stopped')", new() { Timeout = 60_000 });

            // xterm.js, noVNC and the pages worked under the panel's Content-Security-Policy without tripping it.
            Assert.Empty(violations);
        }, TestContext.Current.CancellationToken);
    }

    [Fact(Timeout = 180_000)]
    public async Task A_container_is_created_started_and_runs_a_command_from_the_ui()
    {
        await WithPanelAndBrowserAsync(async (panel, browser, ct) =>
        {
            var page = await browser.NewPageAsync();
            var violations = WatchContentSecurityPolicy(page);
            await LogInAsync(page, panel.Address);
            var name = "ui" + Guid.NewGuid().ToString("N")[..6];
            await page.GotoAsync(panel.Address + "#/containers");
            await page.GetByTestId("ct-name").FillAsync(name);
            await page.GetByTestId("ct-create").ClickAsync();
            await page.GetByTestId($"ct-start-{name}").ClickAsync();
            await page.WaitForSelectorAsync($"[data-testid=state-{name}]:has-text('Running')", new() { Timeout = 60_000 });
            await page.GotoAsync(panel.Address + $"#/ct/{name}");
            await page.GetByTestId("ct-command").FillAsync("echo hi-from-$(hostname)");
            await page.GetByTestId("ct-exec").ClickAsync();
            await page.WaitForSelectorAsync($"[data-testid=ct-output]:has-text('hi-from-{name}')", new() { Timeout = 30_000 });
            Assert.Contains("[exit 0]", await page.GetByTestId("ct-output").InnerTextAsync(), StringComparison.Ordinal);
            Assert.Empty(violations);
        }, TestContext.Current.CancellationToken);
    }

    [Fact(Timeout = 180_000)]
    public async Task The_migrate_to_host_form_offers_the_peers_keeps_the_token_off_the_page_and_shows_a_refusal()
    {
        const string hostToken = "0123456789abcdef0123456789abcdef-browser";
        const string peer = "https://198.51.100.2:8006";
        var tokens = Directory.CreateTempSubdirectory("virt-host-token-").FullName;
        try
        {
            var tokenFile = Path.Combine(tokens, "host-token");
            await File.WriteAllTextAsync(tokenFile, hostToken + "\n", TestContext.Current.CancellationToken);
            File.SetUnixFileMode(tokenFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            await WithPanelAndBrowserAsync(async (panel, browser, ct) =>
            {
                using var api = panel.Api();
                (await api.PostAsJsonAsync("/api/vms", new { name = "mover", memoryMiB = 128 }, ct)).EnsureSuccessStatusCode();
                var page = await browser.NewPageAsync();
                var violations = WatchContentSecurityPolicy(page);
                await LogInAsync(page, panel.Address);
                await page.GotoAsync(panel.Address + "#/vm/mover");

                // The configured peer is offered (and filled in); the hosts' token is nowhere on the page.
                await page.WaitForFunctionAsync($"() => document.querySelector('[data-testid=migrate-destination]')?.value === '{peer}'");
                Assert.Equal(1, await page.Locator($"#peer-hosts option[value='{peer}']").CountAsync());
                Assert.DoesNotContain(hostToken, await page.ContentAsync(), StringComparison.Ordinal);

                // A panel that is not a configured peer: refused at once (the hosts' token never leaves), with the fix.
                await page.GetByTestId("migrate-destination").FillAsync("https://203.0.113.9:8006");
                await page.GetByTestId("migrate-to").ClickAsync();
                await page.WaitForSelectorAsync("[data-testid=error]:has-text('is not one of this panel')", new() { Timeout = 30_000 });
                Assert.Contains("Panel:PeerHosts", await page.GetByTestId("error").InnerTextAsync(), StringComparison.Ordinal);

                // A plain-http peer elsewhere: the task fails and the form shows why and what to do.
                await page.GetByTestId("migrate-destination").FillAsync("http://203.0.113.7:8006");
                await page.GetByTestId("migrate-to").ClickAsync();
                await page.WaitForSelectorAsync("[data-testid=error]:has-text('is not https')", new() { Timeout = 30_000 });
                Assert.Contains("give https://HOST:PORT", await page.GetByTestId("error").InnerTextAsync(), StringComparison.Ordinal);
                Assert.Equal("Stopped", await page.GetByTestId("state-mover").InnerTextAsync());

                // The form fits a phone's width too.
                await page.SetViewportSizeAsync(390, 844);
                var overflow = await page.EvaluateAsync<int>("() => document.documentElement.scrollWidth - window.innerWidth");
                Assert.True(overflow <= 0, $"the VM page with the migrate form is {overflow} px wider than a phone screen");
                Assert.Empty(violations);
            }, TestContext.Current.CancellationToken, [$"--Panel:HostTokenFile={tokenFile}", $"--Panel:PeerHosts={peer};http://203.0.113.7:8006"]);
        }
        finally
        {
            Directory.Delete(tokens, recursive: true);
        }
    }

    [Fact(Timeout = 180_000)]
    public async Task A_nat_network_is_defined_previewed_applied_and_deleted_from_the_ui()
    {
        using var ns = Virt.Network.IntegrationTests.Infrastructure.TestNamespace.Create("pn");
        await WithPanelAndBrowserAsync(async (panel, browser, ct) =>
        {
            var (page, violations) = await OpenNetworksPageAsync(panel, browser);
            await page.GetByTestId("net-kind").SelectOptionAsync("nat");
            await page.GetByTestId("net-name").FillAsync("uinet");
            await page.GetByTestId("net-cidr").FillAsync("198.51.100.0/24");
            await page.GetByTestId("net-gateway").FillAsync("198.51.100.1");
            await page.GetByTestId("net-dhcp-start").FillAsync("198.51.100.10");
            await page.GetByTestId("net-dhcp-end").FillAsync("198.51.100.50");
            await page.GetByTestId("net-define").ClickAsync();

            // The network's page previews the plan; nothing is on the host until Apply.
            await page.WaitForSelectorAsync("[data-testid=net-plan]:has-text('vn-uinet')");
            Assert.DoesNotContain("vn-uinet", PanelNetworkTests.Links(ns));
            await page.GetByTestId("net-apply").ClickAsync();
            await page.WaitForSelectorAsync("[data-testid=net-state][data-applied=true]");
            await page.WaitForSelectorAsync("[data-testid=plan-empty]");
            Assert.Contains("vn-uinet", PanelNetworkTests.Links(ns));
            await page.WaitForSelectorAsync("[data-testid=leases-empty]");
            await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "panel-network.png"), FullPage = true });

            await page.GotoAsync(panel.Address + "#/hostnet");
            await page.WaitForSelectorAsync("[data-testid=drift-empty]");
            Assert.Contains("198.51.100.1/24", await page.Locator("main").InnerTextAsync(), StringComparison.Ordinal);

            await page.GotoAsync(panel.Address + "#/net/uinet");
            await page.GetByTestId("net-delete").ClickAsync();
            await page.WaitForSelectorAsync("[data-testid=net-define]");
            Assert.DoesNotContain("vn-uinet", PanelNetworkTests.Links(ns));
            Assert.Empty(violations);
        }, TestContext.Current.CancellationToken, [$"--Panel:NetworkNamespace={ns.Path}"]);
    }

    [Fact(Timeout = 180_000)]
    public async Task A_vlan_and_a_vxlan_network_are_defined_from_the_form_with_their_own_fields()
    {
        using var ns = Virt.Network.IntegrationTests.Infrastructure.TestNamespace.Create("pn");
        PanelNetworkTests.AddTrunkAndUnderlay(ns);
        await WithPanelAndBrowserAsync(async (panel, browser, ct) =>
        {
            // VLAN: the subnet fields give way to the trunk's; the definition carries them, the plan tags the trunk.
            var (page, violations) = await OpenNetworksPageAsync(panel, browser);
            await page.GetByTestId("net-kind").SelectOptionAsync("vlan");
            Assert.False(await page.GetByTestId("net-cidr").IsVisibleAsync());
            Assert.False(await page.GetByTestId("net-vni").IsVisibleAsync());
            await page.GetByTestId("net-name").FillAsync("uivlan");
            await page.GetByTestId("net-uplink").FillAsync("t0");
            await page.GetByTestId("net-trunk-vlans").FillAsync("10, 20");
            await page.GetByTestId("net-default-vlan").FillAsync("5");
            await page.GetByTestId("net-define").ClickAsync();
            await page.WaitForSelectorAsync("[data-testid=net-plan]:has-text('vlan 20 on port t0')");
            var vlanPage = await page.Locator("main").InnerTextAsync();
            Assert.Contains("trunk t0 (10,20), default VLAN 5", vlanPage, StringComparison.Ordinal);
            Assert.Contains("vlan_filtering 1", vlanPage, StringComparison.Ordinal);
            await page.GetByTestId("net-delete").ClickAsync();
            await page.WaitForSelectorAsync("[data-testid=net-define]");

            // VXLAN: VNI, this host's underlay address and interface, peers and MTU; applied, the device is on the host.
            await page.GetByTestId("net-kind").SelectOptionAsync("vxlan");
            Assert.False(await page.GetByTestId("net-uplink").IsVisibleAsync());
            await page.GetByTestId("net-name").FillAsync("uiovl");
            await page.GetByTestId("net-vni").FillAsync("4343");
            await page.GetByTestId("net-local-address").FillAsync("203.0.113.1");
            await page.GetByTestId("net-underlay").FillAsync("u0");
            await page.GetByTestId("net-peers").FillAsync("203.0.113.2, 203.0.113.3");
            await page.GetByTestId("net-mtu").FillAsync("1400");
            await page.GetByTestId("net-define").ClickAsync();
            await page.WaitForSelectorAsync("[data-testid=net-plan]:has-text('vx-uiovl')");
            Assert.Contains("VNI 4343, local 203.0.113.1 dev u0, peers 203.0.113.2,203.0.113.3", await page.Locator("main").InnerTextAsync(), StringComparison.Ordinal);
            await page.GetByTestId("net-apply").ClickAsync();
            await page.WaitForSelectorAsync("[data-testid=net-state][data-applied=true]");
            Assert.Contains("vx-uiovl", PanelNetworkTests.Links(ns));
            Assert.Contains("mtu 1400", ns.Exec("ip", "link", "show", "vx-uiovl"), StringComparison.Ordinal);
            Assert.Contains("dst 203.0.113.3", ns.Exec("bridge", "fdb", "show", "dev", "vx-uiovl"), StringComparison.Ordinal);

            await page.GetByTestId("net-delete").ClickAsync();
            await page.WaitForSelectorAsync("[data-testid=net-define]");
            Assert.DoesNotContain("vx-uiovl", PanelNetworkTests.Links(ns));
            Assert.Empty(violations);
        }, TestContext.Current.CancellationToken, [$"--Panel:NetworkNamespace={ns.Path}"]);
    }

    [Fact(Timeout = 120_000)]
    public async Task Every_page_fits_a_phone_screen_without_horizontal_overflow()
    {
        await WithPanelAndBrowserAsync(async (panel, browser, ct) =>
        {
            var phone = await browser.NewContextAsync(new() { ViewportSize = new() { Width = 390, Height = 844 }, DeviceScaleFactor = 2, IsMobile = true, HasTouch = true });
            var page = await phone.NewPageAsync();
            await LogInAsync(page, panel.Address);
            foreach (var route in new[] { "vms", "containers", "storage", "networks", "hostnet", "pci", "host", "tasks" })
        {
                await page.GotoAsync(panel.Address + "#/" + route);
                await page.WaitForSelectorAsync("main h1");
                var screenshot = Path.Combine(Screenshots, $"panel-phone-{route}.png");
                await page.ScreenshotAsync(new() { Path = screenshot, FullPage = true });
                // The full-page screenshot is exactly the phone's width (390 px at 2×): nothing widened the page.
                var png = await File.ReadAllBytesAsync(screenshot, ct);
                Assert.Equal(780, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16, 4)));
                var overflow = await page.EvaluateAsync<int>("() => document.documentElement.scrollWidth - window.innerWidth");
                Assert.True(overflow <= 0, $"#/{route} is {overflow} px wider than the phone screen");
            }
        }, TestContext.Current.CancellationToken);
    }
}
