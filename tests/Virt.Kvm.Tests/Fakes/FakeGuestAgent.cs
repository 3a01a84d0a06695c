using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

namespace Virt.Kvm.Tests.Fakes;

/// <summary>
/// A fake qemu-ga behind a unix socket that behaves like the real one: it answers a 0xFF byte with a
/// parse error, answers guest-sync-delimited with 0xFF + the token, and can be told to go silent
/// (a rebooting guest) and to emit a stale reply first when it comes back.
/// </summary>
internal sealed class FakeGuestAgent : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly string _directory;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private Socket? _connection;

    public FakeGuestAgent()
    {
        _directory = Directory.CreateTempSubdirectory("virt-fakeqga-").FullName;
        SocketPath = Path.Combine(_directory, "qga.sock");
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(SocketPath));
        _listener.Listen(1);
        _loop = RunAsync();
    }

    public string SocketPath { get; }

    /// <summary>While true, the agent reads and ignores everything (the guest is rebooting).</summary>
    public volatile bool Silent;

    public List<string> Received { get; } = [];

    public int Syncs { get; private set; }

    public Dictionary<string, Func<JsonObject, string>> Replies { get; } = new()
    {
        ["guest-ping"] = _ => """{"return": {}}""",
        ["guest-get-osinfo"] = _ => """{"return": {"kernel-release": "6.1.0-56-amd64", "machine": "x86_64", "future-member": 1}}""",
    };

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        _connection?.Dispose();
        try
        {
            await _loop;
        }
        catch (Exception)
        {
            // Closed.
        }

        Directory.Delete(_directory, recursive: true);
    }

    public void Disconnect() => _connection?.Dispose();

    private async Task RunAsync()
    {
        _connection = await _listener.AcceptAsync(_stop.Token);
        var buffer = new List<byte>();
        var chunk = new byte[65536];
        while (true)
        {
            var read = await _connection.ReceiveAsync(chunk, SocketFlags.None, _stop.Token);
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
                        await SendAsync("""{"error": {"class": "GenericError", "desc": "JSON parse error, stray '\uFFFD'"}}""" + "\n");
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
                lock (Received)
                {
                    Received.Add(line);
                }

                if (Silent)
                {
                    continue;
                }

                await AnswerAsync(JsonNode.Parse(line)!.AsObject());
            }
        }
    }

    private async Task AnswerAsync(JsonObject command)
    {
        var name = command["execute"]!.GetValue<string>();
        if (name == "guest-sync-delimited")
        {
            Syncs++;
            await SendRawAsync([0xFF, .. Encoding.UTF8.GetBytes($"{{\"return\": {command["arguments"]!["id"]!.GetValue<long>()}}}\n")]);
            return;
        }

        if (name == "guest-shutdown")
        {
            return;
        }

        var reply = Replies.TryGetValue(name, out var make)
            ? make(command)
            : $$$"""{"error": {"class": "CommandNotFound", "desc": "The command {{{name}}} has not been found"}}""";
        await SendAsync(reply + "\n");
    }

    public Task SendAsync(string text) => SendRawAsync(Encoding.UTF8.GetBytes(text));

    private async Task SendRawAsync(byte[] bytes)
    {
        await _connection!.SendAsync(bytes, SocketFlags.None);
    }
}
