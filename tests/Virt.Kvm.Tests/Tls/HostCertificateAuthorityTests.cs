using System.IO.Abstractions;
using System.Security.Cryptography.X509Certificates;
using Virt.Hosting;
using Virt.Kvm.Tls;

namespace Virt.Kvm.Tests.Tls;

public sealed class HostCertificateAuthorityTests : IDisposable
{
    private readonly FileSystem _fileSystem = new();
    private readonly string _root = Directory.CreateTempSubdirectory("virt-tls-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task A_host_directory_has_QEMUs_five_files_owner_only_and_checks_out()
    {
        using var authority = HostCertificateAuthority.Create("test hosts");
        var directory = Path.Combine(_root, "host-a");

        var issued = authority.WriteHostDirectory(_fileSystem, directory, new HostCertificateRequest(new VirtHostIdentity("host-a")) { Addresses = ["192.0.2.10", "host-a.example"] });

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(directory));
        string[] expected = ["ca-cert.pem", "client-cert.pem", "client-key.pem", "server-cert.pem", "server-key.pem"];
        Assert.Equal(expected, Directory.GetFiles(directory).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.All(expected, file => Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(directory, file))));

        var material = await HostTlsDirectory.LoadAsync(_fileSystem, directory, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal("host-a", material.HostName);
        Assert.Equal("CN=test hosts", material.CaSubject);
        Assert.Equal(["host-a", "host-a.example", "192.0.2.10"], material.Names);
        Assert.Equal(issued.NotAfter, material.NotAfter);

        using var certificate = X509Certificate2.CreateFromPem(issued.CertificatePem);
        var usages = certificate.Extensions.OfType<X509EnhancedKeyUsageExtension>().Single().EnhancedKeyUsages.Cast<System.Security.Cryptography.Oid>().Select(o => o.Value);
        Assert.Equal(["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"], usages);
        Assert.False(certificate.Extensions.OfType<X509BasicConstraintsExtension>().Single().CertificateAuthority);
    }

