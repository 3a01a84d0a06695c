using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using Virt.Containers;
using Virt.Lxc.Hosting;
using Virt.Lxc.Interop;

namespace Virt.Lxc.CommandSocket;

/// <summary>
/// A client for the command socket every running container listens on: the abstract unix socket
/// <c>@&lt;lxcpath&gt;/&lt;name&gt;/command</c>. A request is <c>{int cmd; int datalen; void *data}</c>
/// followed by <c>datalen</c> bytes; the answer is <c>{int ret; int datalen; void *data}</c> followed by its
/// data, where small answers (state, pid) travel in the pointer field itself. Commands 0–25 have kept
/// their numbers from LXC 4.0 on. No socket means the container is not running.
/// </summary>
/// <remarks>
/// Any local user can bind an abstract name, so the answer is trusted only from a peer that runs as
/// root (LXC's monitor) or as this process's user (<c>SO_PEERCRED</c>): a socket held by anyone else is
/// not the container's, which is then not running (its monitor could not have bound the name).
/// Every request has a deadline (<see cref="LxcOptions.CommandSocketTimeout"/>), an answer's data is at most
/// <see cref="MaxAnswerData"/> bytes, and an init pid is believed only once it is pinned by a pidfd and
/// found to be the child of the container's monitor (<see cref="ContainerInitProcess"/>).
/// The peer's pid in <c>SO_PEERCRED</c> is that of the <c>lxc-start</c> which bound the socket before it
/// daemonized, usually gone by the time anyone connects, so it names the holder in errors but proves nothing.
/// </remarks>
internal static class LxcCommandClient
{
    /// <summary>The most data an answer may carry; LXC's largest (a config item, a cgroup path) is far smaller.</summary>
    public const int MaxAnswerData = 64 * 1024;

    private const int GetState = 3;
    private const int GetInitPid = 4;
    private const int GetConfigItem = 7;
    private const int AddStateClient = 10;
    private const int MaxState = 8;
    private const int HeaderSize = 16;
    private const int SolSocket = 1;
    private const int SoPassCred = 16;
    private const int SoPeerCred = 17;

    /// <summary>How long a request waits on its own thread for the monitor's answer before awaiting it (see <see cref="ExchangeAsync"/>).</summary>
    private static readonly TimeSpan AnswerWait = TimeSpan.FromMilliseconds(2);

    /// <summary>struct lxc_msg: int type; char name[NAME_MAX + 1]; int value.</summary>
    private const int StateMessageSize = 4 + 256 + 4;

    /// <summary>The socket's abstract name; LXC hashes longer ones, which <see cref="LxcOptions.LxcPath"/>'s limit avoids.</summary>
    public static string SocketName(string lxcPath, string name) => $"{lxcPath.TrimEnd('/')}/{name}/command";

    /// <summary>The state, or <see cref="ContainerState.Stopped"/> when nothing (or nothing of LXC's) listens.</summary>
    public static async Task<ContainerState> GetStateAsync(LxcOptions options, string name, CancellationToken cancellationToken)
    {
        var answer = await RequestAsync(options, name, GetState, [], "GET_STATE", cancellationToken).ConfigureAwait(false);
        if (answer is null)
        {
            return ContainerState.Stopped;
        }

        return answer.Value.Pointer is >= 0 and < MaxState
            ? (ContainerState)answer.Value.Pointer
            : throw ProtocolError(options, name, answer.Value.Peer, $"answered GET_STATE with state {answer.Value.Pointer.ToString(CultureInfo.InvariantCulture)}, which LXC does not have");
    }

    /// <summary>PID 1's host pid, checked to be the container's init, or <see langword="null"/> when not running.</summary>
    public static async Task<int?> GetInitPidAsync(LxcOptions options, string name, CancellationToken cancellationToken)
    {
        using var init = await OpenInitAsync(options, name, cancellationToken).ConfigureAwait(false);
        return init?.Pid;
    }

    /// <summary>
    /// The container's init pinned by a pidfd, checked to be the child of the container's monitor, or
    /// <see langword="null"/> when not running. Dispose it when done with <c>/proc/&lt;pid&gt;</c>.
    /// </summary>
    public static async Task<ContainerInitProcess?> OpenInitAsync(LxcOptions options, string name, CancellationToken cancellationToken)
    {
        var answer = await RequestAsync(options, name, GetInitPid, [], "GET_INIT_PID", cancellationToken).ConfigureAwait(false);
        return PinInit(options, name, answer);
    }

