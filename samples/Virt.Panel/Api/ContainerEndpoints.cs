using Virt.Containers;

namespace Virt.Panel.Api;

/// <summary>A busybox container; unprivileged (a user namespace: root inside is uid 100000 on the host) unless <paramref name="Unprivileged"/> is false, which needs <c>Panel:AllowPrivilegedContainers</c>.</summary>
internal sealed record CreateContainerRequest(string Name, long? MemoryMiB = null, bool Unprivileged = true);

internal sealed record ExecRequest(IReadOnlyList<string> Command);

internal static class ContainerEndpoints
{
    public static void Map(WebApplication app)
    {
        var containers = app.MapGroup("/api/containers").WithTags("Containers");
        containers.MapGet("/", async (IContainerManager manager, CancellationToken cancellationToken) =>
        {
            var rows = new List<object>();
            foreach (var container in await manager.ListAsync(cancellationToken))
            {
                var status = await container.GetStatusAsync(cancellationToken);
                rows.Add(new { name = container.Name, state = status.State, initPid = status.InitPid });
            }

            return rows;
        }).WithSummary("Every container with its state.");

        containers.MapPost("/", async (CreateContainerRequest request, IContainerManager manager, PanelOptions options, CancellationToken cancellationToken) =>
        {
            if (!request.Unprivileged && !options.AllowPrivilegedContainers)
            {
                return Results.Json(new { error = $"container '{request.Name}' would be privileged (its root is the host's root): the panel makes privileged containers only when it runs with Panel:AllowPrivilegedContainers=true; leave unprivileged on", type = "PrivilegedContainerRefused" }, statusCode: StatusCodes.Status400BadRequest);
            }

            var container = await manager.CreateAsync(new ContainerSpec(request.Name, ContainerRootfs.Busybox()) { Unprivileged = request.Unprivileged, Limits = new ContainerLimits { MemoryMiB = request.MemoryMiB } }, cancellationToken);
            return Results.Created($"/api/containers/{container.Name}", new { name = container.Name, state = (await container.GetStatusAsync(cancellationToken)).State });
        }).WithSummary("Create a busybox container (not started), unprivileged unless the panel allows privileged ones.");

        containers.MapPost("/{name}/start", async (string name, IContainerManager manager, CancellationToken cancellationToken) =>
        {
            var container = await manager.GetAsync(name, cancellationToken);
            await container.StartAsync(cancellationToken: cancellationToken);
            return new { name, state = (await container.GetStatusAsync(cancellationToken)).State };
        }).WithSummary("Start a container.");

        containers.MapPost("/{name}/stop", async (string name, IContainerManager manager, CancellationToken cancellationToken) =>
        {
            var container = await manager.GetAsync(name, cancellationToken);
            await container.StopAsync(TimeSpan.FromSeconds(10), cancellationToken);
            return new { name, state = (await container.GetStatusAsync(cancellationToken)).State };
        }).WithSummary("Stop a container (init killed after 10 s).");

        containers.MapPost("/{name}/exec", async (string name, ExecRequest request, IContainerManager manager, CancellationToken cancellationToken) =>
        {
            var container = await manager.GetAsync(name, cancellationToken);
            return await container.ExecAsync(new ContainerExecRequest(request.Command) { Timeout = TimeSpan.FromSeconds(60) }, cancellationToken);
        }).WithSummary("Run a command in a running container (60 s deadline): exit code, stdout, stderr.");

        containers.MapDelete("/{name}", async (string name, IContainerManager manager, CancellationToken cancellationToken) =>
        {
            await manager.DeleteAsync(name, force: true, cancellationToken);
            return Results.NoContent();
        }).WithSummary("Delete a container (killed first if it runs).");
    }
}
