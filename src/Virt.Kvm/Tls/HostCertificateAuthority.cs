using System.IO.Abstractions;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Virt.IO;

namespace Virt.Kvm.Tls;

/// <summary>
/// A small certificate authority for a set of hosts that migrate VMs to each other: it signs each host's
/// certificate (common name = the host's <see cref="Virt.Hosting.VirtHostIdentity"/> name) and writes a host's directory
/// in the layout QEMU's <c>tls-creds-x509</c> object reads (see <see cref="HostTlsDirectory"/>).
/// </summary>
/// <remarks>
/// Keys are ECDSA P-256 and signatures ECDSA with SHA-256, which the GnuTLS of every QEMU the SDK supports (7.2 on)
/// accepts. The CA's own files (<see cref="CertificateFileName"/>, <see cref="KeyFileName"/>) stay on the machine that
/// issues certificates; a host's directory holds only the CA's certificate. A loaded CA may also be an RSA one the
/// user made elsewhere.
/// </remarks>
public sealed class HostCertificateAuthority : IDisposable
{
    /// <summary>The CA's certificate in its directory (the same name QEMU reads in a host's directory).</summary>
    public const string CertificateFileName = "ca-cert.pem";

    /// <summary>The CA's private key in its directory; never copied to a host's directory.</summary>
    public const string KeyFileName = "ca-key.pem";

    /// <summary>
    /// Certificates start this much before the moment they are made, so that a host whose clock is a little behind
    /// the issuer's accepts them at once (QEMU refuses a certificate that is "not yet active").
    /// </summary>
    private static readonly TimeSpan ClockSkew = TimeSpan.FromMinutes(5);

    private readonly X509Certificate2 _certificate;
    private readonly TimeProvider _timeProvider;

    private HostCertificateAuthority(X509Certificate2 certificate, TimeProvider timeProvider)
    {
        _certificate = certificate;
        _timeProvider = timeProvider;
    }

    /// <summary>The CA's certificate (public part only is meaningful to others), e.g. to trust it elsewhere.</summary>
    public X509Certificate2 Certificate => _certificate;

    /// <summary>The CA's certificate in PEM, as written to <see cref="CertificateFileName"/>.</summary>
    public string CertificatePem => _certificate.ExportCertificatePem();