    /// <summary>
    /// Who holds the container's command socket, found with one connect (a start asks before running
    /// <c>lxc-start</c>): the running container's init, pinned and checked as by <see cref="OpenInitAsync"/>; a
    /// squatter, a peer that is neither root nor this process's user, which keeps the container from starting
    /// (LXC cannot bind the name); or neither, when nothing listens and the name is free.
    /// </summary>
    public static async Task<SocketHolder> FindHolderAsync(LxcOptions options, string name, CancellationToken cancellationToken)
    {
        using var deadline = new Deadline(options, name, "GET_INIT_PID", cancellationToken);
        var (connection, squatter) = await ConnectAsync(options, name, deadline, cancellationToken).ConfigureAwait(false);
        if (connection is null)
        {
            return new SocketHolder(null, squatter);
        }

        using (connection)
        {
            var answer = await RequestAsync(options, name, connection, deadline, GetInitPid, [], "GET_INIT_PID").ConfigureAwait(false);
            return new SocketHolder(PinInit(options, name, answer), null);
        }
    }

    private static ContainerInitProcess? PinInit(LxcOptions options, string name, Answer? answer)
    {
        if (answer is null || answer.Value.Pointer <= 0)
        {
            return null;
        }

        if (answer.Value.Pointer > int.MaxValue)
        {
            throw ProtocolError(options, name, answer.Value.Peer, $"answered GET_INIT_PID with {answer.Value.Pointer.ToString(CultureInfo.InvariantCulture)}, which is no pid");
        }

        return ContainerInitProcess.Open(options.LxcPath, name, (int)answer.Value.Pointer, SocketName(options.LxcPath, name));
    }

    /// <summary>A config item as the running container has it, or <see langword="null"/> when not running or not set.</summary>
    public static async Task<string?> GetConfigItemAsync(LxcOptions options, string name, string key, CancellationToken cancellationToken)
    {
        var answer = await RequestAsync(options, name, GetConfigItem, Encoding.UTF8.GetBytes(key + "\0"), "GET_CONFIG_ITEM", cancellationToken).ConfigureAwait(false);
        if (answer is null || answer.Value.Ret != 0)
        {
            return null;
        }

        return Encoding.UTF8.GetString(answer.Value.Data).TrimEnd('\0').TrimEnd('\n');
    }

    /// <summary>
    /// Registers for pushed state changes. LXC answers at once when the container already is in one of
    /// the states asked for, so every state but the current one is asked for; the first item is the
    /// current state. The stream ends (with <see cref="ContainerState.Stopped"/>) when the container's
    /// monitor closes the socket, which it does as the container stops. Registering has a deadline;
    /// waiting for the next change has none.
    /// </summary>
    public static async IAsyncEnumerable<ContainerState> WatchAsync(LxcOptions options, string name, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var current = await GetStateAsync(options, name, cancellationToken).ConfigureAwait(false);
        yield return current;
        if (current == ContainerState.Stopped)
        {
            yield break;
        }

        var mask = new byte[4 * MaxState];
        for (var state = 0; state < MaxState; state++)
        {
            BinaryPrimitives.WriteInt32LittleEndian(mask.AsSpan(state * 4), state == (int)current ? 0 : 1);
        }

        Connection? connection;
        byte[]? header;
        using (var deadline = new Deadline(options, name, "ADD_STATE_CLIENT", cancellationToken))
        {
            (connection, _) = await ConnectAsync(options, name, deadline, cancellationToken).ConfigureAwait(false);
            try
            {
                header = connection is null ? null : await deadline.RunAsync(connection.Peer, token => ExchangeAsync(connection.Socket, AddStateClient, mask, token)).ConfigureAwait(false);
            }
            catch
            {
                connection?.Dispose();
                throw;
            }
        }

        using var owned = connection;
        if (connection is null || header is null)
        {
            yield return ContainerState.Stopped;
            yield break;
        }

        var registered = BinaryPrimitives.ReadInt32LittleEndian(header);
        if (registered is >= 0 and < MaxState)
        {
            // It moved into another state between the two requests.
            yield return (ContainerState)registered;
        }

        while (true)
        {
            var message = await ReceiveExactlyAsync(connection.Socket, StateMessageSize, cancellationToken).ConfigureAwait(false);
            if (message is null)
            {
                yield return ContainerState.Stopped;
                yield break;
            }

            var value = BinaryPrimitives.ReadInt32LittleEndian(message.AsSpan(StateMessageSize - 4));
            if (value is >= 0 and < MaxState)
            {
                yield return (ContainerState)value;
            }
        }
    }

