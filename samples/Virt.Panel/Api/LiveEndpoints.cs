using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text.Json;
using Virt.Containers;
using Virt.VirtualMachines;

namespace Virt.Panel.Api;

/// <summary>
/// Live views: server-sent events with the state of every VM and container (sent when it changes), and
/// WebSocket bridges to a VM's serial console (its unix socket, for xterm.js) and VNC server (its unix
/// socket, for noVNC). Authentication is the fallback policy's, as for every endpoint; WebSocket Origins are
/// checked against the panel's host names (Panel:Hosts) before routing (<see cref="Security.SecurityHeaders"/>).
/// </summary>
internal static class LiveEndpoints
{
    public static void Map(WebApplication app)
    {
        app.MapGet("/api/events", async (HttpContext context, IVirtualMachineManager vms, IContainerManager containers, CancellationToken cancellationToken) =>
        {
            context.Response.Headers.ContentType = "text/event-stream";
            context.Response.Headers.CacheControl = "no-store";
            string? last = null;
            while (!cancellationToken.IsCancellationRequested)
            {
                var snapshot = await SnapshotAsync(vms, containers, cancellationToken);
                if (snapshot != last)
                {
                    await context.Response.WriteAsync($"event: state\ndata: {snapshot}\n\n", cancellationToken);
                    await context.Response.Body.FlushAsync(cancellationToken);
                    last = snapshot;
                }

                await Task.Delay(500, cancellationToken);
            }
        }).WithTags("Live").WithSummary("Server-sent events: 'state' with every VM's and container's state, whenever one changes.").ExcludeFromDescription();

        app.Map("/api/vms/{name}/console", async (string name, HttpContext context, IVirtualMachineManager vms) =>
        {
            var vm = await vms.GetAsync(name, context.RequestAborted);
            await BridgeAsync(context, vm.Endpoints.SerialSocket, WebSocketMessageType.Text);
        }).WithTags("Live").ExcludeFromDescription();

        app.Map("/api/vms/{name}/vnc", async (string name, HttpContext context, IVirtualMachineManager vms) =>
        {
            var vm = await vms.GetAsync(name, context.RequestAborted);
            var endpoint = vm.Endpoints.Vnc;
            await BridgeAsync(context, endpoint is not null && endpoint.StartsWith("unix:", StringComparison.Ordinal) ? endpoint["unix:".Length..] : null, WebSocketMessageType.Binary);
        }).WithTags("Live").ExcludeFromDescription();
    }

    private static async Task<string> SnapshotAsync(IVirtualMachineManager vms, IContainerManager containers, CancellationToken cancellationToken)
    {
        var vmStates = new List<object>();
        foreach (var vm in await vms.ListAsync(cancellationToken))
        {
            var status = await vm.GetStatusAsync(cancellationToken);
            vmStates.Add(new { name = status.Name, state = status.State.ToString(), pid = status.Pid, lastExit = status.LastExit?.Reason });
        }

        var containerStates = new List<object>();
        foreach (var container in await containers.ListAsync(cancellationToken))
        {
            containerStates.Add(new { name = container.Name, state = (await container.GetStatusAsync(cancellationToken)).State.ToString() });
        }

        return JsonSerializer.Serialize(new { vms = vmStates, containers = containerStates });
    }

    /// <summary>Copies bytes between a WebSocket and a unix socket until either side closes.</summary>
    private static async Task BridgeAsync(HttpContext context, string? socketPath, WebSocketMessageType messageType)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }

        if (socketPath is null || !File.Exists(socketPath))
        {
            context.Response.StatusCode = StatusCodes.Status409Conflict;
            await context.Response.WriteAsJsonAsync(new { error = "the VM is not running, or has no such console" });
            return;
        }

        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), context.RequestAborted);
        using var webSocket = await context.WebSockets.AcceptWebSocketAsync(messageType == WebSocketMessageType.Binary ? "binary" : null);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        var toBrowser = Task.Run(async () =>
        {
            var buffer = new byte[16384];
            int read;
            while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, stop.Token)) > 0)
            {
                await webSocket.SendAsync(buffer.AsMemory(0, read), messageType, true, stop.Token);
            }
        });
        var toSocket = Task.Run(async () =>
        {
            var buffer = new byte[16384];
            while (true)
            {
                var result = await webSocket.ReceiveAsync(buffer, stop.Token);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    break;
                }

                await socket.SendAsync(buffer.AsMemory(0, result.Count), SocketFlags.None, stop.Token);
            }
        });
        await Task.WhenAny(toBrowser, toSocket);
        await stop.CancelAsync();
        try
        {
            await Task.WhenAll(toBrowser, toSocket);
        }
        catch (Exception exception) when (exception is OperationCanceledException or WebSocketException or SocketException)
        {
            // One side went away; the other is closed below.
        }

        // Open (the VM's side ended) or CloseReceived (the browser's did): either way the close handshake is finished here.
        if (webSocket.State is WebSocketState.Open or WebSocketState.CloseReceived)
        {
            try
            {
                await webSocket.CloseAsync(WebSocketCloseStatus.NormalClosure, "console closed", CancellationToken.None);
            }
            catch (WebSocketException)
            {
                // The browser went away without waiting for the answer.
            }
        }
    }
}
