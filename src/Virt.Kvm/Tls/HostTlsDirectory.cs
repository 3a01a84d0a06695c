using System.Globalization;
using System.IO.Abstractions;
using System.Security.Cryptography.X509Certificates;

namespace Virt.Kvm.Tls;

/// <summary>
/// A host's TLS directory in the layout QEMU's <c>tls-creds-x509,dir=</c> reads: the CA's certificate, and the host's
/// certificate and key as the server pair (the end that listens) and the client pair (the end that dials).
/// <see cref="LoadAsync"/> checks one, written by <see cref="HostCertificateAuthority.WriteHostDirectory"/> or by the
/// user, before QEMU is handed it, so that a mistake is reported in words rather than as a failed handshake.
/// </summary>
public static class HostTlsDirectory
{
    /// <summary>The certificate of the CA that signs every host of the set.</summary>
    public const string CaCertificateFileName = "ca-cert.pem";

    /// <summary>The host's certificate, presented when it listens (the migration destination, the NBD export).</summary>
    public const string ServerCertificateFileName = "server-cert.pem";

    /// <summary>The private key of <see cref="ServerCertificateFileName"/>; 0600.</summary>
    public const string ServerKeyFileName = "server-key.pem";

    /// <summary>The host's certificate, presented when it dials (the migration source, the NBD client).</summary>
    public const string ClientCertificateFileName = "client-cert.pem";

    /// <summary>The private key of <see cref="ClientCertificateFileName"/>; 0600.</summary>
    public const string ClientKeyFileName = "client-key.pem";

    private const UnixFileMode WritableByOthers = UnixFileMode.GroupWrite | UnixFileMode.OtherWrite;
    private const UnixFileMode AnyAccessByOthers = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>
    /// Checks a host's TLS directory: every file present; keys readable by their owner only and nothing writable by
    /// others; each certificate valid now, signed by the CA in <see cref="CaCertificateFileName"/>, allowed for its
    /// end (server or client authentication), and its key the matching one.
    /// </summary>
    /// <param name="fileSystem">The file system (the real one on a host).</param>
    /// <param name="directory">The host's TLS directory.</param>
    /// <param name="timeProvider">The clock the certificates are checked against; default the system's.</param>
    /// <param name="cancellationToken">Cancels the reads.</param>
    /// <returns>What the directory holds: the host's name (the server certificate's common name), the CA, the end of validity.</returns>
    /// <exception cref="VirtException">
    /// <see cref="VirtErrorKind.NotFound"/> for a missing directory or file, <see cref="VirtErrorKind.Refused"/> for
    /// permissions that let others read a key or change a file, <see cref="VirtErrorKind.InvalidInput"/> for a file that
    /// does not parse, a key that does not match, a certificate expired, not yet valid or not signed by the CA.
    /// </exception>
    public static async Task<HostTlsMaterial> LoadAsync(IFileSystem fileSystem, string directory, TimeProvider? timeProvider = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(fileSystem);
        ArgumentException.ThrowIfNullOrEmpty(directory);
        if (!fileSystem.Directory.Exists(directory))
        {
            throw new VirtException(VirtErrorKind.NotFound, $"the TLS directory '{directory}' does not exist: issue this host's certificates into it with 'virtctl host tls issue' (or HostCertificateAuthority.WriteHostDirectory), or name the directory that holds them");
        }

        RequireMode(fileSystem, directory, WritableByOthers, "0700");
        var now = (timeProvider ?? TimeProvider.System).GetUtcNow();
        var caPath = fileSystem.Path.Combine(directory, CaCertificateFileName);
        using var authority = PemMaterial.ReadCertificate(await ReadAsync(fileSystem, directory, CaCertificateFileName, isKey: false, cancellationToken).ConfigureAwait(false), caPath);
        if (!PemMaterial.IsCertificateAuthority(authority))
        {
            throw new VirtException(VirtErrorKind.InvalidInput, $"'{caPath}' ({authority.Subject}) is not a CA certificate (no basic constraint CA:TRUE): put the certificate of the CA that signed this host's certificates there");
        }

        RequireCurrent(authority, caPath, now);
        using var server = await ReadPairAsync(fileSystem, directory, ServerCertificateFileName, ServerKeyFileName, PemMaterial.ServerAuthentication, authority, now, cancellationToken).ConfigureAwait(false);
        using var client = await ReadPairAsync(fileSystem, directory, ClientCertificateFileName, ClientKeyFileName, PemMaterial.ClientAuthentication, authority, now, cancellationToken).ConfigureAwait(false);
        var notAfter = new[] { authority.NotAfter, server.NotAfter, client.NotAfter }.Min().ToUniversalTime();
        return new HostTlsMaterial(
            directory,
            server.GetNameInfo(X509NameType.SimpleName, forIssuer: false),
            authority.Subject,
            new DateTimeOffset(notAfter, TimeSpan.Zero),
            AlternativeNames(server));
    }

