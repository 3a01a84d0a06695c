using Virt.Networking;
using Virt.Samples.Networking;

namespace Virt.Panel.Api;

/// <summary>
/// Networks (define, plan, apply, delete; leases, ports, firewall counters), security groups, the host's network
/// inventory and drift. Definitions are JSON with a "kind" discriminator (<see cref="NetworkDocumentJson"/>); the
/// answers use the same format, so a definition read back can be posted again.
/// </summary>
internal static class NetworkEndpoints
{
    public static void Map(WebApplication app)
    {
        var networks = app.MapGroup("/api/networks").WithTags("Networks");
        networks.MapGet("/", async (INetworkManager manager, CancellationToken cancellationToken) =>
            Json((await manager.ListAsync(cancellationToken)).Select(Summary).ToList())).WithSummary("Every network with its state on the host (applied, pending changes, ports).");
        networks.MapGet("/{name}", async (string name, INetworkManager manager, CancellationToken cancellationToken) =>
            Json(Summary(await manager.GetAsync(name, cancellationToken)))).WithSummary("One network: its definition and state.");
        networks.MapPost("/", async (HttpRequest request, INetworkManager manager, CancellationToken cancellationToken) =>
        {
            var definition = await NetworkDocumentJson.ReadDefinitionAsync(request.Body, "the request body", cancellationToken);
            await manager.DefineAsync(definition, cancellationToken);
            return Results.Json(Summary(await manager.GetAsync(definition.Name, cancellationToken)), NetworkDocumentJson.Options, statusCode: StatusCodes.Status201Created);
        }).Accepts<object>("application/json").WithSummary("Define a network (or replace its definition); nothing changes on the host until it is applied.");
        networks.MapGet("/{name}/plan", async (string name, INetworkManager manager, CancellationToken cancellationToken) =>
            Json(await manager.PlanAsync(name, cancellationToken))).WithSummary("What an apply would do now, operation by operation; changes nothing.");
        networks.MapPost("/{name}/apply", async (string name, INetworkManager manager, CancellationToken cancellationToken) =>
            Json(await manager.ApplyAsync(name, cancellationToken))).WithSummary("Bring the host to the definition; returns the plan that ran.");
        networks.MapDelete("/{name}", async (string name, INetworkManager manager, CancellationToken cancellationToken) =>
        {
            await manager.DeleteAsync(name, cancellationToken);
            return Results.Ok(new { ok = true });
        }).WithSummary("Remove the network from the host and its definition.");
        networks.MapGet("/{name}/leases", async (string name, INetworkManager manager, CancellationToken cancellationToken) =>
            Json(await manager.GetLeasesAsync(name, cancellationToken))).WithSummary("The DHCP leases dnsmasq holds.");
        networks.MapGet("/{name}/ports", async (string name, INetworkManager manager, CancellationToken cancellationToken) =>
            Json((await manager.ListPortsAsync(name, cancellationToken)).Select(Port).ToList())).WithSummary("The VM and container NICs attached.");
        networks.MapGet("/{name}/counters", async (string name, INetworkManager manager, CancellationToken cancellationToken) =>
            Json(await manager.GetFirewallCountersAsync(name, cancellationToken))).WithSummary("Hit counters of the network's firewall rules.");

        var groups = app.MapGroup("/api/security-groups").WithTags("Networks");
        groups.MapGet("/", async (INetworkManager manager, CancellationToken cancellationToken) =>
            Json(await manager.ListSecurityGroupsAsync(cancellationToken))).WithSummary("Every security group.");
        groups.MapPost("/", async (HttpRequest request, INetworkManager manager, CancellationToken cancellationToken) =>
        {
            var group = await NetworkDocumentJson.ReadSecurityGroupAsync(request.Body, "the request body", cancellationToken);
            await manager.DefineSecurityGroupAsync(group, cancellationToken);
            return Results.Json(group, NetworkDocumentJson.Options, statusCode: StatusCodes.Status201Created);
        }).Accepts<SecurityGroup>("application/json").WithSummary("Define a security group (or replace it); the ports using it get its rules.");
        groups.MapDelete("/{name}", async (string name, INetworkManager manager, CancellationToken cancellationToken) =>
        {
            await manager.DeleteSecurityGroupAsync(name, cancellationToken);
            return Results.Ok(new { ok = true });
        }).WithSummary("Remove a security group no NIC uses.");

        var host = app.MapGroup("/api/host/network").WithTags("Host");
        host.MapGet("/", async (INetworkManager manager, CancellationToken cancellationToken) =>
            Json(await manager.GetHostInventoryAsync(cancellationToken))).WithSummary("The host's links, addresses, routes and bridges (read-only).");
        host.MapGet("/drift", async (INetworkManager manager, CancellationToken cancellationToken) =>
            Json(await manager.CheckDriftAsync(cancellationToken))).WithSummary("Where the host differs from the applied networks; an apply repairs it.");
    }

    private static IResult Json<T>(T value) => Results.Json(value, NetworkDocumentJson.Options);

    private static NetworkSummary Summary(NetworkInfo info) =>
        new(info.Definition.Name, info.Definition.Kind, info.Definition.EffectiveBridgeName, info.Applied, info.PendingChanges, info.PortCount, info.Definition);

    private static PortSummary Port(NetworkPort port) =>
        new(port.Request.Owner, port.Request.NicId, port.Request.HostInterface, port.Request.Kind, port.Request.MacAddress, port.Request.VlanTag, port.Bridge, port.Mtu, port.Ipv4Address);

    /// <summary>A network as the list shows it, with its whole definition ("kind" included) for the editor.</summary>
    private sealed record NetworkSummary(string Name, string Kind, string Bridge, bool Applied, int PendingChanges, int PortCount, NetworkDefinition Definition);

    private sealed record PortSummary(string Owner, string NicId, string HostInterface, NetworkPortKind Kind, string MacAddress, int? VlanTag, string Bridge, int Mtu, string? Ipv4Address);
}
