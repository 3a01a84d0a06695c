using System.Net;
using System.Net.Http.Json;
using System.Net.Security;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Virt.Storage;
using Virt.VirtualMachines;

namespace Virt.Samples.HostToHost;

/// <summary>
/// The source side of the host-to-host API: asks a destination panel for a migration ticket. Used by the panel's
/// <c>migrate-to</c> endpoint and by <c>virtctl vm migrate --to</c>. With this host's TLS directory: the destination's
/// HTTPS certificate must be signed by the hosts' own CA (<c>ca-cert.pem</c>), and only then; and this host shows its own
/// certificate (<c>client-cert.pem</c>), which a destination with the same CA checks against the source host named in the
/// request. Without the directory, the system's trust decides and no certificate is shown.
/// </summary>
internal sealed class HostToHostClient : IDisposable
{
    private readonly HttpClient _http;

    public HostToHostClient(string? tlsDirectory)
    {
        var hostsCaCertificate = tlsDirectory is null ? null : Path.Combine(tlsDirectory, Virt.Kvm.Tls.HostTlsDirectory.CaCertificateFileName);
        var authority = hostsCaCertificate is not null && File.Exists(hostsCaCertificate) ? LoadAuthority(hostsCaCertificate) : null;
        var handler = new HttpClientHandler
        {
            // A redirect would carry the host token (a custom header) to wherever the destination points.
            AllowAutoRedirect = false,
            // With the hosts' CA, only a certificate it signed (for the name dialled) is a peer: a certificate the system
            // trusts, e.g. a public one for that name, is not. Without it, the system's trust.
            ServerCertificateCustomValidationCallback = (_, certificate, _, errors) => authority is null
                ? errors == SslPolicyErrors.None
                : certificate is not null && (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) == SslPolicyErrors.None && ChainsTo(certificate, authority),
        };
        if (tlsDirectory is not null && LoadHostCertificate(tlsDirectory) is { } hostCertificate)
        {
            handler.ClientCertificateOptions = ClientCertificateOption.Manual;
            handler.ClientCertificates.Add(hostCertificate);
        }

        // A ticket or an error is small: a destination (or whatever the URL names) cannot make this process buffer more.
        _http = new HttpClient(handler) { Timeout = TimeSpan.FromMinutes(2), MaxResponseContentBufferSize = 64 * 1024 };
    }

