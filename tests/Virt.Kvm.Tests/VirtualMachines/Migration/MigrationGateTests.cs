using System.Net;
using System.Net.Sockets;
using System.Text;
using Virt.Kvm.VirtualMachines.Migration;
using Virt.VirtualMachines;

namespace Virt.Kvm.Tests.VirtualMachines.Migration;

/// <summary>
/// The gate a cross-host migration stream comes through, over real loopback sockets: the token proves itself without
/// travelling, a wrong answer is refused and the ticket stays usable, expiry ends the wait.
/// </summary>
public sealed class MigrationGateTests : IDisposable
{
    private const string Token = "a-one-time-token-only-the-source-knows";
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly List<(string Peer, string Reason)> _refused = [];

    public MigrationGateTests()
    {
        _listener.Start();
    }

    public void Dispose() => _listener.Stop();

    [Fact]
    public async Task The_right_token_gets_the_stream_and_the_source_reads_OK_only_after_the_gate_answers()
    {
        var ct = TestContext.Current.CancellationToken;
        var accept = MigrationGate.AcceptAsync(_listener, "web", Token, DateTimeOffset.UtcNow.AddMinutes(1), TimeProvider.System, Refused, ct);
        var connect = MigrationGate.ConnectAsync(Ticket("web", Token), ct);

        using var accepted = await accept;
        Assert.False(connect.IsCompleted, "the source went on before the destination's QEMU had the stream");
        await MigrationGate.AnswerAsync(accepted, null, ct);
        using var stream = await connect;

        // The accepted socket is the stream: bytes after the exchange go straight through, nothing was read ahead.
        await stream.SendAsync(Encoding.ASCII.GetBytes("QEVM"), SocketFlags.None, ct);
        var received = new byte[4];
        Assert.Equal(4, await accepted.ReceiveAsync(received, SocketFlags.None, ct));
        Assert.Equal("QEVM", Encoding.ASCII.GetString(received));
        Assert.Empty(_refused);
    }

    [Fact]
    public async Task A_wrong_token_is_refused_with_the_reason_and_the_ticket_stays_usable()
    {
        var ct = TestContext.Current.CancellationToken;
        var accept = MigrationGate.AcceptAsync(_listener, "web", Token, DateTimeOffset.UtcNow.AddMinutes(1), TimeProvider.System, Refused, ct);

        var wrong = await Assert.ThrowsAsync<VmMigrationException>(() => MigrationGate.ConnectAsync(Ticket("web", "a-guessed-token"), ct));
        Assert.Contains("refused the ticket: wrong token", wrong.Message, StringComparison.Ordinal);
        Assert.Contains("ask it for a new ticket", wrong.Message, StringComparison.Ordinal);
        Assert.False(accept.IsCompleted);

        var connect = MigrationGate.ConnectAsync(Ticket("web", Token), ct);
        using var accepted = await accept;
        await MigrationGate.AnswerAsync(accepted, null, ct);
        using var stream = await connect;
        Assert.Equal("wrong token", Assert.Single(_refused).Reason);
    }

    [Fact]
    public async Task A_ticket_for_another_VM_is_refused_naming_both()
    {
        var ct = TestContext.Current.CancellationToken;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var accept = MigrationGate.AcceptAsync(_listener, "web", Token, DateTimeOffset.UtcNow.AddMinutes(1), TimeProvider.System, Refused, stop.Token);

        var error = await Assert.ThrowsAsync<VmMigrationException>(() => MigrationGate.ConnectAsync(Ticket("db", Token), ct));

        Assert.Contains("this ticket is for VM 'web', not 'db'", error.Message, StringComparison.Ordinal);
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => accept);
    }

    [Fact]
    public async Task The_token_never_crosses_the_wire()
    {
        var ct = TestContext.Current.CancellationToken;

        // A listener that plays the gate's greeting and records everything the source sends.
        var seen = new StringBuilder();
        var fakeGate = Task.Run(async () =>
        {
            using var client = await _listener.AcceptSocketAsync(ct);
            await client.SendAsync(Encoding.ASCII.GetBytes("VIRT-MIGRATE 1 " + Convert.ToHexString(new byte[32]) + "\n"), SocketFlags.None, ct);
            var buffer = new byte[1024];
            int read;
            while ((read = await client.ReceiveAsync(buffer, SocketFlags.None, ct)) > 0)
            {
                seen.Append(Encoding.ASCII.GetString(buffer, 0, read));
                if (seen.ToString().Contains('\n', StringComparison.Ordinal))
                {
                    await client.SendAsync(Encoding.ASCII.GetBytes("REFUSED recorded\n"), SocketFlags.None, ct);
                    break;
                }
            }
        }, ct);

        await Assert.ThrowsAsync<VmMigrationException>(() => MigrationGate.ConnectAsync(Ticket("web", Token), ct));
        await fakeGate;

        Assert.StartsWith("web ", seen.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(Token, seen.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Something_that_is_not_a_gate_is_named_as_such()
    {
        var ct = TestContext.Current.CancellationToken;
        var notAGate = Task.Run(async () =>
        {
            using var client = await _listener.AcceptSocketAsync(ct);
            await client.SendAsync(Encoding.ASCII.GetBytes("SSH-2.0-OpenSSH_9.2\r\n"), SocketFlags.None, ct);
        }, ct);

        var error = await Assert.ThrowsAsync<VmMigrationException>(() => MigrationGate.ConnectAsync(Ticket("web", Token), ct));
        await notAGate;

        Assert.Contains("did not greet as a Virt migration gate", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_expired_ticket_ends_the_wait()
    {
        var ct = TestContext.Current.CancellationToken;

        var expired = await Assert.ThrowsAsync<TimeoutException>(() => MigrationGate.AcceptAsync(_listener, "web", Token, DateTimeOffset.UtcNow.AddMilliseconds(100), TimeProvider.System, Refused, ct));

        Assert.Contains("before it expired", expired.Message, StringComparison.Ordinal);
    }

    private void Refused(string peer, string reason)
    {
        lock (_refused)
        {
            _refused.Add((peer, reason));
        }
    }

    private MigrationTicket Ticket(string vm, string token) => new()
    {
        VmName = vm,
        DestinationHost = "host-b",
        Address = MigrationGate.Describe((IPEndPoint)_listener.LocalEndpoint),
        Token = token,
        ExpiresAt = DateTimeOffset.UtcNow.AddMinutes(1),
        MachineType = "pc-q35-7.2",
        CpuModel = "qemu64",
        QemuVersion = "7.2.22",
        Security = MigrationSecurity.ClearText,
    };
}
