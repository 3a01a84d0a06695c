using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;

namespace Virt.Lxc.IntegrationTests.Security;

/// <summary>
/// Sockets bound at a container's command-socket name by someone other than LXC: a process run as
/// <c>nobody</c> (Perl from Debian's essential perl-base, started through util-linux's setpriv), and
/// sockets of this (root) process that answer the way a broken or hostile peer would.
/// </summary>
internal static class FakeCommandSockets
{
    /// <summary>Answers every request as LXC would for a running container: state RUNNING, init pid 1.</summary>
    private const string LyingServer = """
        use Socket;
        socket(my $s, AF_UNIX, SOCK_STREAM, 0) or die "socket: $!";
        bind($s, pack_sockaddr_un("\0" . $ARGV[0])) or die "bind: $!";
        listen($s, 16) or die "listen: $!";
        $| = 1; print "ready\n";
        while (accept(my $c, $s)) {
          while (sysread($c, my $h, 16) == 16) {
            my ($cmd, $len) = unpack("l l", $h);
            sysread($c, my $d, $len) if $len > 0;
            syswrite($c, pack("l l q", 0, 0, $cmd == 3 ? 2 : 1));
          }
          close($c);
        }
        """;

    public static string SocketName(string lxcPath, string container) => $"{lxcPath.TrimEnd('/')}/{container}/command";

    /// <summary>A process running as nobody (uid 65534) that holds the name and claims the container runs with init pid 1.</summary>
    public static async Task<Process> StartNobodySquatterAsync(string socketName)
    {
        var start = new ProcessStartInfo("setpriv") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { "--reuid=65534", "--regid=65534", "--clear-groups", "perl", "-e", LyingServer, socketName })
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start)!;
        var ready = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30));
        if (ready != "ready")
        {
            var error = await process.StandardError.ReadToEndAsync();
            Kill(process);
            Assert.Fail($"the squatter as nobody did not start: {error}");
        }

        return process;
    }

    public static void Kill(Process process)
    {
        if (!process.HasExited)
        {
            process.Kill();
        }

        process.WaitForExit();
        process.Dispose();
    }

    /// <summary>A listener of this process (root) that serves each connection with <paramref name="serve"/>.</summary>
    public static RootListener Listen(string socketName, Func<Socket, CancellationToken, Task> serve) => new(socketName, serve);

    /// <summary>Reads one request header and its data.</summary>
    public static async Task<int> ReadRequestAsync(Socket connection, CancellationToken cancellationToken)
    {
        var header = new byte[16];
        await ReceiveExactlyAsync(connection, header, cancellationToken);
        var length = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(4));
        if (length > 0)
        {
            await ReceiveExactlyAsync(connection, new byte[length], cancellationToken);
        }

        return BinaryPrimitives.ReadInt32LittleEndian(header);
    }

    public static byte[] Answer(int ret, int dataLength, long pointer)
    {
        var answer = new byte[16];
        BinaryPrimitives.WriteInt32LittleEndian(answer, ret);
        BinaryPrimitives.WriteInt32LittleEndian(answer.AsSpan(4), dataLength);
        BinaryPrimitives.WriteInt64LittleEndian(answer.AsSpan(8), pointer);
        return answer;
    }

    private static async Task ReceiveExactlyAsync(Socket socket, byte[] buffer, CancellationToken cancellationToken)
    {
        var read = 0;
        while (read < buffer.Length)
        {
            var received = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, cancellationToken);
            if (received == 0)
            {
                throw new IOException("the client hung up");
            }

            read += received;
        }
    }

    internal sealed class RootListener : IAsyncDisposable
    {
        private readonly Socket _listener = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        private readonly CancellationTokenSource _stop = new();
        private readonly List<Socket> _connections = [];
        private readonly Task _loop;

        public RootListener(string socketName, Func<Socket, CancellationToken, Task> serve)
        {
            _listener.Bind(new UnixDomainSocketEndPoint("\0" + socketName));
            _listener.Listen(16);
            _loop = Task.Run(async () =>
            {
                while (!_stop.IsCancellationRequested)
                {
                    Socket connection;
                    try
                    {
                        connection = await _listener.AcceptAsync(_stop.Token);
                    }
                    catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
                    {
                        return;
                    }

                    lock (_connections)
                    {
                        _connections.Add(connection);
                    }

                    _ = Task.Run(async () =>
                    {
                        try
                        {
                            await serve(connection, _stop.Token);
                        }
                        catch (Exception ex) when (ex is OperationCanceledException or SocketException or IOException or ObjectDisposedException)
                        {
                            // The client gave up, or the test ended.
                        }
                    });
                }
            });
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Dispose();
            await _loop;
            lock (_connections)
            {
                foreach (var connection in _connections)
                {
                    connection.Dispose();
                }
            }

            _stop.Dispose();
        }
    }
}