    /// <summary>Asks the panel at <paramref name="destination"/> to get ready for <paramref name="vm"/> and returns its ticket.</summary>
    /// <param name="vm">The VM to send: its spec, and the sizes of its host-local disks, which the destination creates and the source copies into.</param>
    /// <param name="destination">The destination panel, e.g. <c>https://host-b:8006</c>.</param>
    /// <param name="token">The host-to-host token both panels are configured with.</param>
    /// <param name="sourceHost">This host's name: the destination lets in only its certificate.</param>
    /// <param name="allowClearText">
    /// Clear text, asked for explicitly: the migration streams (the ticket then says so), and a plain-HTTP destination that
    /// is not loopback (the token then crosses the link in clear).
    /// </param>
    /// <param name="cancellationToken">Cancels the request.</param>
    public async Task<MigrationTicket> RequestTicketAsync(IVirtualMachine vm, Uri destination, string token, string sourceHost, bool allowClearText, CancellationToken cancellationToken)
    {
        if (destination.Scheme != Uri.UriSchemeHttps && !(destination.Scheme == Uri.UriSchemeHttp && (destination.IsLoopback || allowClearText)))
        {
            throw new ArgumentException($"destination '{destination}' is not https: the host-to-host token would cross the link in clear; give https://HOST:PORT, or allow clear text explicitly (--insecure-clear-text)", nameof(destination));
        }

        // Sizes only of a VM that runs here; one that does not is refused by the migration itself, after the destination's checks.
        var localDiskSizes = (await vm.GetStatusAsync(cancellationToken)).State == VmState.Running ? await vm.Migration.GetLocalDiskSizesAsync(cancellationToken) : null;
        var request = new IncomingVmRequest(vm.Spec, sourceHost, allowClearText ? MigrationSecurity.ClearText : MigrationSecurity.Tls, localDiskSizes);
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

    /// <summary>
    /// Migrates <paramref name="vm"/> with the <paramref name="ticket"/> the panel at <paramref name="destination"/>
    /// answered. When the migration fails or is cancelled before it completes (this process may not be the VM's owner,
    /// the stream may break), the destination is told to drop the VM it got ready for, so nothing is left waiting there
    /// until the ticket expires.
    /// </summary>
    /// <param name="storage">
    /// This host's storage: once the destination's panel reports the VM running, this host's copies of the disks the
    /// migration copied (host-local volumes, host files) are deleted, as Proxmox does; null keeps them, unused. Only then:
    /// the source's completion says the destination loaded the whole state, not that the guest resumed there.
    /// </param>
    public async IAsyncEnumerable<VmMigrationProgress> MigrateAsync(IVirtualMachine vm, Uri destination, string token, MigrationTicket ticket, string? tlsDirectory, bool allowClearText, IStorageManager? storage, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var completed = false;
        var spec = vm.Spec;
        try
        {
            await foreach (var progress in vm.Migration.MigrateAsync(new VmMigrationOptions { Ticket = ticket, TlsDirectory = tlsDirectory, AllowClearText = allowClearText }, cancellationToken))
            {
                yield return progress;
            }

            completed = true;
        }
        finally
        {
            // Only while the guest still runs here: a migration that completed in QEMU but failed after (a cancel or an
            // error in the hand-over) has its only running copy on the destination, which must not be dropped.
            if (!completed && await StillRunsHereAsync(vm))
            {
                await CancelIncomingAsync(destination, token, ticket.VmName);
            }
        }

        if (storage is not null && ticket.Disks.Any(plan => plan.Transfer == MigrationDiskTransfer.Copy))
        {
            await DeleteCopiesOnceRunningThereAsync(spec, destination, token, ticket, storage, cancellationToken);
        }
    }

    /// <summary>
    /// Deletes this host's copies of the copied disks once the destination's panel reports the VM running (<c>GET
    /// /api/host-to-host/incoming/NAME</c>, within a minute); a volume only from a pool no other host reaches. Otherwise they
    /// stay, and the error says which.
    /// </summary>
    private async Task DeleteCopiesOnceRunningThereAsync(VmSpec spec, Uri destination, string token, MigrationTicket ticket, IStorageManager storage, CancellationToken cancellationToken)
    {
        var copied = ticket.Disks.Where(plan => plan.Transfer == MigrationDiskTransfer.Copy).Select(plan => plan.DiskId).ToHashSet(StringComparer.Ordinal);
        var disks = spec.Disks.Where(disk => copied.Contains(disk.Id)).ToList();
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        string? state;
        while ((state = await StateThereAsync(destination, token, spec.Name, cancellationToken)) != "Running")
        {
            if (DateTime.UtcNow >= deadline)
            {
                throw new VirtException(VirtErrorKind.Timeout, $"VM '{spec.Name}' migrated to {destination}, but its panel reports it {state ?? "absent"} a minute later, so this host's copies of disk {string.Join(", ", disks.Select(disk => $"'{disk.Id}' ({disk.Path})"))} are kept: check the VM there, then delete them here");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(250), cancellationToken);
        }

        foreach (var disk in disks)
        {
            if (!VmSpecValidator.IsVolumeId(disk.Path))
            {
                File.Delete(disk.Path);
                continue;
            }

            var id = VolumeId.Parse(disk.Path);
            var pool = await storage.GetPoolAsync(id.Pool, cancellationToken);
            if (!pool.Capabilities.HasFlag(StorageCapabilities.Shared))
            {
                await pool.DeleteVolumeAsync(id.Name, cancellationToken);
            }
        }
    }

    /// <summary>The VM's state on the destination's panel (<c>GET /api/host-to-host/incoming/NAME</c>), or null when it has none.</summary>
    private async Task<string?> StateThereAsync(Uri destination, string token, string vmName, CancellationToken cancellationToken)
    {
        using var message = new HttpRequestMessage(HttpMethod.Get, new Uri(destination, $"{HostToHostApi.IncomingPath}/{Uri.EscapeDataString(vmName)}"));
        message.Headers.Add(HostToHostApi.TokenHeader, token);
        try
        {
            using var response = await _http.SendAsync(message, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                return null;
            }

            using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
            return body.RootElement.TryGetProperty("state", out var state) ? state.GetString() : null;
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }

    private static async Task<bool> StillRunsHereAsync(IVirtualMachine vm)
    {
        try
        {
            // Not Paused: a source QEMU whose migration completed is paused (postmigrate). A VM paused before a failed
            // migration leaves its destination to the ticket's expiry instead.
            return (await vm.GetStatusAsync(CancellationToken.None)).State == VmState.Running;
        }
        catch (VmNotFoundException)
        {
            return false;
        }
    }

    /// <summary>
    /// Tells the destination to drop a VM it got ready to receive (<c>DELETE /api/host-to-host/incoming/NAME</c>; it
    /// refuses a VM that already runs there). Best effort: an unreachable destination removes it when the ticket expires.
    /// </summary>
    private async Task CancelIncomingAsync(Uri destination, string token, string vmName)
    {
        using var message = new HttpRequestMessage(HttpMethod.Delete, new Uri(destination, $"{HostToHostApi.IncomingPath}/{Uri.EscapeDataString(vmName)}"));
        message.Headers.Add(HostToHostApi.TokenHeader, token);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            using var response = await _http.SendAsync(message, timeout.Token);
        }
        catch (Exception exception) when (exception is HttpRequestException or OperationCanceledException)
        {
            // The ticket's expiry on the destination removes what it made; the migration's own error is what the caller sees.
        }
    }

    public void Dispose() => _http.Dispose();

    /// <summary>The hosts' CA certificate (no key: CreateFromPemFile would look for one in the same file and fail).</summary>
    private static X509Certificate2 LoadAuthority(string path)
    {
        try
        {
            return X509Certificate2.CreateFromPem(File.ReadAllText(path));
        }
        catch (CryptographicException exception)
        {
            throw new VirtException(VirtErrorKind.InvalidInput, $"the hosts' CA certificate '{path}' is not a PEM certificate ({exception.Message}): put the CA's certificate there (ca-cert.pem of virtctl host tls issue)", exception);
        }
    }

    /// <summary>This host's certificate and key (QEMU's client pair of the TLS directory), or null where the directory has none.</summary>
    private static X509Certificate2? LoadHostCertificate(string tlsDirectory)
    {
        var certificate = Path.Combine(tlsDirectory, Virt.Kvm.Tls.HostTlsDirectory.ClientCertificateFileName);
        var key = Path.Combine(tlsDirectory, Virt.Kvm.Tls.HostTlsDirectory.ClientKeyFileName);
        if (!File.Exists(certificate) || !File.Exists(key))
        {
            return null;
        }

        try
        {
            return X509Certificate2.CreateFromPemFile(certificate, key);
        }
        catch (CryptographicException exception)
        {
            throw new VirtException(VirtErrorKind.InvalidInput, $"this host's certificate '{certificate}' with its key '{key}' cannot be loaded ({exception.Message}): issue them again (virtctl host tls issue)", exception);
        }
    }

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
