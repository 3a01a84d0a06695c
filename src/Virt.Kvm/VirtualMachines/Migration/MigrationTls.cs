using Virt.Kvm.Qmp;
using Virt.Kvm.Qmp.Api;
using Virt.VirtualMachines;

namespace Virt.Kvm.VirtualMachines.Migration;

/// <summary>
/// TLS for a migration stream between hosts: QEMU's own <c>tls-creds-x509</c> object, reading the host's
/// certificates from a directory in QEMU's layout, added over QMP and named in the migration parameters.
/// The destination verifies the source's client certificate (and, when the source host is named, lets only
/// that host's certificate in); the source checks the destination's certificate against the ticket's host name.
/// </summary>
internal static class MigrationTls
{
    // One id per end: a VM that arrived over TLS keeps its server object while QEMU holds a reference to it, and
    // migrating it on later must not find that object under the client's name.
    public const string ServerCredentialsId = "virt-migration-tls-server";
    public const string ClientCredentialsId = "virt-migration-tls-client";
    public const string AuthorizationId = "virt-migration-authz";

    /// <summary>The files one side needs, by endpoint.</summary>
    private static readonly string[] ServerFiles = ["ca-cert.pem", "server-cert.pem", "server-key.pem"];
    private static readonly string[] ClientFiles = ["ca-cert.pem", "client-cert.pem", "client-key.pem"];

    /// <summary>Checks the directory holds what QEMU will read, so a missing file is named before QEMU is involved.</summary>
    public static string RequireDirectory(System.IO.Abstractions.IFileSystem fileSystem, string vmName, string? directory, bool server)
    {
        if (directory is null)
        {
            throw new VmMigrationException(vmName, "TLS needs this host's certificate directory: pass TlsDirectory (or set KvmOptions.MigrationTlsDirectory), or ask for MigrationSecurity.ClearText explicitly");
        }

        var missing = (server ? ServerFiles : ClientFiles).Where(file => !fileSystem.File.Exists(Path.Combine(directory, file))).ToList();
        if (missing.Count > 0)
        {
            throw new VmMigrationException(vmName, $"the TLS directory '{directory}' lacks {string.Join(", ", missing)}; QEMU reads ca-cert.pem, server-cert.pem, server-key.pem, client-cert.pem and client-key.pem there (keys 0600)");
        }

        return directory;
    }

    /// <summary>
    /// The destination: server credentials that require a client certificate signed by the CA and, with
    /// <paramref name="sourceHost"/>, an authorization that lets in only the certificate whose subject starts with
    /// <c>CN=SOURCE</c> (gnutls writes the subject RFC 4514 style, last RDN first: <c>CN=host-a</c> or <c>CN=host-a,O=...</c>).
    /// </summary>
    public static async Task ConfigureServerAsync(QmpClient qmp, string directory, string? sourceHost, CancellationToken cancellationToken)
    {
        await qmp.ObjectAddAsync(new ObjectAddArgumentsTlsCredsX509 { Id = ServerCredentialsId, Dir = directory, Endpoint = ObjectAddArgumentsTlsCredsAnonEndpoint.Server, VerifyPeer = true }, cancellationToken).ConfigureAwait(false);
        if (sourceHost is not null)
        {
            // Host names carry no glob characters (VirtHostIdentity allows letters, digits, dots and dashes).
            await qmp.ObjectAddAsync(new ObjectAddArgumentsAuthzList
            {
                Id = AuthorizationId,
                Policy = ObjectAddArgumentsAuthzListPolicy.Deny,
                Rules =
                [
                    new ObjectAddArgumentsAuthzListRules { Match = $"CN={sourceHost}", Policy = ObjectAddArgumentsAuthzListPolicy.Allow, Format = ObjectAddArgumentsAuthzListRulesFormat.Exact },
                    new ObjectAddArgumentsAuthzListRules { Match = $"CN={sourceHost},*", Policy = ObjectAddArgumentsAuthzListPolicy.Allow, Format = ObjectAddArgumentsAuthzListRulesFormat.Glob },
                ],
            }, cancellationToken).ConfigureAwait(false);
        }

        await qmp.MigrateSetParametersAsync(new MigrateSetParametersArguments { TlsCreds = ServerCredentialsId, TlsAuthz = sourceHost is null ? null : new MigrateSetParametersArgumentsTlsCreds(AuthorizationId) }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The source: client credentials, and the destination's certificate checked against its host name.</summary>
    public static async Task ConfigureClientAsync(QmpClient qmp, string directory, string destinationHost, CancellationToken cancellationToken)
    {
        await RemoveClientAsync(qmp).ConfigureAwait(false);
        await qmp.ObjectAddAsync(new ObjectAddArgumentsTlsCredsX509 { Id = ClientCredentialsId, Dir = directory, Endpoint = ObjectAddArgumentsTlsCredsAnonEndpoint.Client, VerifyPeer = true }, cancellationToken).ConfigureAwait(false);
        await qmp.MigrateSetParametersAsync(new MigrateSetParametersArguments { TlsCreds = ClientCredentialsId, TlsHostname = destinationHost }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// A VM that arrived over TLS: its QEMU's migration parameters still name the server credentials and the source's
    /// authorization, which its next migration (to another host, or on this one) must not inherit. Never throws.
    /// </summary>
    public static Task RemoveServerAsync(QmpClient qmp) => RemoveAsync(qmp, AuthorizationId, ServerCredentialsId);

    /// <summary>Takes the source's TLS settings away again (after a failed attempt), so a later migration starts clean. Never throws.</summary>
    public static Task RemoveClientAsync(QmpClient qmp) => RemoveAsync(qmp, ClientCredentialsId);

    /// <summary>Before a migration without a ticket: no TLS setting left from an earlier one applies to it.</summary>
    public static Task ClearParametersAsync(QmpClient qmp, CancellationToken cancellationToken) =>
        qmp.MigrateSetParametersAsync(new MigrateSetParametersArguments { TlsCreds = string.Empty, TlsHostname = string.Empty, TlsAuthz = new MigrateSetParametersArgumentsTlsCreds(string.Empty) }, cancellationToken);

    /// <summary>Clears the TLS parameters, then deletes the objects they named; never throws (it runs on cleanup paths).</summary>
    private static async Task RemoveAsync(QmpClient qmp, params string[] objectIds)
    {
        try
        {
            await ClearParametersAsync(qmp, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is QmpException or QmpConnectionException)
        {
            // QEMU is gone: nothing to clean.
            return;
        }

        foreach (var id in objectIds)
        {
            try
            {
                await qmp.ObjectDelAsync(new ObjectDelArguments { Id = id }, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is QmpException or QmpConnectionException)
            {
                // Not there (no earlier attempt, no source host named), or still referenced by QEMU: the parameters no longer name it.
            }
        }
    }
}
