using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

namespace Virt.Kvm.Testing;

/// <summary>
/// An in-process QMP server on a unix socket that speaks the protocol like QEMU (greeting,
/// qmp_capabilities, id echo, CRLF line ends) and lets a test script replies and inject faults.
/// </summary>
public sealed class FakeQmpServer : IAsyncDisposable
{
    /// <summary>The greeting real QEMU 7.2.22 sends (the version whose schema this fake serves).</summary>
    public const string QemuGreeting = """{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "Debian 1:7.2+dfsg-7+deb12u18"}, "capabilities": ["oob"]}}""";

    private readonly Socket _listener;
    private readonly string _directory;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _acceptLoop;
    private readonly TaskCompletionSource<FakeQmpConnection> _firstConnection = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Starts listening on a fresh socket in a temporary directory.</summary>
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

    /// <summary>The unix socket to connect a QMP client to.</summary>
    public string SocketPath { get; }

    /// <summary>The first line each connection receives; <see langword="null"/> for none.</summary>
    public string? Greeting { get; }

    /// <summary>Answers a command before the defaults; returns false to let the defaults answer.</summary>
    public Func<FakeQmpConnection, JsonObject, Task<bool>>? Handler { get; }

    /// <summary>Completes with the first client connection.</summary>
    public Task<FakeQmpConnection> FirstConnection => _firstConnection.Task;

    /// <summary>Stops listening, closes the first connection and removes the socket's directory.</summary>
    /// <returns>A task that completes when the server is gone.</returns>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        try
        {
            await _acceptLoop.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The listener is gone.
        }

        if (_firstConnection.Task.IsCompletedSuccessfully)
        {
            (await _firstConnection.Task.ConfigureAwait(false)).Close();
        }

        Directory.Delete(_directory, recursive: true);
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var socket = await _listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
            var connection = new FakeQmpConnection(socket, this);
            _firstConnection.TrySetResult(connection);
            _ = connection.RunAsync(_stop.Token);
        }
    }
}

/// <summary>
/// One client connection to a <see cref="FakeQmpServer"/>: what the client sent, and the means to answer it,
/// send it events or raw bytes, or cut it off.
/// </summary>
public sealed class FakeQmpConnection
{
    private readonly Socket _socket;
    private readonly FakeQmpServer _server;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly List<JsonObject> _received = [];

    internal FakeQmpConnection(Socket socket, FakeQmpServer server)
    {
        _socket = socket;
        _server = server;
    }

    /// <summary>Every command received, in order.</summary>
    public IReadOnlyList<JsonObject> Received
    {
        get
        {
            lock (_received)
            {
                return [.. _received];
            }
        }
    }

    /// <summary>Completes when the client closed its end.</summary>
    public TaskCompletionSource ClientClosed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            if (_server.Greeting is not null)
            {
                await SendLineAsync(_server.Greeting).ConfigureAwait(false);
            }

            using var stream = new NetworkStream(_socket, ownsSocket: false);
            using var reader = new StreamReader(stream, Encoding.UTF8);
            while (!cancellationToken.IsCancellationRequested)
            {
                var line = await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false);
                if (line is null)
                {
                    break;
                }

                var command = JsonNode.Parse(line)!.AsObject();
                lock (_received)
                {
                    _received.Add(command);
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

    /// <summary>The id the client gave a command.</summary>
    /// <param name="command">A received command.</param>
    /// <returns>The id.</returns>
    public static long IdOf(JsonObject command) => command["id"]!.GetValue<long>();

    /// <summary>The command's name (<c>execute</c> or <c>exec-oob</c>).</summary>
    /// <param name="command">A received command.</param>
    /// <returns>The name.</returns>
    public static string NameOf(JsonObject command) => (command["execute"] ?? command["exec-oob"])!.GetValue<string>();

    /// <summary>Answers a command with a result.</summary>
    /// <param name="command">The command to answer.</param>
    /// <param name="result">The <c>return</c> member.</param>
    /// <returns>A task that completes when the reply is sent.</returns>
    public Task ReturnAsync(JsonObject command, JsonNode result) =>
        SendLineAsync(new JsonObject { ["return"] = result, ["id"] = IdOf(command) }.ToJsonString());

    /// <summary>Answers a command with a QMP error.</summary>
    /// <param name="command">The command to answer.</param>
    /// <param name="errorClass">The error class, e.g. <c>GenericError</c>.</param>
    /// <param name="description">The error's description.</param>
    /// <returns>A task that completes when the reply is sent.</returns>
    public Task ErrorAsync(JsonObject command, string errorClass, string description) =>
        SendLineAsync(new JsonObject { ["error"] = new JsonObject { ["class"] = errorClass, ["desc"] = description }, ["id"] = IdOf(command) }.ToJsonString());

    /// <summary>Sends an event.</summary>
    /// <param name="name">The event's name, e.g. <c>STOP</c>.</param>
    /// <param name="data">Its <c>data</c> member, if any.</param>
    /// <returns>A task that completes when the event is sent.</returns>
    public Task EventAsync(string name, JsonObject? data = null)
    {
        var message = new JsonObject { ["timestamp"] = new JsonObject { ["seconds"] = 1795760260, ["microseconds"] = 26818 }, ["event"] = name };
        if (data is not null)
        {
            message["data"] = data;
        }

        return SendLineAsync(message.ToJsonString());
    }

    /// <summary>Sends a line as-is (CRLF appended), e.g. malformed JSON.</summary>
    /// <param name="line">The line.</param>
    /// <returns>A task that completes when it is sent.</returns>
    public Task SendLineAsync(string line) => SendRawAsync(Encoding.UTF8.GetBytes(line + "\r\n"));

    /// <summary>Sends bytes as-is, e.g. half a message.</summary>
    /// <param name="bytes">The bytes.</param>
    /// <returns>A task that completes when they are sent.</returns>
    public async Task SendRawAsync(byte[] bytes)
    {
        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            var sent = 0;
            while (sent < bytes.Length)
            {
                sent += await _socket.SendAsync(bytes.AsMemory(sent), SocketFlags.None).ConfigureAwait(false);
            }
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Shuts the connection down under the client.</summary>
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

    private static readonly Lazy<JsonNode> Qemu72Schema = new(() =>
    {
        using var stream = typeof(FakeQmpConnection).Assembly.GetManifestResourceStream("Virt.Kvm.Testing.qemu-7.2.22.json")!;
        return JsonNode.Parse(stream)!["schema"]!;
    });

    private async Task HandleAsync(JsonObject command)
    {
        try
        {
            if (_server.Handler is not null && await _server.Handler(this, command).ConfigureAwait(false))
            {
                return;
            }

            switch (NameOf(command))
            {
                case "qmp_capabilities":
                    await ReturnAsync(command, new JsonObject()).ConfigureAwait(false);
                    break;
                case "query-status":
                    await ReturnAsync(command, new JsonObject { ["status"] = "running", ["singlestep"] = false, ["running"] = true }).ConfigureAwait(false);
                    break;
                case "query-qmp-schema":
                    // The schema real QEMU 7.2 (the version this fake greets as) returns.
                    await ReturnAsync(command, Qemu72Schema.Value.DeepClone()).ConfigureAwait(false);
                    break;
                default:
                    await ErrorAsync(command, "CommandNotFound", $"The command {NameOf(command)} has not been found").ConfigureAwait(false);
                    break;
            }
        }
        catch (Exception)
        {
            // The connection went away under the handler.
        }
    }
}
