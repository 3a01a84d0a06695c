using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Virt.Kvm.Tls;

/// <summary>Reads certificates and keys from PEM and checks that they belong together, with errors that name the file.</summary>
internal static class PemMaterial
{
    private const string EcPublicKey = "1.2.840.10045.2.1";
    private const string RsaEncryption = "1.2.840.113549.1.1.1";

    public static Oid ServerAuthentication => new("1.3.6.1.5.5.7.3.1", "TLS Web Server Authentication");

    public static Oid ClientAuthentication => new("1.3.6.1.5.5.7.3.2", "TLS Web Client Authentication");

    public static X509Certificate2 ReadCertificate(string pem, string path)
    {
        try
        {
            return X509Certificate2.CreateFromPem(pem);
        }
        catch (CryptographicException exception)
        {
            throw new VirtException(VirtErrorKind.InvalidInput, $"'{path}' holds no certificate in PEM ('-----BEGIN CERTIFICATE-----'): {exception.Message}; write the certificate there in PEM", exception);
        }
    }

    public static bool IsCertificateAuthority(X509Certificate2 certificate) =>
        certificate.Extensions.OfType<X509BasicConstraintsExtension>().Any(constraints => constraints.CertificateAuthority);

    public static bool Allows(X509Certificate2 certificate, Oid purpose)
    {
        var usages = certificate.Extensions.OfType<X509EnhancedKeyUsageExtension>().FirstOrDefault();
        return usages is null || usages.EnhancedKeyUsages.Cast<Oid>().Any(usage => usage.Value == purpose.Value);
    }

    /// <summary>Checks that the key in <paramref name="keyPem"/> is the private half of the certificate's public key.</summary>
    public static void RequireMatchingKey(X509Certificate2 certificate, string keyPem, string certificatePath, string keyPath)
    {
        using var key = ImportKey(certificate, keyPem, keyPath);
        RequireSamePublicKey(certificate, key, certificatePath, keyPath);
    }

    /// <summary>The certificate joined with its private key, checked to match.</summary>
    public static X509Certificate2 WithMatchingKey(X509Certificate2 certificate, string keyPem, string certificatePath, string keyPath)
    {
        using var key = ImportKey(certificate, keyPem, keyPath);
        RequireSamePublicKey(certificate, key, certificatePath, keyPath);
        return key switch
        {
            ECDsa ecdsa => certificate.CopyWithPrivateKey(ecdsa),
            RSA rsa => certificate.CopyWithPrivateKey(rsa),
            _ => throw new InvalidOperationException("unreachable: ImportKey returns ECDSA or RSA keys only"),
        };
    }

    public static string ExportPrivateKeyPem(X509Certificate2 certificate)
    {
        using var ecdsa = certificate.GetECDsaPrivateKey();
        if (ecdsa is not null)
        {
            return ecdsa.ExportPkcs8PrivateKeyPem();
        }

        using var rsa = certificate.GetRSAPrivateKey() ?? throw new InvalidOperationException($"the certificate {certificate.Subject} carries no ECDSA or RSA private key");
        return rsa.ExportPkcs8PrivateKeyPem();
    }

    /// <summary>A signer for certificates issued by <paramref name="authority"/> (ECDSA or RSA, SHA-256).</summary>
    public static Signer SignatureGenerator(X509Certificate2 authority)
    {
        var ecdsa = authority.GetECDsaPrivateKey();
        if (ecdsa is not null)
        {
            return new Signer(X509SignatureGenerator.CreateForECDsa(ecdsa), ecdsa);
        }

        var rsa = authority.GetRSAPrivateKey() ?? throw new InvalidOperationException($"the CA {authority.Subject} carries no ECDSA or RSA private key to sign with");
        return new Signer(X509SignatureGenerator.CreateForRSA(rsa, RSASignaturePadding.Pkcs1), rsa);
    }

    private static AsymmetricAlgorithm ImportKey(X509Certificate2 certificate, string keyPem, string keyPath)
    {
        AsymmetricAlgorithm key = certificate.GetKeyAlgorithm() switch
        {
            EcPublicKey => ECDsa.Create(),
            RsaEncryption => RSA.Create(),
            var other => throw new VirtException(VirtErrorKind.InvalidInput, $"the certificate for '{keyPath}' ({certificate.Subject}) has a key of type {other}: use an ECDSA or RSA key"),
        };
        try
        {
            key.ImportFromPem(keyPem);
            return key;
        }
        catch (Exception exception) when (exception is ArgumentException or CryptographicException)
        {
            key.Dispose();
            throw new VirtException(VirtErrorKind.InvalidInput, $"'{keyPath}' holds no usable unencrypted {key.SignatureAlgorithm ?? "ECDSA/RSA"} private key in PEM ('PRIVATE KEY', 'EC PRIVATE KEY' or 'RSA PRIVATE KEY'): {exception.Message}", exception);
        }
    }

    private static void RequireSamePublicKey(X509Certificate2 certificate, AsymmetricAlgorithm key, string certificatePath, string keyPath)
    {
        using AsymmetricAlgorithm? certificateKey = (AsymmetricAlgorithm?)certificate.GetECDsaPublicKey() ?? certificate.GetRSAPublicKey();
        if (certificateKey is null || !certificateKey.ExportSubjectPublicKeyInfo().AsSpan().SequenceEqual(key.ExportSubjectPublicKeyInfo()))
        {
            throw new VirtException(VirtErrorKind.InvalidInput, $"the key in '{keyPath}' does not belong to the certificate in '{certificatePath}' ({certificate.Subject}): put the key the certificate was issued for beside it, or issue both again");
        }
    }

    /// <summary>A signature generator and the CA key it signs with, released together.</summary>
    public sealed class Signer(X509SignatureGenerator generator, AsymmetricAlgorithm key) : IDisposable
    {
        public X509SignatureGenerator Generator { get; } = generator;

        public void Dispose() => key.Dispose();
    }
}
