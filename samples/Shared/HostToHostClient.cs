using System.Net;
using System.Net.Http.Json;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Virt.VirtualMachines;

namespace Virt.Samples.HostToHost;

/// <summary>
/// The source side of the host-to-host API: asks a destination panel for a migration ticket. Used by the panel's
/// <c>migrate-to</c> endpoint and by <c>virtctl vm migrate --to</c>. The destination's HTTPS certificate is trusted
/// when the system trusts it or when the hosts' own CA (<c>ca-cert.pem</c> of the TLS directory) signed it.
/// </summary>
internal sealed class HostToHostClient : IDisposable
{
    private readonly HttpClient _http;

    public HostToHostClient(string? hostsCaCertificate)
    {
        var authority = hostsCaCertificate is not null && File.Exists(hostsCaCertificate) ? X509Certificate2.CreateFromPemFile(hostsCaCertificate) : null;
        var handler = new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, certificate, _, errors) =>
                errors == SslPolicyErrors.None
                || (errors == SslPolicyErrors.RemoteCertificateChainErrors && certificate is not null && authority is not null && ChainsTo(certificate, authority)),
        };
        _http = new HttpClient(handler) { Timeout = TimeSpan.FromMinutes(2) };
    }

    /// <summary>Asks the panel at <paramref name="destination"/> to get ready for the VM and returns its ticket.</summary>
    /// <param name="destination">The destination panel, e.g. <c>https://host-b:8006</c>.</param>
    /// <param name="token">The host-to-host token both panels are configured with.</param>
    /// <param name="request">The VM's spec and how it travels.</param>
    /// <param name="allowClearText">Whether a plain-HTTP destination that is not loopback is allowed (the token then crosses the link in clear).</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    public async Task<MigrationTicket> RequestTicketAsync(Uri destination, string token, IncomingVmRequest request, bool allowClearText, CancellationToken cancellationToken)
    {
        if (destination.Scheme != Uri.UriSchemeHttps && !(destination.Scheme == Uri.UriSchemeHttp && (destination.IsLoopback || allowClearText)))
        {
            throw new ArgumentException($"destination '{destination}' is not https: the host-to-host token would cross the link in clear; give https://HOST:PORT, or allow clear text explicitly (--insecure-clear-text)", nameof(destination));
        }

        using var message = new HttpRequestMessage(HttpMethod.Post, new Uri(destination, HostToHostApi.IncomingPath))
        {
            Content = JsonContent.Create(request, options: HostToHostApi.Json),
        };
        message.Headers.Add(HostToHostApi.TokenHeader, token);
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(message, cancellationToken);
        }
        catch (HttpRequestException exception)
        {
            throw new VirtException(VirtErrorKind.Unavailable, $"could not reach the panel at {destination} to hand it VM '{request.Spec.Name}': {exception.Message}; check the address and that its panel runs", exception);
        }

        using (response)
        {
            if (!response.IsSuccessStatusCode)
            {
                var said = await ErrorOf(response, cancellationToken);
                throw new VirtException(KindOf(response.StatusCode), $"the panel at {destination} refused to receive VM '{request.Spec.Name}' ({(int)response.StatusCode}): {said}");
            }

            return await response.Content.ReadFromJsonAsync<MigrationTicket>(HostToHostApi.Json, cancellationToken)
                ?? throw new VirtException($"the panel at {destination} answered no ticket for VM '{request.Spec.Name}'");
        }
    }

    public void Dispose() => _http.Dispose();

    private static bool ChainsTo(X509Certificate2 certificate, X509Certificate2 authority)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(authority);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(certificate);
    }

    private static async Task<string> ErrorOf(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        try
        {
            using var document = JsonDocument.Parse(body);
            return document.RootElement.TryGetProperty("error", out var error) ? error.GetString() ?? body : body;
        }
        catch (JsonException)
        {
            return body.Length > 500 ? body[..500] : body;
        }
    }

    private static VirtErrorKind KindOf(HttpStatusCode status) => status switch
    {
        HttpStatusCode.BadRequest => VirtErrorKind.InvalidInput,
        HttpStatusCode.NotFound => VirtErrorKind.NotFound,
        HttpStatusCode.Conflict => VirtErrorKind.Conflict,
        HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden => VirtErrorKind.Refused,
        HttpStatusCode.ServiceUnavailable or HttpStatusCode.TooManyRequests => VirtErrorKind.Unavailable,
        HttpStatusCode.GatewayTimeout => VirtErrorKind.Timeout,
        _ => VirtErrorKind.Failed,
    };
}
