using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Virt.VirtualMachines;

namespace Virt.Kvm.VirtualMachines.Migration;

/// <summary>
/// The door a migration stream between hosts comes through. The destination listens; a source connects and
/// proves it holds the ticket's token without sending it: the gate sends a random nonce, the source answers
/// HMAC-SHA256(token, nonce + VM name), compared in constant time. A wrong answer is refused with a reason line
/// and the ticket stays usable; the right one consumes the ticket, and the accepted socket itself becomes the
/// migration stream (handed to both QEMUs as a descriptor), so nobody else can step in between.
/// </summary>
/// <remarks>
/// The exchange, one line each, ASCII:
/// gate → <c>VIRT-MIGRATE 1 NONCE_HEX</c>; source → <c>VM_NAME HMAC_HEX</c>; gate → <c>OK</c> or <c>REFUSED reason</c>.
/// The gate answers <c>OK</c> only once its QEMU has taken the socket, so a source that reads <c>OK</c> can start sending.
/// </remarks>
internal static class MigrationGate
{
    private const string Greeting = "VIRT-MIGRATE 1 ";
    private const int MaxLine = 512;

    /// <summary>How long one connection may take to answer before it is dropped (the ticket stays usable).</summary>
    public static readonly TimeSpan AnswerTimeout = TimeSpan.FromSeconds(10);

    /// <summary>A new one-time token: 32 random bytes, URL-safe base64.</summary>
    public static string NewToken() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>The listener's address as a ticket names it: <c>HOST:PORT</c>, an IPv6 host in brackets.</summary>
    public static string Describe(IPEndPoint endpoint) =>
        endpoint.AddressFamily == AddressFamily.InterNetworkV6
            ? $"[{endpoint.Address}]:{endpoint.Port.ToString(CultureInfo.InvariantCulture)}"
            : $"{endpoint.Address}:{endpoint.Port.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>Reads a ticket's <c>HOST:PORT</c>.</summary>
    public static bool TryParse(string address, out IPEndPoint endpoint) => IPEndPoint.TryParse(address, out endpoint!) && endpoint.Port > 0;