    private static async Task<X509Certificate2> ReadPairAsync(IFileSystem fileSystem, string directory, string certificateFile, string keyFile, System.Security.Cryptography.Oid purpose, X509Certificate2 authority, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var certificatePath = fileSystem.Path.Combine(directory, certificateFile);
        var keyPath = fileSystem.Path.Combine(directory, keyFile);
        var certificatePem = await ReadAsync(fileSystem, directory, certificateFile, isKey: false, cancellationToken).ConfigureAwait(false);
        var keyPem = await ReadAsync(fileSystem, directory, keyFile, isKey: true, cancellationToken).ConfigureAwait(false);
        var certificate = PemMaterial.ReadCertificate(certificatePem, certificatePath);
        try
        {
            PemMaterial.RequireMatchingKey(certificate, keyPem, certificatePath, keyPath);
            RequireCurrent(certificate, certificatePath, now);
            RequireSignedBy(certificate, authority, certificatePath, fileSystem.Path.Combine(directory, CaCertificateFileName), now);
            if (!PemMaterial.Allows(certificate, purpose))
            {
                throw new VirtException(VirtErrorKind.InvalidInput, $"'{certificatePath}' ({certificate.Subject}) is not allowed for {purpose.FriendlyName} (its extended key usage lacks {purpose.Value}): issue it with both serverAuth and clientAuth, as 'virtctl host tls issue' does");
            }

            return certificate;
        }
        catch
        {
            certificate.Dispose();
            throw;
        }
    }

    private static async Task<string> ReadAsync(IFileSystem fileSystem, string directory, string fileName, bool isKey, CancellationToken cancellationToken)
    {
        var path = fileSystem.Path.Combine(directory, fileName);
        if (!fileSystem.File.Exists(path))
        {
            throw new VirtException(VirtErrorKind.NotFound, $"the TLS directory '{directory}' has no '{fileName}': QEMU's tls-creds-x509 reads {CaCertificateFileName}, {ServerCertificateFileName}, {ServerKeyFileName}, {ClientCertificateFileName} and {ClientKeyFileName} there; issue them with 'virtctl host tls issue' or copy the missing one in");
        }

        if (isKey)
        {
            RequireMode(fileSystem, path, AnyAccessByOthers, "0600");
        }
        else
        {
            RequireMode(fileSystem, path, WritableByOthers, "0600");
        }

        return await fileSystem.File.ReadAllTextAsync(path, cancellationToken).ConfigureAwait(false);
    }

    private static void RequireMode(IFileSystem fileSystem, string path, UnixFileMode forbidden, string advice)
    {
        var mode = fileSystem.File.GetUnixFileMode(path);
        if ((mode & forbidden) != 0)
        {
            var octal = Convert.ToString((int)mode & 0x1FF, 8).PadLeft(4, '0');
            var what = forbidden == AnyAccessByOthers ? "lets group or others open a private key" : "lets group or others change it";
            throw new VirtException(VirtErrorKind.Refused, $"'{path}' has mode {octal}, which {what}: run 'chmod {advice} {path}'");
        }
    }

    private static void RequireCurrent(X509Certificate2 certificate, string path, DateTimeOffset now)
    {
        var notBefore = new DateTimeOffset(certificate.NotBefore.ToUniversalTime(), TimeSpan.Zero);
        var notAfter = new DateTimeOffset(certificate.NotAfter.ToUniversalTime(), TimeSpan.Zero);
        if (now > notAfter)
        {
            throw new VirtException(VirtErrorKind.InvalidInput, string.Create(CultureInfo.InvariantCulture, $"'{path}' ({certificate.Subject}) expired at {notAfter:u}: issue a new one ('virtctl host tls issue') and restart the migrations that use it"));
        }

        if (now < notBefore)
        {
            throw new VirtException(VirtErrorKind.InvalidInput, string.Create(CultureInfo.InvariantCulture, $"'{path}' ({certificate.Subject}) is not valid before {notBefore:u} (now {now:u}): check this host's clock against the one that issued it"));
        }
    }

    private static void RequireSignedBy(X509Certificate2 certificate, X509Certificate2 authority, string path, string caPath, DateTimeOffset now)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(authority);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.DisableCertificateDownloads = true;
        chain.ChainPolicy.VerificationTime = now.UtcDateTime;
        if (!chain.Build(certificate))
        {
            var reasons = string.Join("; ", chain.ChainStatus.Select(status => status.StatusInformation.Trim()).Where(text => text.Length > 0).Distinct());
            throw new VirtException(VirtErrorKind.InvalidInput, $"'{path}' ({certificate.Subject}, issued by {certificate.Issuer}) is not signed by the CA in '{caPath}' ({authority.Subject}): {reasons}; issue it again from that CA, or put the CA that signed it in '{caPath}'");
        }
    }

    private static IReadOnlyList<string> AlternativeNames(X509Certificate2 certificate)
    {
        var extension = certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().FirstOrDefault();
        if (extension is null)
        {
            return [];
        }

        return [.. extension.EnumerateDnsNames(), .. extension.EnumerateIPAddresses().Select(address => address.ToString())];
    }
}
