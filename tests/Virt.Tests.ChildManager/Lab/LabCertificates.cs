using Virt.Processes;

namespace Virt.Tests.Lab;

/// <summary>
/// A throwaway CA and one certificate per host, made with the openssl CLI, each host's in its own directory in
/// QEMU's <c>tls-creds-x509</c> layout: <c>ca-cert.pem</c>, <c>server-cert.pem</c>/<c>server-key.pem</c> and
/// <c>client-cert.pem</c>/<c>client-key.pem</c> (here one certificate, CN = the host's name, for both roles), keys 0600.
/// </summary>
public static class LabCertificates
{
    /// <summary>Makes the CA in <paramref name="root"/> and returns each host's directory.</summary>
    public static async Task<IReadOnlyDictionary<string, string>> CreateAsync(string root, IReadOnlyDictionary<string, string> hostAddresses, CancellationToken cancellationToken)
    {
        var ca = Path.Combine(root, "ca");
        Directory.CreateDirectory(ca);
        var caKey = Path.Combine(ca, "ca-key.pem");
        var caCert = Path.Combine(ca, "ca-cert.pem");
        await OpenSslAsync(cancellationToken, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", caKey, "-out", caCert, "-days", "2", "-subj", "/CN=virt-test-ca",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");

        var directories = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (host, address) in hostAddresses)
        {
            var directory = Path.Combine(root, host);
            Directory.CreateDirectory(directory);
            var key = Path.Combine(directory, "server-key.pem");
            var request = Path.Combine(directory, "request.csr");
            var extensions = Path.Combine(directory, "extensions.cnf");
            await File.WriteAllTextAsync(extensions, $"basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:{host},IP:{address}\n", cancellationToken);
            await OpenSslAsync(cancellationToken, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", request, "-subj", $"/CN={host}");
            await OpenSslAsync(cancellationToken, "x509", "-req", "-in", request, "-CA", caCert, "-CAkey", caKey, "-CAcreateserial", "-days", "2", "-out", Path.Combine(directory, "server-cert.pem"), "-extfile", extensions);
            File.Copy(caCert, Path.Combine(directory, "ca-cert.pem"));
            File.Copy(Path.Combine(directory, "server-cert.pem"), Path.Combine(directory, "client-cert.pem"));
            File.Copy(key, Path.Combine(directory, "client-key.pem"));
            File.Delete(request);
            File.Delete(extensions);
            foreach (var secret in new[] { key, Path.Combine(directory, "client-key.pem") })
            {
                File.SetUnixFileMode(secret, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }

            directories[host] = directory;
        }

        return directories;
    }

    private static async Task OpenSslAsync(CancellationToken cancellationToken, params string[] arguments) =>
        (await new ProcessRunner().RunAsync(new ProcessSpec("openssl", arguments), cancellationToken)).EnsureSuccess();
}