    /// <summary>
    /// Accepts connections until one proves the token (its socket is returned, the ticket consumed) or the ticket
    /// expires (<see cref="TimeoutException"/>). <paramref name="refused"/> hears of each refused attempt.
    /// </summary>
    public static async Task<Socket> AcceptAsync(TcpListener listener, string vmName, string token, DateTimeOffset expiresAt, TimeProvider time, Action<string, string> refused, CancellationToken cancellationToken)
    {
        while (true)
        {
            var left = expiresAt - time.GetUtcNow();
            if (left <= TimeSpan.Zero)
            {
                throw new TimeoutException($"nobody presented the ticket of VM '{vmName}' before it expired at {expiresAt:O}");
            }

            using var expiry = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            expiry.CancelAfter(left);
            Socket client;
            try
            {
                client = await listener.AcceptSocketAsync(expiry.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                continue;
            }

            var peer = client.RemoteEndPoint?.ToString() ?? "unknown peer";
            try
            {
                var reason = await ChallengeAsync(client, vmName, token, expiry.Token).ConfigureAwait(false);
                if (reason is null)
                {
                    return client;
                }

                refused(peer, reason);
                await SendLineAsync(client, $"REFUSED {reason}", CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is SocketException or IOException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
                refused(peer, $"the connection broke or did not answer in time ({ex.Message})");
            }

            client.Dispose();
        }
    }

    /// <summary>Tells an accepted source whether its stream is taken (<c>OK</c>) or why not.</summary>
    public static Task AnswerAsync(Socket client, string? refusal, CancellationToken cancellationToken) =>
        SendLineAsync(client, refusal is null ? "OK" : $"REFUSED {refusal}", cancellationToken);

    /// <summary>
    /// The source's side: connects to the ticket's address, answers the challenge and waits for <c>OK</c>. Returns the
    /// connected socket, which becomes the migration stream.
    /// </summary>
    public static async Task<Socket> ConnectAsync(MigrationTicket ticket, CancellationToken cancellationToken)
    {
        if (!TryParse(ticket.Address, out var endpoint))
        {
            throw new VmMigrationException(ticket.VmName, $"the ticket's address '{ticket.Address}' is not HOST:PORT with an IP address; take the ticket as the destination's PrepareIncomingAsync returned it");
        }

        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(AnswerTimeout);
            try
            {
                await socket.ConnectAsync(endpoint, deadline.Token).ConfigureAwait(false);
                var greeting = await ReadLineAsync(socket, deadline.Token).ConfigureAwait(false);
                if (greeting is null || !greeting.StartsWith(Greeting, StringComparison.Ordinal))
                {
                    throw new VmMigrationException(ticket.VmName, $"{ticket.Address} did not greet as a Virt migration gate (it said '{Printable(greeting)}'); check the ticket's address");
                }

                var nonce = Convert.FromHexString(greeting[Greeting.Length..]);
                await SendLineAsync(socket, $"{ticket.VmName} {Convert.ToHexString(Proof(ticket.Token, nonce, ticket.VmName))}", deadline.Token).ConfigureAwait(false);
                var answer = await ReadLineAsync(socket, deadline.Token).ConfigureAwait(false);
                if (answer == "OK")
                {
                    return socket;
                }

                var reason = answer is not null && answer.StartsWith("REFUSED ", StringComparison.Ordinal) ? answer["REFUSED ".Length..] : $"the connection ended ('{Printable(answer)}')";
                throw new VmMigrationException(ticket.VmName, $"the destination {ticket.DestinationHost} ({ticket.Address}) refused the ticket: {reason}; ask it for a new ticket (PrepareIncomingAsync) and pass that one unchanged");
            }
            catch (Exception ex) when (ex is SocketException or IOException or FormatException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
                throw new VmMigrationException(ticket.VmName, $"could not present the ticket to {ticket.DestinationHost} at {ticket.Address}: {ex.Message}; check that the address is reachable from this host and the ticket has not expired", ex);
            }
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Runs the challenge on an accepted connection: null when the answer proves the token, else why not.</summary>
    private static async Task<string?> ChallengeAsync(Socket client, string vmName, string token, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(AnswerTimeout);
        var nonce = RandomNumberGenerator.GetBytes(32);
        await SendLineAsync(client, Greeting + Convert.ToHexString(nonce), deadline.Token).ConfigureAwait(false);
        var answer = await ReadLineAsync(client, deadline.Token).ConfigureAwait(false);
        var space = answer?.LastIndexOf(' ') ?? -1;
        if (answer is null || space <= 0)
        {
            return "no answer to the challenge";
        }

        if (answer[..space] != vmName)
        {
            return $"this ticket is for VM '{vmName}', not '{Printable(answer[..space])}'";
        }

        byte[] proof;
        try
        {
            proof = Convert.FromHexString(answer[(space + 1)..]);
        }
        catch (FormatException)
        {
            return "the answer is not a hex HMAC";
        }

        return CryptographicOperations.FixedTimeEquals(proof, Proof(token, nonce, vmName)) ? null : "wrong token";
    }

    private static byte[] Proof(string token, byte[] nonce, string vmName) =>
        HMACSHA256.HashData(Encoding.UTF8.GetBytes(token), nonce.Concat(Encoding.UTF8.GetBytes(vmName)).ToArray());

    private static async Task SendLineAsync(Socket socket, string line, CancellationToken cancellationToken) =>
        await socket.SendAsync(Encoding.ASCII.GetBytes(line + "\n"), SocketFlags.None, cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// Reads one line a byte at a time: nothing after the newline may be taken from the socket, which becomes the
    /// migration stream. Null when the connection ends first or the line is too long.
    /// </summary>
    private static async Task<string?> ReadLineAsync(Socket socket, CancellationToken cancellationToken)
    {
        var line = new StringBuilder();
        var one = new byte[1];
        while (line.Length < MaxLine)
        {
            if (await socket.ReceiveAsync(one, SocketFlags.None, cancellationToken).ConfigureAwait(false) == 0)
            {
                return null;
            }

            if (one[0] == (byte)'\n')
            {
                return line.ToString();
            }

            line.Append((char)one[0]);
        }

        return null;
    }

    private static string Printable(string? text) =>
        text is null ? "nothing" : new string(text.Take(80).Select(c => char.IsControl(c) || c > '~' ? '?' : c).ToArray());
}
