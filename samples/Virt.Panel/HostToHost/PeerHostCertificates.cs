using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Virt.Kvm.Tls;

namespace Virt.Panel.HostToHost;

/// <summary>
/// Which host sends a VM, proven by its TLS client certificate: with the hosts' CA (<c>Panel:TlsDirectory</c>), a
/// host-to-host request must come over HTTPS with a certificate that CA signed for client use, whose common name is the
/// source host the request names. The token alone says "one of the hosts"; the certificate says which one, so a host (or a
/// leaked token) cannot make this panel expect a migration, and open its disk exports, for another host's name. Without
/// the hosts' CA the token is all there is, as before.
/// </summary>
internal sealed class PeerHostCertificates
{
    private static readonly Oid ClientAuthentication = new("1.3.6.1.5.5.7.3.2");
    private readonly X509Certificate2? _authority;
    private readonly string? _authorityPath;

    private PeerHostCertificates(X509Certificate2? authority, string? authorityPath)
    {
        _authority = authority;
        _authorityPath = authorityPath;
    }

    /// <summary>Whether requests must carry a host certificate (the panel has the hosts' CA).</summary>
    public bool Required => _authority is not null;

    public static PeerHostCertificates From(PanelOptions options)
    {
        if (options.TlsDirectory is null)
        {
            return new PeerHostCertificates(null, null);
        }

        var path = Path.Combine(options.TlsDirectory, HostTlsDirectory.CaCertificateFileName);
        try
        {
            return new PeerHostCertificates(X509Certificate2.CreateFromPem(File.ReadAllText(path)), path);
        }
        catch (Exception error) when (error is IOException or CryptographicException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"Panel:TlsDirectory names '{options.TlsDirectory}', but the hosts' CA certificate {path} cannot be read ({error.Message}): issue the directory with 'virtctl host tls issue', or leave Panel:TlsDirectory unset", error);
        }
    }

    /// <summary>Why the request's client certificate does not prove that it comes from <paramref name="sourceHost"/>; null when it does, or when no certificate is required.</summary>
    /// <param name="context">The request.</param>
    /// <param name="sourceHost">The host the request says it comes from; null: any host of the CA (a request about a migration, not one that starts one).</param>
    public async Task<string?> RefusalAsync(HttpContext context, string? sourceHost)
    {
        if (_authority is null)
        {
            return null;
        }

        if (!context.Request.IsHttps)
        {
            return $"this panel checks the sending host's certificate (it has the hosts' CA, Panel:TlsDirectory), which needs HTTPS: serve this panel over https and send from a host with its TLS directory";
        }

        var certificate = await context.Connection.GetClientCertificateAsync(context.RequestAborted);
        if (certificate is null)
        {
            return $"no client certificate: send from a host with its TLS directory (virtctl --tls-dir, Panel:TlsDirectory), whose client-cert.pem the hosts' CA ({_authorityPath}) signed";
        }

        if (!SignedByAuthority(certificate))
        {
            return $"the client certificate '{certificate.Subject}' is not signed by this panel's hosts' CA ({_authorityPath}), or is not valid now: issue the sending host's certificate from the same CA (virtctl host tls issue)";
        }

        var usages = certificate.Extensions.OfType<X509EnhancedKeyUsageExtension>().FirstOrDefault();
        if (usages is not null && !usages.EnhancedKeyUsages.Cast<Oid>().Any(usage => usage.Value == ClientAuthentication.Value))
        {
            return $"the client certificate '{certificate.Subject}' is not issued for TLS client use: issue it with 'virtctl host tls issue'";
        }

        var name = certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
        if (sourceHost is not null && !string.Equals(name, sourceHost, StringComparison.Ordinal))
        {
            return $"the request acts for host '{sourceHost}' (the migration's source), but its client certificate is host '{name}''s: only a migration's source host sends the VM or drops the wait for it, under its own name (--host-name must match the certificate's common name)";
        }

        if (sourceHost is null && string.IsNullOrEmpty(name))
        {
            return "the client certificate names no host (no common name)";
        }

        return null;
    }

    private bool SignedByAuthority(X509Certificate2 certificate)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(_authority!);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(certificate);
    }
}
