using System.ComponentModel;
using System.IO.Abstractions;
using Spectre.Console.Cli;
using Virt.Ctl.Infrastructure;
using Virt.Hosting;
using Virt.Kvm.Tls;

namespace Virt.Ctl.Commands;

internal class HostTlsSettings : GlobalSettings
{
    [CommandOption("--ca <DIR>")]
    [Description("The CA's directory (ca-cert.pem, ca-key.pem): keep it on one machine, 0700; never on every host.")]
    public string CaDirectory { get; set; } = string.Empty;

    [CommandOption("--days <N>")]
    [Description("How long the certificate is valid, in days. Default 3650 for a CA, 365 for a host.")]
    public int? Days { get; set; }

    public override Spectre.Console.ValidationResult Validate() =>
        string.IsNullOrEmpty(CaDirectory) ? Spectre.Console.ValidationResult.Error("--ca DIR is required: the CA's directory")
        : Days is <= 0 ? Spectre.Console.ValidationResult.Error("--days must be positive")
        : Spectre.Console.ValidationResult.Success();
}

internal sealed class HostTlsInitSettings : HostTlsSettings
{
    [CommandOption("--name <NAME>")]
    [Description("The CA's common name. Default \"Virt hosts CA\".")]
    public string Name { get; set; } = "Virt hosts CA";
}

[Description("Create a certificate authority for a set of hosts (refuses to replace one that exists).")]
internal sealed class HostTlsInitCommand : VirtCommand<HostTlsInitSettings>
{
    protected override async Task<int> RunAsync(VirtHost host, HostTlsInitSettings settings, CancellationToken cancellationToken)
    {
        using var authority = HostCertificateAuthority.Create(settings.Name, settings.Days is { } days ? TimeSpan.FromDays(days) : null);
        await authority.SaveAsync(new FileSystem(), settings.CaDirectory, cancellationToken);
        Output.Object(
            settings,
            new { directory = settings.CaDirectory, subject = authority.Certificate.Subject, notAfter = authority.Certificate.NotAfter.ToUniversalTime() },
            $"created CA '{authority.Certificate.Subject}' in {settings.CaDirectory}, valid until {authority.Certificate.NotAfter.ToUniversalTime():u}");
        return ExitCodes.Success;
    }
}

internal sealed class HostTlsIssueSettings : HostTlsSettings
{
    [CommandOption("--host <NAME>")]
    [Description("The host's name (its certificate's common name, the name other hosts check).")]
    public string HostName { get; set; } = string.Empty;

    [CommandOption("--address <ADDRESS>")]
    [Description("Another DNS name or IP address the host is reached by (repeat for more), e.g. its address on the migration link.")]
    public string[] Addresses { get; set; } = [];

    [CommandOption("--out <DIR>")]
    [Description("The host's TLS directory to write (QEMU's tls-creds-x509 layout; created 0700, files 0600).")]
    public string OutputDirectory { get; set; } = string.Empty;

    public override Spectre.Console.ValidationResult Validate() =>
        string.IsNullOrEmpty(HostName) ? Spectre.Console.ValidationResult.Error("--host NAME is required: the host's name")
        : string.IsNullOrEmpty(OutputDirectory) ? Spectre.Console.ValidationResult.Error("--out DIR is required: the host's TLS directory")
        : base.Validate();
}

[Description("Issue a host's certificate from the CA and write its TLS directory (copy it to the host; Panel:TlsDirectory or --tls-dir names it).")]
internal sealed class HostTlsIssueCommand : VirtCommand<HostTlsIssueSettings>
{
    protected override async Task<int> RunAsync(VirtHost host, HostTlsIssueSettings settings, CancellationToken cancellationToken)
    {
        var fileSystem = new FileSystem();
        using var authority = await HostCertificateAuthority.LoadAsync(fileSystem, settings.CaDirectory, cancellationToken: cancellationToken);
        var request = new HostCertificateRequest(new VirtHostIdentity(settings.HostName)) { Addresses = settings.Addresses };
        if (settings.Days is { } days)
        {
            request = request with { Lifetime = TimeSpan.FromDays(days) };
        }

        authority.WriteHostDirectory(fileSystem, settings.OutputDirectory, request);
        var material = await HostTlsDirectory.LoadAsync(fileSystem, settings.OutputDirectory, cancellationToken: cancellationToken);
        Output.Object(settings, material, $"wrote {settings.OutputDirectory} for host {material.HostName} ({string.Join(", ", material.Names)}), valid until {material.NotAfter:u}");
        return ExitCodes.Success;
    }
}
