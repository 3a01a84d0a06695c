using System.Net.Sockets;
using System.Text;

namespace Virt.Panel.Tests.Security;

/// <summary>
/// HTTP/1.1 over a plain socket, byte for byte as written: HttpClient would normalise the paths the attacks
/// depend on (<c>/./api</c>, <c>//api</c>, percent-encoded letters) and set the Host header itself.
/// </summary>
internal static class RawHttp
{
    internal sealed record Response(int Status, IReadOnlyDictionary<string, string> Headers, string Body);

    public static async Task<Response> SendAsync(Uri panel, string method, string target, IEnumerable<(string Name, string Value)>? headers = null, string? body = null, CancellationToken cancellationToken = default)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(panel.Host, panel.Port, cancellationToken);
        var stream = client.GetStream();
        var request = new StringBuilder();
        request.Append(method).Append(' ').Append(target).Append(" HTTP/1.1\r\n");
        var lines = (headers ?? []).ToList();
        if (!lines.Any(header => header.Name.Equals("Host", StringComparison.OrdinalIgnoreCase)))
        {
            lines.Insert(0, ("Host", $"{panel.Host}:{panel.Port}"));
        }

        foreach (var (name, value) in lines)
        {
            request.Append(name).Append(": ").Append(value).Append("\r\n");
        }

        var bytes = body is null ? [] : Encoding.UTF8.GetBytes(body);
        if (body is not null)
        {
            request.Append("Content-Type: application/json\r\n");
        }

        request.Append("Content-Length: ").Append(bytes.Length).Append("\r\n");
        if (!lines.Any(header => header.Name.Equals("Connection", StringComparison.OrdinalIgnoreCase)))
        {
            request.Append("Connection: close\r\n");
        }

        request.Append("\r\n");
        try
        {
            await stream.WriteAsync(Encoding.ASCII.GetBytes(request.ToString()), cancellationToken);
            await stream.WriteAsync(bytes, cancellationToken);
        }
        catch (IOException)
        {
            // The panel answered (413) and closed before taking the whole body: the answer is read below.
        }

        // The head, then the body by its Content-Length, its last chunk or the end of the connection; at most 1 MiB,
        // and a deadline, so that a response left open (a bypass into an event stream) cannot hang the test.
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(60));
        var received = new MemoryStream();
        var buffer = new byte[16384];
        try
        {
            int read;
            while (received.Length < 1 << 20 && !Complete(received) && (read = await stream.ReadAsync(buffer, deadline.Token)) > 0)
            {
                await received.WriteAsync(buffer.AsMemory(0, read), deadline.Token);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // Still open after 60 s: what arrived is the answer.
        }

        var text = Encoding.UTF8.GetString(received.ToArray());
        var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        var head = (end >= 0 ? text[..end] : text).Split("\r\n");
        var status = int.Parse(head[0].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        var parsed = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in head.Skip(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0)
            {
                parsed[line[..colon].Trim()] = parsed.TryGetValue(line[..colon].Trim(), out var earlier) ? earlier + ", " + line[(colon + 1)..].Trim() : line[(colon + 1)..].Trim();
            }
        }

        return new Response(status, parsed, end >= 0 ? text[(end + 4)..] : string.Empty);
    }

    private static bool Complete(MemoryStream received)
    {
        var text = Encoding.UTF8.GetString(received.GetBuffer(), 0, (int)received.Length);
        var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        if (end < 0)
        {
            return false;
        }

        var head = text[..end];
        var body = text[(end + 4)..];
        var length = head.Split("\r\n").FirstOrDefault(line => line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
        if (length is not null)
        {
            return Encoding.UTF8.GetByteCount(body) >= int.Parse(length["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
        }

        return head.Contains("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase) && body.EndsWith("0\r\n\r\n", StringComparison.Ordinal);
    }

    /// <summary>
    /// A POST whose body is <paramref name="bytes"/> long (declared by Content-Length, or chunked), written in 64 KiB
    /// pieces while the answer is read; writing stops when the panel answers or closes. Returns the status (0: closed without one).
    /// </summary>
    public static async Task<int> PostHugeAsync(Uri panel, string target, long bytes, bool chunked, CancellationToken cancellationToken, string? authorization = null)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(panel.Host, panel.Port, cancellationToken);
        var stream = client.GetStream();
        var head = $"POST {target} HTTP/1.1\r\nHost: {panel.Host}:{panel.Port}\r\nContent-Type: application/json\r\n" + (authorization is null ? "" : $"Authorization: {authorization}\r\n") + (chunked ? "Transfer-Encoding: chunked\r\n" : $"Content-Length: {bytes}\r\n") + "\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head), cancellationToken);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var reader = Task.Run(async () =>
        {
            var received = new MemoryStream();
            var buffer = new byte[4096];
            int read;
            while (!Encoding.ASCII.GetString(received.ToArray()).Contains("\r\n", StringComparison.Ordinal) && (read = await stream.ReadAsync(buffer, cancellationToken)) > 0)
            {
                await received.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
            }

            var line = Encoding.ASCII.GetString(received.ToArray()).Split("\r\n")[0];
            return line.StartsWith("HTTP/1.1 ", StringComparison.Ordinal) ? int.Parse(line.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture) : 0;
        }, cancellationToken);

        var piece = new byte[64 * 1024];
        Array.Fill(piece, (byte)'a');
        Encoding.ASCII.GetBytes("{\"secret\":\"").CopyTo(piece, 0);
        try
        {
            for (long sent = 0; sent < bytes && !reader.IsCompleted; sent += piece.Length)
            {
                var size = (int)Math.Min(piece.Length, bytes - sent);
                if (chunked)
                {
                    await stream.WriteAsync(Encoding.ASCII.GetBytes($"{size:x}\r\n"), cancellationToken);
                }

                await stream.WriteAsync(piece.AsMemory(0, size), cancellationToken);
                if (chunked)
                {
                    await stream.WriteAsync("\r\n"u8.ToArray(), cancellationToken);
                }
            }
        }
        catch (IOException)
        {
            // The panel closed the connection: the answer, if it sent one, is already on its way.
        }

        try
        {
            return await reader;
        }
        catch (IOException)
        {
            return 0;
        }
    }
}
