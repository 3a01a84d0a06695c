using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Virt.Panel.Tests;

/// <summary>
/// The host-to-host endpoints between two panel processes: the incoming endpoint opens only with the hosts' shared
/// token (never with a panel user's secret, never without a configured token), and the source's migrate-to task
/// carries the VM's spec to the destination and reports what the destination answered.
/// </summary>
public sealed class PanelHostToHostTests : IDisposable
{
    private const string HostToken = "0123456789abcdef0123456789abcdef-hosts";
    private readonly string _tokens = Directory.CreateTempSubdirectory("virt-host-token-").FullName;

    public void Dispose() => Directory.Delete(_tokens, recursive: true);

    [Fact(Timeout = 120_000)]
    public async Task The_incoming_endpoint_opens_only_with_the_hosts_token()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var destination = await PanelProcess.StartAsync(ct, [$"--Panel:HostTokenFile={TokenFile(HostToken)}"]);
        await using var unconfigured = await PanelProcess.StartAsync(ct);
        var spec = new { name = "moving", disks = new[] { new { id = "root", path = "/srv/images/moving.qcow2" } } };

        using var anonymous = new HttpClient { BaseAddress = destination.Address };
        var none = await anonymous.PostAsJsonAsync("/api/host-to-host/incoming", new { spec }, ct);
        Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
        Assert.Contains("X-Virt-Host-Token", await none.Content.ReadAsStringAsync(ct), StringComparison.Ordinal);

        using var panelUser = destination.Api();
        Assert.Equal(HttpStatusCode.Unauthorized, (await panelUser.PostAsJsonAsync("/api/host-to-host/incoming", new { spec }, ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Incoming(destination, "wrong-token-wrong-token-wrong-token", spec, ct)).StatusCode);

        // With the token the request reaches the endpoint, which applies the panel's own rules to the spec (no host files by default).
        var admitted = await Incoming(destination, HostToken, spec, ct);
        Assert.Equal(HttpStatusCode.BadRequest, admitted.StatusCode);
        Assert.Contains("HostPathRefused", await admitted.Content.ReadAsStringAsync(ct), StringComparison.Ordinal);

        // The host token opens nothing else.
        using var hostTokenOnly = new HttpClient { BaseAddress = destination.Address };
        hostTokenOnly.DefaultRequestHeaders.Add("X-Virt-Host-Token", HostToken);
        Assert.Equal(HttpStatusCode.Unauthorized, (await hostTokenOnly.GetAsync("/api/vms", ct)).StatusCode);

        var off = await Incoming(unconfigured, HostToken, spec, ct);
        Assert.Equal(HttpStatusCode.Unauthorized, off.StatusCode);
        Assert.Contains("receives no VMs from other hosts", await off.Content.ReadAsStringAsync(ct), StringComparison.Ordinal);
    }

    [Fact(Timeout = 180_000)]
    public async Task Migrate_to_carries_the_spec_to_the_destination_and_reports_its_answer()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var destination = await PanelProcess.StartAsync(ct, [$"--Panel:HostTokenFile={TokenFile(HostToken)}"]);
        await using var stranger = await PanelProcess.StartAsync(ct, [$"--Panel:HostTokenFile={TokenFile("another-set-of-hosts-another-token")}"]);
        await using var source = await PanelProcess.StartAsync(ct, [$"--Panel:HostTokenFile={TokenFile(HostToken)}", "--Panel:HostName=host-a", $"--Panel:PeerHosts={destination.Address};{stranger.Address};http://192.0.2.1:8006"]);
        using var api = source.Api();
        (await api.PostAsJsonAsync("/api/vms", new { name = "web", memoryMiB = 128 }, ct)).EnsureSuccessStatusCode();

        // A destination that is not a configured peer never sees the hosts' token: refused before any task starts.
        var notAPeer = await api.PostAsJsonAsync("/api/vms/web/migrate-to", new { destination = "https://198.51.100.7:8006" }, ct);
        Assert.Equal(HttpStatusCode.BadRequest, notAPeer.StatusCode);
        var why = await notAPeer.Content.ReadAsStringAsync(ct);
        Assert.Contains("NotAPeer", why, StringComparison.Ordinal);
        Assert.Contains("Panel:PeerHosts", why, StringComparison.Ordinal);
        var samePortOtherScheme = await api.PostAsJsonAsync("/api/vms/web/migrate-to", new { destination = destination.Address.ToString().Replace("http://", "https://", StringComparison.Ordinal) }, ct);
        Assert.Equal(HttpStatusCode.BadRequest, samePortOtherScheme.StatusCode);