    [Fact]
    public async Task A_saved_CA_loads_back_and_issues_certificates_its_saved_certificate_verifies()
    {
        var caDirectory = Path.Combine(_root, "ca");
        using (var created = HostCertificateAuthority.Create())
        {
            await created.SaveAsync(_fileSystem, caDirectory, TestContext.Current.CancellationToken);
        }

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(caDirectory, "ca-key.pem")));
        using var loaded = await HostCertificateAuthority.LoadAsync(_fileSystem, caDirectory, cancellationToken: TestContext.Current.CancellationToken);
        var hostDirectory = Path.Combine(_root, "host-b");
        loaded.WriteHostDirectory(_fileSystem, hostDirectory, new HostCertificateRequest(new VirtHostIdentity("host-b")));

        Assert.Equal(await File.ReadAllTextAsync(Path.Combine(caDirectory, "ca-cert.pem"), TestContext.Current.CancellationToken), await File.ReadAllTextAsync(Path.Combine(hostDirectory, "ca-cert.pem"), TestContext.Current.CancellationToken));
        Assert.Equal("host-b", (await HostTlsDirectory.LoadAsync(_fileSystem, hostDirectory, cancellationToken: TestContext.Current.CancellationToken)).HostName);
        Assert.DoesNotContain("PRIVATE KEY", await File.ReadAllTextAsync(Path.Combine(hostDirectory, "ca-cert.pem"), TestContext.Current.CancellationToken), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Saving_over_an_existing_CA_is_refused()
    {
        var caDirectory = Path.Combine(_root, "ca");
        using var first = HostCertificateAuthority.Create();
        using var second = HostCertificateAuthority.Create();
        await first.SaveAsync(_fileSystem, caDirectory, TestContext.Current.CancellationToken);

        var error = await Assert.ThrowsAsync<VirtException>(() => second.SaveAsync(_fileSystem, caDirectory, TestContext.Current.CancellationToken));

        Assert.Equal(VirtErrorKind.Conflict, error.ErrorKind);
        Assert.Contains("already", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_file_is_named()
    {
        var directory = IssueHost("host-a");
        File.Delete(Path.Combine(directory, "client-key.pem"));

        var error = await Assert.ThrowsAsync<VirtException>(() => HostTlsDirectory.LoadAsync(_fileSystem, directory, cancellationToken: TestContext.Current.CancellationToken));

        Assert.Equal(VirtErrorKind.NotFound, error.ErrorKind);
        Assert.Contains("has no 'client-key.pem'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_directory_says_how_to_make_one()
    {
        var error = await Assert.ThrowsAsync<VirtException>(() => HostTlsDirectory.LoadAsync(_fileSystem, Path.Combine(_root, "nothing"), cancellationToken: TestContext.Current.CancellationToken));

        Assert.Equal(VirtErrorKind.NotFound, error.ErrorKind);
        Assert.Contains("virtctl host tls issue", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_key_that_is_not_the_certificates_is_refused()
    {
        using var authority = HostCertificateAuthority.Create();
        var directory = IssueHost("host-a", authority);
        var other = IssueHost("host-b", authority);
        File.Copy(Path.Combine(other, "server-key.pem"), Path.Combine(directory, "server-key.pem"), overwrite: true);

        var error = await Assert.ThrowsAsync<VirtException>(() => HostTlsDirectory.LoadAsync(_fileSystem, directory, cancellationToken: TestContext.Current.CancellationToken));

        Assert.Equal(VirtErrorKind.InvalidInput, error.ErrorKind);
        Assert.Contains("server-key.pem' does not belong to the certificate", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_expired_certificate_is_refused_with_its_end_date()
    {
        using var authority = HostCertificateAuthority.Create();
        var directory = Path.Combine(_root, "host-a");
        var issued = authority.WriteHostDirectory(_fileSystem, directory, new HostCertificateRequest(new VirtHostIdentity("host-a")) { Lifetime = TimeSpan.FromDays(1) });

        var error = await Assert.ThrowsAsync<VirtException>(() => HostTlsDirectory.LoadAsync(_fileSystem, directory, new FixedClock(issued.NotAfter.AddMinutes(1)), TestContext.Current.CancellationToken));

        Assert.Equal(VirtErrorKind.InvalidInput, error.ErrorKind);
        Assert.Contains("server-cert.pem' (CN=host-a) expired at", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_certificate_from_another_CA_is_refused()
    {
        var directory = IssueHost("host-a");
        var stranger = IssueHost("host-a");
        File.Copy(Path.Combine(stranger, "ca-cert.pem"), Path.Combine(directory, "ca-cert.pem"), overwrite: true);

        var error = await Assert.ThrowsAsync<VirtException>(() => HostTlsDirectory.LoadAsync(_fileSystem, directory, cancellationToken: TestContext.Current.CancellationToken));

        Assert.Equal(VirtErrorKind.InvalidInput, error.ErrorKind);
        Assert.Contains("is not signed by the CA in", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_key_others_can_read_is_refused_with_the_chmod_to_run()
    {
        var directory = IssueHost("host-a");
        var key = Path.Combine(directory, "server-key.pem");
        File.SetUnixFileMode(key, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        var error = await Assert.ThrowsAsync<VirtException>(() => HostTlsDirectory.LoadAsync(_fileSystem, directory, cancellationToken: TestContext.Current.CancellationToken));

        Assert.Equal(VirtErrorKind.Refused, error.ErrorKind);
        Assert.Contains($"mode 0644", error.Message, StringComparison.Ordinal);
        Assert.Contains($"chmod 0600 {key}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_directory_others_can_write_is_refused()
    {
        var directory = IssueHost("host-a");
        File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute);

        var error = await Assert.ThrowsAsync<VirtException>(() => HostTlsDirectory.LoadAsync(_fileSystem, directory, cancellationToken: TestContext.Current.CancellationToken));

        Assert.Equal(VirtErrorKind.Refused, error.ErrorKind);
        Assert.Contains("chmod 0700", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_host_certificate_never_outlives_its_CA()
    {
        using var authority = HostCertificateAuthority.Create(lifetime: TimeSpan.FromDays(30));

        var issued = authority.Issue(new HostCertificateRequest(new VirtHostIdentity("host-a")) { Lifetime = TimeSpan.FromDays(365) });

        Assert.True(issued.NotAfter <= authority.Certificate.NotAfter.ToUniversalTime());
    }

    [Fact]
    public void An_address_that_is_neither_IP_nor_DNS_name_is_refused_before_signing()
    {
        using var authority = HostCertificateAuthority.Create();

        var error = Assert.Throws<ArgumentException>(() => authority.Issue(new HostCertificateRequest(new VirtHostIdentity("host-a")) { Addresses = ["not a name!"] }));

        Assert.Contains("'not a name!' is neither an IP address nor a DNS name", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_text_form_of_an_issued_certificate_never_shows_the_key()
    {
        using var authority = HostCertificateAuthority.Create();

        var issued = authority.Issue(new HostCertificateRequest(new VirtHostIdentity("host-a")));

        Assert.Contains("PRIVATE KEY", issued.PrivateKeyPem, StringComparison.Ordinal);
        Assert.DoesNotContain("PRIVATE", issued.ToString(), StringComparison.Ordinal);
    }

    private string IssueHost(string name, HostCertificateAuthority? authority = null)
    {
        var directory = Path.Combine(_root, $"{name}-{Guid.NewGuid():N}");
        using var own = authority is null ? HostCertificateAuthority.Create() : null;
        (authority ?? own!).WriteHostDirectory(_fileSystem, directory, new HostCertificateRequest(new VirtHostIdentity(name)));
        return directory;
    }

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
