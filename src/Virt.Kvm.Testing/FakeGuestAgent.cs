using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

namespace Virt.Kvm.Testing;

/// <summary>
/// A fake qemu-ga behind a unix socket that behaves like the real one: it answers a 0xFF byte with a
/// parse error, answers guest-sync-delimited with 0xFF + the token, and can be told to go silent
/// (a rebooting guest) and to emit a stale reply first when it comes back.
/// </summary>
public sealed class FakeGuestAgent : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly string _directory;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly List<string> _received = [];
    private volatile bool _silent;
    private Socket? _connection;

    /// <summary>Starts listening on a fresh socket in a temporary directory; it serves one connection.</summary>
    public FakeGuestAgent()
    {
        _directory = Directory.CreateTempSubdirectory("virt-fakeqga-").FullName;
        SocketPath = Path.Combine(_directory, "qga.sock");
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(SocketPath));
        _listener.Listen(1);
        _loop = RunAsync();
    }

    /// <summary>The unix socket to connect a guest-agent client to.</summary>
    public string SocketPath { get; }

    /// <summary>While true, the agent reads and ignores everything (the guest is rebooting).</summary>
    public bool Silent
    {
        get => _silent;
        set => _silent = value;
    }

    /// <summary>Every line received, in order.</summary>
    public IReadOnlyList<string> Received
    {
        get
        {
            lock (_received)
            {
                return [.. _received];
            }
        }
    }

    /// <summary>How many <c>guest-sync-delimited</c> commands it answered.</summary>
    public int Syncs { get; private set; }

    /// <summary>Replies by command name; add or replace entries to script the agent.</summary>
    public Dictionary<string, Func<JsonObject, string>> Replies { get; } = new()
    {
        ["guest-ping"] = _ => """{"return": {}}""",
        ["guest-get-osinfo"] = _ => """{"return": {"kernel-release": "6.1.0-56-amd64", "machine": "x86_64", "future-member": 1}}""",
    };

    /// <summary>Stops listening, drops the connection and removes the socket's directory.</summary>
    /// <returns>A task that completes when the agent is gone.</returns>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        _connection?.Dispose();
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Closed.
        }

        Directory.Delete(_directory, recursive: true);
    }

    /// <summary>Drops the client's connection (the agent died).</summary>
    public void Disconnect() => _connection?.Dispose();

    private async Task RunAsync()
    {
        _connection = await _listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
        var buffer = new List<byte>();
        var chunk = new byte[65536];
        while (true)
        {
            var read = await _connection.ReceiveAsync(chunk, SocketFlags.None, _stop.Token).ConfigureAwait(false);
            if (read == 0)
            {
                return;
            }

            foreach (var b in chunk.Take(read).ToArray())
            {
                if (b == 0xFF)
                {
                    buffer.Clear();
                    if (!Silent)
                    {
                        await SendAsync("""{"error": {"class": "GenericError", "desc": "JSON parse error, stray '\uFFFD'"}}""" + "\n").ConfigureAwait(false);
                    }

                    continue;
                }

                if (b != (byte)'\n')
                {
                    buffer.Add(b);
                    continue;
                }

                var line = Encoding.UTF8.GetString(buffer.ToArray());
                buffer.Clear();
                lock (_received)
                {
                    _received.Add(line);
                }

                if (Silent)
                {
                    continue;
                }

                await AnswerAsync(JsonNode.Parse(line)!.AsObject()).ConfigureAwait(false);
            }
        }
    }

    private async Task AnswerAsync(JsonObject command)
    {
        var name = command["execute"]!.GetValue<string>();
        if (name == "guest-sync-delimited")
        {
            Syncs++;
            await SendRawAsync([0xFF, .. Encoding.UTF8.GetBytes($"{{\"return\": {command["arguments"]!["id"]!.GetValue<long>()}}}\n")]).ConfigureAwait(false);
            return;
        }

        if (name == "guest-shutdown")
        {
            return;
        }

        var reply = Replies.TryGetValue(name, out var make)
            ? make(command)
            : $$$"""{"error": {"class": "CommandNotFound", "desc": "The command {{{name}}} has not been found"}}""";
        await SendAsync(reply + "\n").ConfigureAwait(false);
    }

    /// <summary>Sends text as-is, e.g. a stale reply before the client's sync.</summary>
    /// <param name="text">The text.</param>
    /// <returns>A task that completes when it is sent.</returns>
    public Task SendAsync(string text) => SendRawAsync(Encoding.UTF8.GetBytes(text));

    private async Task SendRawAsync(byte[] bytes)
    {
        await _connection!.SendAsync(bytes, SocketFlags.None).ConfigureAwait(false);
    }
}
