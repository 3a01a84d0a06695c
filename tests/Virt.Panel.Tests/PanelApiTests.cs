using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Virt.Panel.Tests;

/// <summary>The REST API: authentication on by default, CSRF header for cookie sessions, OpenAPI, typed errors.</summary>
public sealed class PanelApiTests
{
    [Fact(Timeout = 120_000)]
    public async Task The_api_needs_a_login_refuses_cookie_changes_without_the_header_and_describes_itself()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var panel = await PanelProcess.StartAsync(ct);
        using var anonymous = new HttpClient { BaseAddress = panel.Address };
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/vms", ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsJsonAsync("/api/login", new { secret = "wrong" }, ct)).StatusCode);

        var cookies = new CookieContainer();
        using var browser = new HttpClient(new HttpClientHandler { CookieContainer = cookies }) { BaseAddress = panel.Address };
        (await browser.PostAsJsonAsync("/api/login", new { secret = PanelProcess.Password }, ct)).EnsureSuccessStatusCode();
        var cookie = cookies.GetCookies(panel.Address)["virt_session"];
        Assert.NotNull(cookie);
        Assert.True(cookie.HttpOnly);
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/api/vms", ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await browser.PostAsJsonAsync("/api/containers", new { name = "csrf" }, ct)).StatusCode);

        using var api = panel.Api();
        var missing = await api.GetAsync("/api/vms/nosuch", ct);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Contains("does not exist", await missing.Content.ReadAsStringAsync(ct), StringComparison.Ordinal);
        var invalid = await api.PostAsJsonAsync("/api/vms", new { name = "bad name!" }, ct);
        Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);

        // The OpenAPI document is an endpoint like the others: it needs a login.
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/openapi/v1.json", ct)).StatusCode);
        var openApi = JsonDocument.Parse(await api.GetStringAsync("/openapi/v1.json", ct)).RootElement.GetProperty("paths");
        foreach (var path in new[] { "/api/vms", "/api/vms/{name}/start", "/api/containers/{name}/exec", "/api/storage/pools", "/api/pci/devices", "/api/host/readiness", "/api/tasks/{id}", "/api/networks/{name}/plan", "/api/networks/{name}/apply", "/api/host/network/drift" })
        {
            Assert.True(openApi.TryGetProperty(path, out _), path);
        }

        var readiness = JsonDocument.Parse(await api.GetStringAsync("/api/host/readiness", ct)).RootElement.GetProperty("checks");
        Assert.Equal(11, readiness.GetArrayLength());
    }
}
