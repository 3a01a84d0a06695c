using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

namespace Virt.Kvm.Tests.Fakes;

/// <summary>
/// An in-process QMP server on a unix socket that speaks the protocol like QEMU (greeting,
/// qmp_capabilities, id echo, CRLF line ends) and lets a test script replies and inject faults.
/// </summary>
internal sealed class FakeQmpServer : IAsyncDisposable
{
    public const string QemuGreeting = """{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "Debian 1:7.2+dfsg-7+deb12u18"}, "capabilities": ["oob"]}}""";

    private readonly Socket _listener;
    private readonly string _directory;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _acceptLoop;
    private readonly TaskCompletionSource<FakeQmpConnection> _firstConnection = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <param name="greeting">The first line sent; <see langword="null"/> sends nothing (a server that never greets).</param>
    /// <param name="handler">Answers a command; return false to fall back to the defaults.</param>
    public FakeQmpServer(string? greeting = QemuGreeting, Func<FakeQmpConnection, JsonObject, Task<bool>>? handler = null)
    {
        Greeting = greeting;
        Handler = handler;
        _directory = Directory.CreateTempSubdirectory("virt-fakeqmp-").FullName;
        SocketPath = Path.Combine(_directory, "qmp.sock");
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(SocketPath));
        _listener.Listen(4);
        _acceptLoop = AcceptLoopAsync();
    }

    public string SocketPath { get; }

    public string? Greeting { get; }

    public Func<FakeQmpConnection, JsonObject, Task<bool>>? Handler { get; }

    public Task<FakeQmpConnection> FirstConnection => _firstConnection.Task;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        try
        {
            await _acceptLoop;
        }
        catch (Exception)
        {
            // The listener is gone.
        }

        if (_firstConnection.Task.IsCompletedSuccessfully)
        {
            (await _firstConnection.Task).Close();
        }

        Directory.Delete(_directory, recursive: true);
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var socket = await _listener.AcceptAsync(_stop.Token);
            var connection = new FakeQmpConnection(socket, this);
            _firstConnection.TrySetResult(connection);
            _ = connection.RunAsync(_stop.Token);
        }
    }
}

internal sealed class FakeQmpConnection
{
    private readonly Socket _socket;
    private readonly FakeQmpServer _server;
    private readonly SemaphoreSlim _writeLock = new(1, 1);

    public FakeQmpConnection(Socket socket, FakeQmpServer server)
    {
        _socket = socket;
        _server = server;
    }

    /// <summary>Every command received, in order.</summary>
    public List<JsonObject> Received { get; } = [];

    /// <summary>Completes when the client closed its end.</summary>
    public TaskCompletionSource ClientClosed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            if (_server.Greeting is not null)
            {
                await SendLineAsync(_server.Greeting);
            }

            using var stream = new NetworkStream(_socket, ownsSocket: false);
            using var reader = new StreamReader(stream, Encoding.UTF8);
            while (!cancellationToken.IsCancellationRequested)
            {
                var line = await reader.ReadLineAsync(cancellationToken);
                if (line is null)
                {
                    break;
                }

                var command = JsonNode.Parse(line)!.AsObject();
                lock (Received)
                {
                    Received.Add(command);
                }

                _ = HandleAsync(command);
            }
        }
        catch (Exception)
        {
            // Closed by the test or the client.
        }

        ClientClosed.TrySetResult();
    }

    public static long IdOf(JsonObject command) => command["id"]!.GetValue<long>();

    public static string NameOf(JsonObject command) => (command["execute"] ?? command["exec-oob"])!.GetValue<string>();

    public Task ReturnAsync(JsonObject command, JsonNode result) =>
        SendLineAsync(new JsonObject { ["return"] = result, ["id"] = IdOf(command) }.ToJsonString());

    public Task ErrorAsync(JsonObject command, string errorClass, string description) =>
        SendLineAsync(new JsonObject { ["error"] = new JsonObject { ["class"] = errorClass, ["desc"] = description }, ["id"] = IdOf(command) }.ToJsonString());

    public Task EventAsync(string name, JsonObject? data = null)
    {
        var message = new JsonObject { ["timestamp"] = new JsonObject { ["seconds"] = 1795760260, ["microseconds"] = 26818 }, ["event"] = name };
        if (data is not null)
        {
            message["data"] = data;
        }

        return SendLineAsync(message.ToJsonString());
    }

    public Task SendLineAsync(string line) => SendRawAsync(Encoding.UTF8.GetBytes(line + "\r\n"));

    public async Task SendRawAsync(byte[] bytes)
    {
        await _writeLock.WaitAsync();
        try
        {
            var sent = 0;
            while (sent < bytes.Length)
            {
                sent += await _socket.SendAsync(bytes.AsMemory(sent), SocketFlags.None);
            }
        }
        finally
        {
            _writeLock.Release();
        }
    }

    public void Close()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception)
        {
            // Already closed.
        }

        _socket.Dispose();
    }

    private async Task HandleAsync(JsonObject command)
    {
        try
        {
            if (_server.Handler is not null && await _server.Handler(this, command))
            {
                return;
            }

            switch (NameOf(command))
            {
                case "qmp_capabilities":
                    await ReturnAsync(command, new JsonObject());
                    break;
                case "query-status":
                    await ReturnAsync(command, new JsonObject { ["status"] = "running", ["singlestep"] = false, ["running"] = true });
                    break;
                case "query-qmp-schema":
                    // The schema real QEMU 7.2 (the version this fake greets as) returns.
                    await ReturnAsync(command, RepositoryFiles.Qemu72Schema.DeepClone());
                    break;
                default:
                    await ErrorAsync(command, "CommandNotFound", $"The command {NameOf(command)} has not been found");
                    break;
            }
        }
        catch (Exception)
        {
            // The connection went away under the handler.
        }
    }
}
