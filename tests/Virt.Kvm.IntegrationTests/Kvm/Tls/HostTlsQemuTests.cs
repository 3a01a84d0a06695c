using System.Diagnostics;
using System.IO.Abstractions;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Virt.Hosting;
using Virt.Kvm.IntegrationTests.Infrastructure;
using Virt.Kvm.Qmp;
using Virt.Kvm.Tls;

namespace Virt.Kvm.IntegrationTests.Kvm.Tls;

/// <summary>
/// The directories <see cref="HostCertificateAuthority"/> writes are what QEMU's GnuTLS accepts: a QEMU serving an
/// NBD export over TLS (verify-peer on) lets in a client whose certificate the same CA signed, and refuses one from
/// another CA; QEMU itself refuses to start on a directory whose certificate another CA signed.
/// </summary>
public sealed class HostTlsQemuTests : IDisposable
{
    private readonly FileSystem _fileSystem = new();
    private readonly string _root = Directory.CreateTempSubdirectory("virt-it-tls-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact(Timeout = 120_000)]
    public async Task An_NBD_export_over_TLS_lets_in_a_host_of_the_same_CA_and_refuses_one_of_another()
    {
        QemuBinary.Require();
        using var authority = HostCertificateAuthority.Create("it hosts");
        using var stranger = HostCertificateAuthority.Create("other hosts");
        var hostA = Issue(authority, "host-a");
        var hostB = Issue(authority, "host-b");
        var intruder = Issue(stranger, "host-b");
        var image = Path.Combine(_root, "disk.raw");
        await File.WriteAllBytesAsync(image, new byte[1024 * 1024], TestContext.Current.CancellationToken);
        var port = FreePort();

        await using var qemu = await QemuProcess.StartAsync(
            ["-machine", "none", "-S",
             "-object", $"tls-creds-x509,id=tls0,dir={hostA},endpoint=server,verify-peer=on",
             "-blockdev", $"driver=file,filename={image},node-name=disk0,read-only=on"]);
        await using var client = await QmpClient.ConnectAsync(qemu.QmpSocket, cancellationToken: TestContext.Current.CancellationToken);
        await client.ExecuteAsync("nbd-server-start", new JsonObject
        {
            ["addr"] = new JsonObject { ["type"] = "inet", ["data"] = new JsonObject { ["host"] = "127.0.0.1", ["port"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture) } },
            ["tls-creds"] = "tls0",
        }, cancellationToken: TestContext.Current.CancellationToken);
        await client.ExecuteAsync("block-export-add", new JsonObject { ["type"] = "nbd", ["id"] = "export0", ["node-name"] = "disk0", ["name"] = "disk0" }, cancellationToken: TestContext.Current.CancellationToken);

        var trusted = await QemuImgInfoAsync(hostB, port);
        var refused = await QemuImgInfoAsync(intruder, port);

        Assert.True(trusted.ExitCode == 0, $"qemu-img with host-b's certificate failed: {trusted.Output}");
        Assert.Contains("virtual size: 1 MiB", trusted.Output, StringComparison.Ordinal);
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("certificate", refused.Output, StringComparison.OrdinalIgnoreCase);
    }

    [Fact(Timeout = 60_000)]
    public async Task QEMU_refuses_to_start_on_a_directory_whose_certificate_another_CA_signed()
    {
        QemuBinary.Require();
        using var authority = HostCertificateAuthority.Create("it hosts");
        using var stranger = HostCertificateAuthority.Create("other hosts");
        var mixed = Issue(authority, "host-a");
        File.Copy(Path.Combine(Issue(stranger, "host-a"), "ca-cert.pem"), Path.Combine(mixed, "ca-cert.pem"), overwrite: true);

        var result = await RunAsync(QemuBinary.Path, ["-machine", "none", "-nodefaults", "-no-user-config", "-display", "none", "-S", "-object", $"tls-creds-x509,id=tls0,dir={mixed},endpoint=server,verify-peer=on"]);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("certificate", result.Output, StringComparison.OrdinalIgnoreCase);
        await Assert.ThrowsAsync<VirtException>(() => HostTlsDirectory.LoadAsync(_fileSystem, mixed, cancellationToken: TestContext.Current.CancellationToken));
    }

    private string Issue(HostCertificateAuthority authority, string host)
    {
        var directory = Path.Combine(_root, $"{host}-{Guid.NewGuid():N}");
        authority.WriteHostDirectory(_fileSystem, directory, new HostCertificateRequest(new VirtHostIdentity(host)) { Addresses = ["127.0.0.1"] });
        return directory;
    }

    private static Task<(int ExitCode, string Output)> QemuImgInfoAsync(string tlsDirectory, int port) => RunAsync(
        "qemu-img",
        ["info", "--object", $"tls-creds-x509,id=tls0,dir={tlsDirectory},endpoint=client",
         "--image-opts", $"driver=nbd,server.type=inet,server.host=127.0.0.1,server.port={port},export=disk0,tls-creds=tls0,tls-hostname=host-a"]);

    /// <summary>Runs a program to its end (killed by its own PID after a minute) and returns its exit code and output.</summary>
    private static async Task<(int ExitCode, string Output)> RunAsync(string program, IReadOnlyList<string> arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{program} did not start");
        var output = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var error = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        try
        {
            await process.WaitForExitAsync(TestContext.Current.CancellationToken).WaitAsync(TimeSpan.FromMinutes(1), TestContext.Current.CancellationToken);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill();
            }
        }

        return (process.ExitCode, await output + await error);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