        // The destination's refusal travels back into the source's task, naming the destination.
        var refused = await FinishedTaskAsync(api, await api.PostAsJsonAsync("/api/vms/web/migrate-to", new { destination = stranger.Address.ToString() }, ct), ct);
        Assert.Equal("failed", refused.GetProperty("state").GetString());
        Assert.Contains($"the panel at {stranger.Address} refused to receive VM 'web' (401)", refused.GetProperty("error").GetString(), StringComparison.Ordinal);

        // Same token: the destination receives the spec and answers with what its manager said.
        var received = await FinishedTaskAsync(api, await api.PostAsJsonAsync("/api/vms/web/migrate-to", new { destination = destination.Address.ToString() }, ct), ct);
        Assert.DoesNotContain("(401)", received.GetProperty("error").GetString() ?? string.Empty, StringComparison.Ordinal);

        var clearTextRemote = await FinishedTaskAsync(api, await api.PostAsJsonAsync("/api/vms/web/migrate-to", new { destination = "http://192.0.2.1:8006" }, ct), ct);
        Assert.Contains("is not https", clearTextRemote.GetProperty("error").GetString(), StringComparison.Ordinal);

        var noToken = await PanelProcess.StartAsync(ct);
        await using (noToken)
        {
            using var plain = noToken.Api();
            var refusedAtOnce = await plain.PostAsJsonAsync("/api/vms/web/migrate-to", new { destination = destination.Address.ToString() }, ct);
            Assert.Equal(HttpStatusCode.Conflict, refusedAtOnce.StatusCode);
        }
    }

    [Fact(Timeout = 120_000)]
    public async Task With_the_hosts_CA_the_incoming_endpoints_let_in_only_the_certificate_of_the_host_the_request_names()
    {
        var ct = TestContext.Current.CancellationToken;
        var files = new System.IO.Abstractions.FileSystem();
        using var authority = Virt.Kvm.Tls.HostCertificateAuthority.Create();
        using var otherAuthority = Virt.Kvm.Tls.HostCertificateAuthority.Create("another set of hosts");
        string Directory(Virt.Kvm.Tls.HostCertificateAuthority by, string host, params string[] addresses)
        {
            var directory = Path.Combine(_tokens, $"tls-{host}-{Guid.NewGuid():N}");
            by.WriteHostDirectory(files, directory, new Virt.Kvm.Tls.HostCertificateRequest(new Virt.Hosting.VirtHostIdentity(host)) { Addresses = addresses });
            return directory;
        }

        var destinationTls = Directory(authority, "host-b", "127.0.0.1");
        await using var destination = await PanelProcess.StartAsync(
            ct,
            [
                $"--Panel:HostTokenFile={TokenFile(HostToken)}",
                $"--Panel:TlsDirectory={destinationTls}",
                $"--Kestrel:Certificates:Default:Path={Path.Combine(destinationTls, "server-cert.pem")}",
                $"--Kestrel:Certificates:Default:KeyPath={Path.Combine(destinationTls, "server-key.pem")}",
            ],
            scheme: "https");
        var spec = new { name = "moving", disks = new[] { new { id = "root", path = "/srv/images/moving.qcow2" } } };

        async Task<(HttpStatusCode Status, string Body)> SendAsync(HttpMethod method, string path, string? clientTls, object? body)
        {
            var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true };
            if (clientTls is not null)
            {
                handler.ClientCertificates.Add(System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPemFile(Path.Combine(clientTls, "client-cert.pem"), Path.Combine(clientTls, "client-key.pem")));
            }

            using var http = new HttpClient(handler) { BaseAddress = destination.Address };
            using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
            request.Headers.Add("X-Virt-Host-Token", HostToken);
            using var response = await http.SendAsync(request, ct);
            return (response.StatusCode, await response.Content.ReadAsStringAsync(ct));
        }

        var hostA = Directory(authority, "host-a");
        var noCertificate = await SendAsync(HttpMethod.Post, "/api/host-to-host/incoming", null, new { spec, sourceHost = "host-a" });
        Assert.Equal(HttpStatusCode.Forbidden, noCertificate.Status);
        Assert.Contains("no client certificate", noCertificate.Body, StringComparison.Ordinal);

        var otherName = await SendAsync(HttpMethod.Post, "/api/host-to-host/incoming", hostA, new { spec, sourceHost = "host-c" });
        Assert.Equal(HttpStatusCode.Forbidden, otherName.Status);
        Assert.Contains("host 'host-a''s", otherName.Body, StringComparison.Ordinal);
        Assert.Contains("HostCertificateRefused", otherName.Body, StringComparison.Ordinal);

        var strangerCa = await SendAsync(HttpMethod.Post, "/api/host-to-host/incoming", Directory(otherAuthority, "host-a"), new { spec, sourceHost = "host-a" });
        Assert.Equal(HttpStatusCode.Forbidden, strangerCa.Status);
        Assert.Contains("not signed by this panel's hosts' CA", strangerCa.Body, StringComparison.Ordinal);

        // The right host's certificate gets the request to the endpoint's own rules (no host files by default).
        var admitted = await SendAsync(HttpMethod.Post, "/api/host-to-host/incoming", hostA, new { spec, sourceHost = "host-a" });
        Assert.Equal(HttpStatusCode.BadRequest, admitted.Status);
        Assert.Contains("HostPathRefused", admitted.Body, StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(HttpMethod.Delete, "/api/host-to-host/incoming/moving", null, null)).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(HttpMethod.Delete, "/api/host-to-host/incoming/moving", hostA, null)).Status);

        // A VM waiting for host-a (a real QEMU with -incoming): another host of the same CA may read its state, but only
        // host-a may drop the wait.
        var waiting = await SendAsync(HttpMethod.Post, "/api/host-to-host/incoming", hostA, new { spec = new { name = "waiting" }, sourceHost = "host-a" });
        Assert.True(waiting.Status == HttpStatusCode.OK, waiting.Body);
        var hostC = Directory(authority, "host-c");
        Assert.Contains("Incoming", (await SendAsync(HttpMethod.Get, "/api/host-to-host/incoming/waiting", hostC, null)).Body, StringComparison.Ordinal);
        var notTheSource = await SendAsync(HttpMethod.Delete, "/api/host-to-host/incoming/waiting", hostC, null);
        Assert.Equal(HttpStatusCode.Forbidden, notTheSource.Status);
        Assert.Contains("acts for host 'host-a'", notTheSource.Body, StringComparison.Ordinal);
        Assert.Contains("host 'host-c''s", notTheSource.Body, StringComparison.Ordinal);
        Assert.Contains("Incoming", (await SendAsync(HttpMethod.Get, "/api/host-to-host/incoming/waiting", hostA, null)).Body, StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.NoContent, (await SendAsync(HttpMethod.Delete, "/api/host-to-host/incoming/waiting", hostA, null)).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(HttpMethod.Get, "/api/host-to-host/incoming/waiting", hostA, null)).Status);
    }

    private string TokenFile(string token)
    {
        var path = Path.Combine(_tokens, $"{Guid.NewGuid():N}");
        File.WriteAllText(path, token + "\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return path;
    }

    private static async Task<HttpResponseMessage> Incoming(PanelProcess panel, string token, object spec, CancellationToken ct)
    {
        using var http = new HttpClient { BaseAddress = panel.Address };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/host-to-host/incoming") { Content = JsonContent.Create(new { spec }) };
        request.Headers.Add("X-Virt-Host-Token", token);
        return await http.SendAsync(request, ct);
    }

    /// <summary>Follows a task the way the UI does, until it is no longer running.</summary>
    internal static async Task<JsonElement> FinishedTaskAsync(HttpClient api, HttpResponseMessage accepted, CancellationToken ct)
    {
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        var id = (await accepted.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("id").GetString();
        while (true)
        {
            var task = await api.GetFromJsonAsync<JsonElement>($"/api/tasks/{id}", ct);
            if (task.GetProperty("state").GetString() != "running")
            {
                return task;
            }

            await Task.Delay(100, ct);
        }
    }
}
