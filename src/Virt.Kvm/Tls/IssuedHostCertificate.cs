namespace Virt.Kvm.Tls;

/// <summary>A host's certificate and private key, as issued by <see cref="HostCertificateAuthority.Issue"/>.</summary>
/// <remarks>Not a record on purpose: its text form must never print the private key.</remarks>
public sealed class IssuedHostCertificate
{
    internal IssuedHostCertificate(string hostName, string certificatePem, string privateKeyPem, DateTime notAfter)
    {
        HostName = hostName;
        CertificatePem = certificatePem;
        PrivateKeyPem = privateKeyPem;
        NotAfter = new DateTimeOffset(notAfter, TimeSpan.Zero);
    }

    /// <summary>The host's name: the certificate's common name.</summary>
    public string HostName { get; }

    /// <summary>The certificate in PEM.</summary>
    public string CertificatePem { get; }

    /// <summary>The private key in PEM (PKCS#8, unencrypted, as QEMU reads it). Keep it 0600; never log it.</summary>
    public string PrivateKeyPem { get; }

    /// <summary>When the certificate stops being valid.</summary>
    public DateTimeOffset NotAfter { get; }

    /// <inheritdoc/>
    public override string ToString() => $"certificate of host '{HostName}', valid until {NotAfter:u}";
}
