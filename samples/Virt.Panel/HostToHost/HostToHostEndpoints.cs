using System.Net;
using Virt.Hosting;
using Virt.Panel.Api;
using Virt.Samples.HostToHost;
using Virt.Storage;
using Virt.VirtualMachines;

namespace Virt.Panel.HostToHost;

/// <summary>
/// Body of <c>POST /api/vms/{name}/migrate-to</c>: the destination panel, whether the streams may be clear text, and
/// whether this host keeps its copies of the disks the migration copies (default: they are deleted once the VM runs there).
/// </summary>
internal sealed record MigrateToHostRequest(string Destination, bool InsecureClearText = false, bool KeepCopiedDisks = false);

/// <summary>
/// Live migration between hosts through their panels. The destination's <c>POST /api/host-to-host/incoming</c> (host
/// token only) prepares a waiting QEMU and answers the ticket; the source's <c>POST /api/vms/{name}/migrate-to</c>
/// (a panel user) fetches that ticket and migrates to it as a task with progress.
/// </summary>
internal static class HostToHostEndpoints
{
    public static void Map(WebApplication app)
    {
        app.MapPost(HostToHostApi.IncomingPath, async (IncomingVmRequest request, HttpContext context, PanelOptions options, PeerHostCertificates peers, IVirtualMachineManager manager, CancellationToken cancellationToken) =>
        {
            if (await peers.RefusalAsync(context, request.SourceHost ?? string.Empty) is { } notThatHost)
            {
                return CertificateRefused(notThatHost, request.Spec.Name);
            }

            if (request.Spec.Disks.FirstOrDefault(disk => !VmSpecValidator.IsVolumeId(disk.Path)) is { } hostFile && !options.AllowHostPaths)
            {
                return Results.Json(new { error = $"disk '{hostFile.Id}' of VM '{request.Spec.Name}' is a host file, not a storage volume (pool:name): this panel receives such disks only with Panel:AllowHostPaths=true", type = "HostPathRefused" }, statusCode: StatusCodes.Status400BadRequest);
            }

            // The address the source reached this panel on is an address of the link between the hosts, unless configured.
            var listen = options.MigrationAddress ?? ListenAddressOf(context.Connection.LocalIpAddress);
            var ticket = await manager.PrepareIncomingAsync(
                request.Spec,
                new IncomingMigrationOptions { ListenAddress = listen, Security = request.Security, SourceHost = request.SourceHost, TlsDirectory = options.TlsDirectory, LocalDiskSizes = request.LocalDiskSizes },
                cancellationToken);
            return Results.Ok(ticket);
        }).RequireAuthorization(HostTokenAuthenticationHandler.PolicyName)
            .WithTags("Host to host").WithSummary($"Get ready to receive a VM from another host (header {HostToHostApi.TokenHeader}); answers the migration ticket.");

        app.MapGet(HostToHostApi.IncomingPath + "/{name}", async (string name, HttpContext context, PeerHostCertificates peers, IVirtualMachineManager manager, CancellationToken cancellationToken) =>
        {
            if (await peers.RefusalAsync(context, sourceHost: null) is { } notAHost)
            {
                return CertificateRefused(notAHost, name);
            }

            var vm = await manager.GetAsync(name, cancellationToken);
            return Results.Ok(new { name, state = (await vm.GetStatusAsync(cancellationToken)).State.ToString() });
        }).RequireAuthorization(HostTokenAuthenticationHandler.PolicyName)
            .WithTags("Host to host").WithSummary($"The state of a VM this host received or is receiving (header {HostToHostApi.TokenHeader}): the source deletes its copies of copied disks only once it is Running here.");

        app.MapDelete(HostToHostApi.IncomingPath + "/{name}", async (string name, HttpContext context, PeerHostCertificates peers, IVirtualMachineManager manager, VirtHostIdentity identity, CancellationToken cancellationToken) =>
        {
            if (await peers.RefusalAsync(context, sourceHost: null) is { } notAHost)
            {
                return CertificateRefused(notAHost, name);
            }

            var vm = await manager.GetAsync(name, cancellationToken);
            var state = (await vm.GetStatusAsync(cancellationToken)).State;
            if (state != VmState.Incoming)
            {
                return Results.Json(new { error = $"VM '{name}' on {identity.Name} is {state}, not waiting for a migration: only a VM still being received is dropped this way", type = "NotIncoming" }, statusCode: StatusCodes.Status409Conflict);
            }

            // Only the host the VM is to come from may drop its wait: another host of the CA could otherwise end someone
            // else's migration in its last seconds.
            if (await vm.Migration.GetIncomingSourceHostAsync(cancellationToken) is { } sourceHost && await peers.RefusalAsync(context, sourceHost) is { } notTheSource)
            {
                return CertificateRefused(notTheSource, name);
            }

            await manager.DeleteAsync(name, cancellationToken: cancellationToken);
            return Results.NoContent();
        }).RequireAuthorization(HostTokenAuthenticationHandler.PolicyName)
            .WithTags("Host to host").WithSummary($"Drop a VM this host got ready to receive whose migration failed at the source (header {HostToHostApi.TokenHeader}); a VM that runs is refused.");

        // What the browser's "Migrate to host" form needs: whether this panel can send VMs at all, and the configured
        // peers to offer. Never the token: the panel sends it itself, the page never sees it.
        app.MapGet("/api/host-to-host/peers", (HostToHostAuth hostAuth, PanelOptions options, VirtHostIdentity identity) =>
            new { hostName = identity.Name, canMigrate = hostAuth.IsConfigured, peers = options.PeerHosts ?? [] })
            .WithTags("Host to host").WithSummary("This host's name, whether it has the hosts' token (Panel:HostTokenFile) and the peer panels of Panel:PeerHosts.");

        app.MapPost("/api/vms/{name}/migrate-to", (string name, MigrateToHostRequest request, IVirtualMachineManager manager, IStorageManager storage, PanelTasks tasks, HostToHostAuth hostAuth, PanelOptions options, VirtHostIdentity identity) =>
        {
            if (!Uri.TryCreate(request.Destination, UriKind.Absolute, out var destination))
            {
                return Results.Json(new { error = $"destination '{request.Destination}' is not an absolute URL: give the other host's panel, e.g. https://host-b:8006", type = "InvalidDestination" }, statusCode: StatusCodes.Status400BadRequest);
            }

            if (!hostAuth.IsConfigured)
            {
                return Results.Json(new { error = $"this panel has no host-to-host token to show the other host: configure the hosts' shared token (Panel:HostTokenFile or {HostToHostApi.TokenEnvironmentVariable})", type = "NoHostToken" }, statusCode: StatusCodes.Status409Conflict);
            }

            // A panel user names the destination, and the hosts' token goes with the request: only to the configured peers.
            if (!options.IsPeer(destination))
            {
                var peers = options.PeerHosts is { Count: > 0 } configured ? string.Join(", ", configured) : "none configured";
                return Results.Json(new { error = $"destination '{destination}' is not one of this panel's peer hosts ({peers}): the hosts' token is sent only to the panels of Panel:PeerHosts; add {destination.GetLeftPart(UriPartial.Authority)} there if it is one of your hosts", type = "NotAPeer" }, statusCode: StatusCodes.Status400BadRequest);
            }

            return Results.Accepted(value: tasks.Start($"migrate VM {name} to {destination}", async task =>
            {
                var vm = await manager.GetAsync(name);
                task.Detail = $"asking {destination} for a ticket";
                using var client = new HostToHostClient(options.TlsDirectory);
                var ticket = await client.RequestTicketAsync(vm, destination, hostAuth.Token, identity.Name, request.InsecureClearText, CancellationToken.None);
                task.Detail = $"migrating to {ticket.DestinationHost} ({ticket.Address})";
                await foreach (var progress in client.MigrateAsync(vm, destination, hostAuth.Token, ticket, options.TlsDirectory, request.InsecureClearText, request.KeepCopiedDisks ? null : storage, CancellationToken.None))
                {
                    task.Percent = progress.TotalBytes > 0 ? Math.Min(99, 100.0 * progress.TransferredBytes / progress.TotalBytes) : task.Percent;
                    task.Detail = progress.Status;
                }
            }));
        }).WithTags("VMs").WithSummary("Live-migrate a VM to another host's panel (both configured with the hosts' token); returns a task with progress.");
    }

    private static IResult CertificateRefused(string why, string vm) =>
        Results.Json(new { error = $"VM '{vm}': {why}", type = "HostCertificateRefused" }, statusCode: StatusCodes.Status403Forbidden);

    private static string ListenAddressOf(IPAddress? local) => local switch
    {
        null => throw new InvalidOperationException("the connection has no local address to listen on: set Panel:MigrationAddress"),
        { IsIPv4MappedToIPv6: true } => local.MapToIPv4().ToString(),
        _ => local.ToString(),
    };
}