    private static async Task<Answer?> RequestAsync(LxcOptions options, string name, int command, byte[] data, string commandName, CancellationToken cancellationToken)
    {
        using var deadline = new Deadline(options, name, commandName, cancellationToken);
        var (connection, _) = await ConnectAsync(options, name, deadline, cancellationToken).ConfigureAwait(false);
        if (connection is null)
        {
            return null;
        }

        using (connection)
        {
            return await RequestAsync(options, name, connection, deadline, command, data, commandName).ConfigureAwait(false);
        }
    }

    /// <summary>One request on a connection made by <see cref="ConnectAsync"/>; null when the monitor hung up (the container is stopping).</summary>
    private static Task<Answer?> RequestAsync(LxcOptions options, string name, Connection connection, Deadline deadline, int command, byte[] data, string commandName) =>
        deadline.RunAsync(connection.Peer, async token =>
        {
            var header = await ExchangeAsync(connection.Socket, command, data, token).ConfigureAwait(false);
            if (header is null)
            {
                // The monitor went away mid-request: the container is stopping.
                return (Answer?)null;
            }

            var ret = BinaryPrimitives.ReadInt32LittleEndian(header);
            var length = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(4));
            var pointer = BinaryPrimitives.ReadInt64LittleEndian(header.AsSpan(8));
            if (length is < 0 or > MaxAnswerData)
            {
                throw ProtocolError(options, name, connection.Peer, $"claimed a {length.ToString(CultureInfo.InvariantCulture)}-byte answer to {commandName}, and an answer carries 0 to {MaxAnswerData.ToString(CultureInfo.InvariantCulture)} bytes");
            }

            var payload = length > 0 ? await ReceiveExactlyAsync(connection.Socket, length, token).ConfigureAwait(false) ?? [] : [];
            return (Answer?)new Answer(ret, pointer, payload, connection.Peer);
        });

    /// <summary>Sends a request and reads the answer's header; null when the peer hung up.</summary>
    private static async Task<byte[]?> ExchangeAsync(Socket socket, int command, byte[] data, CancellationToken cancellationToken)
    {
        var request = new byte[HeaderSize + data.Length];
        BinaryPrimitives.WriteInt32LittleEndian(request, command);
        BinaryPrimitives.WriteInt32LittleEndian(request.AsSpan(4), data.Length);
        data.CopyTo(request.AsSpan(HeaderSize));
        try
        {
            await socket.SendAsync(request, SocketFlags.None, cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionReset or SocketError.Shutdown)
        {
            return null;
        }

        // LXC's monitor answers from its main loop, usually within a fraction of a millisecond. Waiting for that
        // on this thread, briefly, lets the receive below complete at once; awaited, the answer would come through
        // the socket engine's thread and then a thread-pool thread, two wake-ups a loaded host delays. A slower
        // answer is awaited as before.
        socket.Poll(AnswerWait, SelectMode.SelectRead);
        return await ReceiveExactlyAsync(socket, HeaderSize, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Connects and reads the peer's credentials. Nothing listening gives (null, null); a peer that is
    /// neither root nor this process's user gives (null, that peer).
    /// </summary>
    private static async Task<(Connection? Connection, PeerCredentials? Squatter)> ConnectAsync(LxcOptions options, string name, Deadline deadline, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            // LXC checks the sender's credentials on every request. With SO_PASSCRED set on our side the kernel
            // attaches them to each message; otherwise a request that arrives before LXC enables SO_PASSCRED
            // on its end carries none and is refused as coming from uid 65534.
            socket.SetRawSocketOption(SolSocket, SoPassCred, BitConverter.GetBytes(1));
            // Connecting is how a stopped container is recognised (nothing listens), so it must be cheap:
            // the event-args form reports the refusal as a code instead of a thrown exception.
            var endPoint = new UnixDomainSocketEndPoint("\0" + SocketName(options.LxcPath, name));
            var error = await deadline.RunAsync(null, token => ConnectWithoutThrowingAsync(socket, endPoint, token)).ConfigureAwait(false);
            if (error is SocketError.ConnectionRefused or SocketError.AddressNotAvailable)
            {
                socket.Dispose();
                return (null, null);
            }

            if (error != SocketError.Success)
            {
                throw new SocketException((int)error);
            }

            var peer = PeerOf(socket);
            if (peer.Uid != 0 && peer.Uid != LibC.GetEuid())
            {
                socket.Dispose();
                return (null, peer);
            }

            return (new Connection(socket, peer), null);
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            throw new ContainerException(VirtErrorKind.Unavailable, $"container '{name}': cannot connect to its command socket @{SocketName(options.LxcPath, name)}: {ex.Message}", ex);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static PeerCredentials PeerOf(Socket socket)
    {
        // struct ucred { pid_t pid; uid_t uid; gid_t gid; }
        Span<byte> credentials = stackalloc byte[12];
        var length = socket.GetRawSocketOption(SolSocket, SoPeerCred, credentials);
        if (length < 12)
        {
            throw new SocketException((int)SocketError.ProtocolNotSupported);
        }

        return new PeerCredentials(BinaryPrimitives.ReadInt32LittleEndian(credentials), BinaryPrimitives.ReadUInt32LittleEndian(credentials[4..]), BinaryPrimitives.ReadUInt32LittleEndian(credentials[8..]));
    }

    private static async Task<SocketError> ConnectWithoutThrowingAsync(Socket socket, EndPoint endPoint, CancellationToken cancellationToken)
    {
        var completion = new TaskCompletionSource<SocketError>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var arguments = new SocketAsyncEventArgs { RemoteEndPoint = endPoint };
        arguments.Completed += (_, done) => completion.TrySetResult(done.SocketError);
        if (!socket.ConnectAsync(arguments))
        {
            return arguments.SocketError;
        }

        using var registration = cancellationToken.Register(() => completion.TrySetCanceled(cancellationToken));
        return await completion.Task.ConfigureAwait(false);
    }

    private static async Task<byte[]?> ReceiveExactlyAsync(Socket socket, int length, CancellationToken cancellationToken)
    {
        var buffer = new byte[length];
        var read = 0;
        while (read < length)
        {
            int received;
            try
            {
                received = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, cancellationToken).ConfigureAwait(false);
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
            {
                return null;
            }

            if (received == 0)
            {
                return null;
            }

            read += received;
        }

        return buffer;
    }

    private static ContainerException ProtocolError(LxcOptions options, string name, PeerCredentials peer, string what) =>
        new(VirtErrorKind.Failed, $"container '{name}': its command socket @{SocketName(options.LxcPath, name)} ({peer}) {what}: the socket is not LXC's or LXC is broken; find its holder with 'ss -xlp | grep {SocketName(options.LxcPath, name)}'");

    /// <summary>The credentials the kernel recorded for the process that bound the socket.</summary>
    internal readonly record struct PeerCredentials(int Pid, uint Uid, uint Gid)
    {
        public override string ToString() =>
            $"bound by pid {Pid.ToString(CultureInfo.InvariantCulture)}, uid {Uid.ToString(CultureInfo.InvariantCulture)}, gid {Gid.ToString(CultureInfo.InvariantCulture)}";
    }

    /// <summary>What <see cref="FindHolderAsync"/> found on the socket: at most one of the two is set. Dispose the init when done.</summary>
    internal readonly record struct SocketHolder(ContainerInitProcess? Init, PeerCredentials? Squatter);

    private readonly record struct Answer(int Ret, long Pointer, byte[] Data, PeerCredentials Peer);

    private sealed class Connection(Socket socket, PeerCredentials peer) : IDisposable
    {
        public Socket Socket { get; } = socket;

        public PeerCredentials Peer { get; } = peer;

        public void Dispose() => Socket.Dispose();
    }

    /// <summary>One request's time limit: the caller's cancellation stays a cancellation, the limit becomes a <see cref="TimeoutException"/>.</summary>
    private sealed class Deadline : IDisposable
    {
        private readonly CancellationTokenSource _source;
        private readonly LxcOptions _options;
        private readonly string _name;
        private readonly string _what;
        private readonly CancellationToken _caller;

        public Deadline(LxcOptions options, string name, string what, CancellationToken caller)
        {
            _options = options;
            _name = name;
            _what = what;
            _caller = caller;
            if (options.CommandSocketTimeout <= TimeSpan.Zero)
            {
                throw new ArgumentOutOfRangeException(nameof(options), options.CommandSocketTimeout, "LxcOptions.CommandSocketTimeout must be positive");
            }

            _source = CancellationTokenSource.CreateLinkedTokenSource(caller);
            _source.CancelAfter(options.CommandSocketTimeout);
        }

        public async Task<T> RunAsync<T>(PeerCredentials? peer, Func<CancellationToken, Task<T>> operation)
        {
            try
            {
                return await operation(_source.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!_caller.IsCancellationRequested)
            {
                var holder = peer is null ? string.Empty : $" ({peer})";
                throw new TimeoutException(
                    $"container '{_name}': its command socket @{SocketName(_options.LxcPath, _name)}{holder} did not complete {_what} within {_options.CommandSocketTimeout.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)} s: LXC's monitor is hung or the socket is not LXC's (find its holder with 'ss -xlp'); on a very loaded host raise LxcOptions.CommandSocketTimeout");
            }
        }

        public void Dispose() => _source.Dispose();
    }
}