    /// <summary>Creates a new CA: a fresh ECDSA P-256 key and a self-signed certificate.</summary>
    /// <param name="name">The CA's common name, e.g. the name of the set of hosts.</param>
    /// <param name="lifetime">How long the CA is valid; default ten years. Host certificates never outlive it.</param>
    /// <param name="timeProvider">The clock; default the system's.</param>
    /// <returns>The CA, holding its private key in memory; save it with <see cref="SaveAsync"/>.</returns>
    public static HostCertificateAuthority Create(string name = "Virt hosts CA", TimeSpan? lifetime = null, TimeProvider? timeProvider = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var validFor = lifetime ?? TimeSpan.FromDays(3650);
        if (validFor <= TimeSpan.Zero)
        {
            throw new ArgumentException($"the CA '{name}' needs a positive lifetime, not {validFor}", nameof(lifetime));
        }

        var time = timeProvider ?? TimeProvider.System;
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(CommonName(name), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: true, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        var now = time.GetUtcNow();
        return new HostCertificateAuthority(request.CreateSelfSigned(now - ClockSkew, now + validFor), time);
    }

    /// <summary>Loads a CA saved by <see cref="SaveAsync"/> (or made elsewhere: an ECDSA or RSA key in PEM, and its certificate).</summary>
    /// <param name="fileSystem">The file system (the real one on a host).</param>
    /// <param name="directory">The directory holding <see cref="CertificateFileName"/> and <see cref="KeyFileName"/>.</param>
    /// <param name="timeProvider">The clock; default the system's.</param>
    /// <param name="cancellationToken">Cancels the reads.</param>
    /// <returns>The CA.</returns>
    /// <exception cref="VirtException">A file is missing, unreadable, not a CA certificate, or the key does not match it.</exception>
    public static async Task<HostCertificateAuthority> LoadAsync(IFileSystem fileSystem, string directory, TimeProvider? timeProvider = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(fileSystem);
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var certificatePath = fileSystem.Path.Combine(directory, CertificateFileName);
        var keyPath = fileSystem.Path.Combine(directory, KeyFileName);
        foreach (var path in new[] { certificatePath, keyPath })
        {
            if (!fileSystem.File.Exists(path))
            {
                throw new VirtException(VirtErrorKind.NotFound, $"the CA directory '{directory}' has no '{fileSystem.Path.GetFileName(path)}': create a CA there with 'virtctl host tls init --ca {directory}' or HostCertificateAuthority.Create(...).SaveAsync");
            }
        }

        var certificate = PemMaterial.ReadCertificate(await fileSystem.File.ReadAllTextAsync(certificatePath, cancellationToken).ConfigureAwait(false), certificatePath);
        using (certificate)
        {
            if (!PemMaterial.IsCertificateAuthority(certificate))
            {
                throw new VirtException(VirtErrorKind.InvalidInput, $"'{certificatePath}' ({certificate.Subject}) is not a CA certificate (no basic constraint CA:TRUE): give the certificate of the authority that signs the hosts' certificates");
            }

            var keyPem = await fileSystem.File.ReadAllTextAsync(keyPath, cancellationToken).ConfigureAwait(false);
            return new HostCertificateAuthority(PemMaterial.WithMatchingKey(certificate, keyPem, certificatePath, keyPath), timeProvider ?? TimeProvider.System);
        }
    }

    /// <summary>
    /// Saves the CA's certificate and key into <paramref name="directory"/> (created 0700; files 0600, each written
    /// crash-safely). Refuses to replace a CA already there: every host's certificate would stop verifying.
    /// </summary>
    /// <param name="fileSystem">The file system (the real one on a host).</param>
    /// <param name="directory">The CA's directory.</param>
    /// <param name="cancellationToken">Cancels the writes.</param>
    /// <exception cref="VirtException">A CA key is already in the directory (<see cref="VirtErrorKind.Conflict"/>).</exception>
    public async Task SaveAsync(IFileSystem fileSystem, string directory, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(fileSystem);
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var keyPath = fileSystem.Path.Combine(directory, KeyFileName);
        if (fileSystem.File.Exists(keyPath))
        {
            throw new VirtException(VirtErrorKind.Conflict, $"a CA key is already at '{keyPath}': replacing it would make every host certificate it signed untrusted; load it instead, or choose another directory");
        }

        OwnerOnly.CreateDirectory(fileSystem, directory);
        var keyPem = PemMaterial.ExportPrivateKeyPem(_certificate);
        await StateFile.WriteAsync(fileSystem, fileSystem.Path.Combine(directory, CertificateFileName), Encoding.ASCII.GetBytes(CertificatePem), OwnerOnly.FileMode, cancellationToken).ConfigureAwait(false);
        await StateFile.WriteAsync(fileSystem, keyPath, Encoding.ASCII.GetBytes(keyPem), OwnerOnly.FileMode, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Issues a host's certificate: a fresh ECDSA P-256 key, common name = the host's name, subject alternative names
    /// for its name and addresses, usable as a TLS server and a TLS client (QEMU uses one pair for both ends).
    /// </summary>
    /// <param name="request">The host, its addresses and the lifetime (cut to the CA's own end of validity).</param>
    /// <returns>The certificate and its private key.</returns>
    public IssuedHostCertificate Issue(HostCertificateRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        request.Validate();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var csr = new CertificateRequest(CommonName(request.Host.Name), key, HashAlgorithmName.SHA256);
        csr.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: false, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));

        // Not critical: QEMU then does not also demand keyEncipherment, which an ECDSA key cannot do.
        csr.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: false));
        csr.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([PemMaterial.ServerAuthentication, PemMaterial.ClientAuthentication], critical: false));
        csr.CertificateExtensions.Add(AlternativeNames(request));
        csr.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(csr.PublicKey, critical: false));
        csr.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(_certificate, includeKeyIdentifier: true, includeIssuerAndSerial: false));

        var now = _timeProvider.GetUtcNow();
        var notAfter = now + request.Lifetime < _certificate.NotAfter ? now + request.Lifetime : new DateTimeOffset(_certificate.NotAfter.ToUniversalTime());
        using var signer = PemMaterial.SignatureGenerator(_certificate);
        using var certificate = csr.Create(_certificate.SubjectName, signer.Generator, now - ClockSkew, notAfter, SerialNumber());
        return new IssuedHostCertificate(request.Host.Name, certificate.ExportCertificatePem(), key.ExportPkcs8PrivateKeyPem(), certificate.NotAfter.ToUniversalTime());
    }

    /// <summary>
    /// Issues the host's certificate and writes the host's directory in QEMU's <c>tls-creds-x509</c> layout: this CA's
    /// certificate, and the host's certificate and key as both the server and the client pair. The directory is
    /// created 0700, every file 0600, all written crash-safely (a file holds its old content or its new one).
    /// </summary>
    /// <param name="fileSystem">The file system (the real one on a host).</param>
    /// <param name="directory">The host's TLS directory (what <c>tls-creds-x509,dir=</c> and <c>VmMigrationOptions.TlsDirectory</c> name).</param>
    /// <param name="request">The host, its addresses and the lifetime.</param>
    /// <returns>The certificate written.</returns>
    public IssuedHostCertificate WriteHostDirectory(IFileSystem fileSystem, string directory, HostCertificateRequest request)
    {
        ArgumentNullException.ThrowIfNull(fileSystem);
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var issued = Issue(request);
        OwnerOnly.CreateDirectory(fileSystem, directory);
        var certificate = Encoding.ASCII.GetBytes(issued.CertificatePem);
        var key = Encoding.ASCII.GetBytes(issued.PrivateKeyPem);
        StateFile.WriteAll(
            fileSystem,
            new Dictionary<string, byte[]>
            {
                [fileSystem.Path.Combine(directory, HostTlsDirectory.CaCertificateFileName)] = Encoding.ASCII.GetBytes(CertificatePem),
                [fileSystem.Path.Combine(directory, HostTlsDirectory.ServerCertificateFileName)] = certificate,
                [fileSystem.Path.Combine(directory, HostTlsDirectory.ServerKeyFileName)] = key,
                [fileSystem.Path.Combine(directory, HostTlsDirectory.ClientCertificateFileName)] = certificate,
                [fileSystem.Path.Combine(directory, HostTlsDirectory.ClientKeyFileName)] = key,
            },
            OwnerOnly.FileMode);
        return issued;
    }

    /// <summary>Forgets the CA's private key held in memory.</summary>
    public void Dispose() => _certificate.Dispose();

    private static X500DistinguishedName CommonName(string name)
    {
        var builder = new X500DistinguishedNameBuilder();
        builder.AddCommonName(name);
        return builder.Build();
    }

    private static X509Extension AlternativeNames(HostCertificateRequest request)
    {
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName(request.Host.Name);
        foreach (var address in request.Addresses.Distinct(StringComparer.OrdinalIgnoreCase))
        {
            if (IPAddress.TryParse(address, out var ip))
            {
                names.AddIpAddress(ip);
            }
            else if (!string.Equals(address, request.Host.Name, StringComparison.OrdinalIgnoreCase))
            {
                names.AddDnsName(address);
            }
        }

        return names.Build();
    }

    /// <summary>A random, positive 128-bit serial: unique without a counter to keep between issues.</summary>
    private static byte[] SerialNumber()
    {
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F;
        serial[0] |= 0x01;
        return serial;
    }
}
