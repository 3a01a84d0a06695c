using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using Virt.Containers;

namespace Virt.Lxc.CommandSocket;

/// <summary>
/// A client for the command socket every running container listens on: the abstract unix socket
/// <c>@&lt;lxcpath&gt;/&lt;name&gt;/command</c>. A request is <c>{int cmd; int datalen; void *data}</c>
/// followed by <c>datalen</c> bytes; the answer is <c>{int ret; int datalen; void *data}</c> followed by its
/// data, where small answers (state, pid) travel in the pointer field itself. Commands 0–25 have kept
/// their numbers from LXC 4.0 on. No socket means the container is not running.
/// </summary>
internal static class LxcCommandClient
{
    private const int GetState = 3;
    private const int GetInitPid = 4;
    private const int GetConfigItem = 7;
    private const int AddStateClient = 10;
    private const int MaxState = 8;
    private const int HeaderSize = 16;
    private const int SolSocket = 1;
    private const int SoPassCred = 16;

    /// <summary>struct lxc_msg: int type; char name[NAME_MAX + 1]; int value.</summary>
    private const int StateMessageSize = 4 + 256 + 4;

    /// <summary>The socket's abstract name; LXC hashes longer ones, which <see cref="Hosting.LxcOptions.LxcPath"/>'s limit avoids.</summary>
    public static string SocketName(string lxcPath, string name) => $"{lxcPath.TrimEnd('/')}/{name}/command";

    /// <summary>The state, or <see cref="ContainerState.Stopped"/> when nothing listens.</summary>
    public static async Task<ContainerState> GetStateAsync(string lxcPath, string name, CancellationToken cancellationToken)
    {
        var answer = await RequestAsync(lxcPath, name, GetState, [], cancellationToken).ConfigureAwait(false);
        return answer is null ? ContainerState.Stopped : (ContainerState)answer.Value.Pointer;
    }

    /// <summary>PID 1's host pid, or <see langword="null"/> when not running.</summary>
    public static async Task<int?> GetInitPidAsync(string lxcPath, string name, CancellationToken cancellationToken)
    {
        var answer = await RequestAsync(lxcPath, name, GetInitPid, [], cancellationToken).ConfigureAwait(false);
        return answer is null || answer.Value.Pointer <= 0 ? null : (int)answer.Value.Pointer;
    }

    /// <summary>A config item as the running container has it, or <see langword="null"/> when not running or not set.</summary>
    public static async Task<string?> GetConfigItemAsync(string lxcPath, string name, string key, CancellationToken cancellationToken)
    {
        var answer = await RequestAsync(lxcPath, name, GetConfigItem, Encoding.UTF8.GetBytes(key + "\0"), cancellationToken).ConfigureAwait(false);
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
    /// monitor closes the socket, which it does as the container stops.
    /// </summary>
    public static async IAsyncEnumerable<ContainerState> WatchAsync(string lxcPath, string name, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var current = await GetStateAsync(lxcPath, name, cancellationToken).ConfigureAwait(false);
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

        using var socket = await ConnectAsync(lxcPath, name, cancellationToken).ConfigureAwait(false);
        if (socket is null)
        {
            yield return ContainerState.Stopped;
            yield break;
        }

        await SendAsync(socket, AddStateClient, mask, cancellationToken).ConfigureAwait(false);
        var header = await ReceiveExactlyAsync(socket, HeaderSize, cancellationToken).ConfigureAwait(false);
        if (header is null)
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
            var message = await ReceiveExactlyAsync(socket, StateMessageSize, cancellationToken).ConfigureAwait(false);
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

    private static async Task<Answer?> RequestAsync(string lxcPath, string name, int command, byte[] data, CancellationToken cancellationToken)
    {
        using var socket = await ConnectAsync(lxcPath, name, cancellationToken).ConfigureAwait(false);
        if (socket is null)
        {
            return null;
        }

        await SendAsync(socket, command, data, cancellationToken).ConfigureAwait(false);
        var header = await ReceiveExactlyAsync(socket, HeaderSize, cancellationToken).ConfigureAwait(false);
        if (header is null)
        {
            // The monitor went away mid-request: the container is stopping.
            return null;
        }

        var ret = BinaryPrimitives.ReadInt32LittleEndian(header);
        var length = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(4));
        var pointer = BinaryPrimitives.ReadInt64LittleEndian(header.AsSpan(8));
        var payload = length > 0 ? await ReceiveExactlyAsync(socket, length, cancellationToken).ConfigureAwait(false) ?? [] : [];
        return new Answer(ret, pointer, payload);
    }

    private static async Task<Socket?> ConnectAsync(string lxcPath, string name, CancellationToken cancellationToken)
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
            var error = await ConnectWithoutThrowingAsync(socket, new UnixDomainSocketEndPoint("\0" + SocketName(lxcPath, name)), cancellationToken).ConfigureAwait(false);
            if (error is SocketError.ConnectionRefused or SocketError.AddressNotAvailable)
            {
                socket.Dispose();
                return null;
            }

            if (error != SocketError.Success)
            {
                throw new SocketException((int)error);
            }

            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
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

    private static async Task SendAsync(Socket socket, int command, byte[] data, CancellationToken cancellationToken)
    {
        var request = new byte[HeaderSize + data.Length];
        BinaryPrimitives.WriteInt32LittleEndian(request, command);
        BinaryPrimitives.WriteInt32LittleEndian(request.AsSpan(4), data.Length);
        data.CopyTo(request.AsSpan(HeaderSize));
        await socket.SendAsync(request, SocketFlags.None, cancellationToken).ConfigureAwait(false);
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

    private readonly record struct Answer(int Ret, long Pointer, byte[] Data);
}
