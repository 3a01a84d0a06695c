using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Virt.Kvm.Qmp.Wire;
using Virt.VirtualMachines;

namespace Virt.Kvm.GuestAgent;

/// <summary>
/// A client for the QEMU guest agent (qemu-ga) on a VM's virtio-serial channel
/// (<c>-chardev socket,path=P,server=on,wait=off,id=qga0 -device virtserialport,chardev=qga0,name=org.qemu.guest_agent.0</c>).
/// </summary>
/// <remarks>
/// The agent protocol has no ids, so commands run one at a time. The channel is resynchronized
/// (<c>0xFF</c> + <c>guest-sync-delimited</c> with a fresh token) before the first command and after
/// any timeout, which discards stale replies and makes the client survive agent restarts and guest reboots.
/// </remarks>
public sealed class GuestAgentClient : IAsyncDisposable
{
    private static readonly byte[] Delimiter = [0xFF];

    private readonly Socket _socket;
    private readonly PipeReader _reader;
    private readonly GuestAgentOptions _options;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private long _nextToken = Random.Shared.NextInt64(1, int.MaxValue);
    private bool _needsSync = true;
    private int _disposed;

    private GuestAgentClient(Socket socket, string endpoint, GuestAgentOptions options, ILogger logger)
    {
        _socket = socket;
        Endpoint = endpoint;
        _options = options;
        _logger = logger;
        _reader = PipeReader.Create(new NetworkStream(socket, ownsSocket: false));
    }

    /// <summary>The agent's socket path.</summary>
    public string Endpoint { get; }

    /// <summary>Opens the host end of the agent channel. The agent itself may not be up yet: see <see cref="WaitForReadyAsync"/>.</summary>
    /// <param name="socketPath">The chardev socket's path.</param>
    /// <param name="options">Deadlines; <see langword="null"/> for the defaults.</param>
    /// <param name="logger">Where the transcript goes (Trace).</param>
    /// <param name="cancellationToken">Cancels connecting.</param>
    /// <returns>The client.</returns>
    /// <exception cref="GuestAgentConnectionException">Nothing listens at the path.</exception>
    public static async Task<GuestAgentClient> ConnectAsync(string socketPath, GuestAgentOptions? options = null, ILogger? logger = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(socketPath);
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            throw new GuestAgentConnectionException(
                $"cannot connect to the guest agent socket '{socketPath}': {ex.Message} ({ex.SocketErrorCode}); start the VM with a guest-agent chardev at that path", ex);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return new GuestAgentClient(socket, socketPath, options ?? new GuestAgentOptions(), logger ?? NullLogger.Instance);
    }

    /// <summary>Waits until the agent answers a synchronization, retrying while the guest boots.</summary>
    /// <param name="timeout">How long to keep trying.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A task that completes once the agent answered.</returns>
    /// <exception cref="GuestAgentTimeoutException">The agent did not answer within <paramref name="timeout"/>.</exception>
    public async Task WaitForReadyAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var time = _options.TimeProvider;
        var started = time.GetTimestamp();
        while (true)
        {
            try
            {
                await PingAsync(cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (GuestAgentTimeoutException) when (time.GetElapsedTime(started) < timeout)
            {
                // Not up yet: the next attempt resynchronizes.
            }
            catch (GuestAgentTimeoutException)
            {
                throw new GuestAgentTimeoutException("guest-ping", timeout, Endpoint);
            }
        }
    }

    /// <summary><c>guest-ping</c>: checks that the agent answers.</summary>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>A task that completes when the agent answered.</returns>
    public Task PingAsync(CancellationToken cancellationToken = default) =>
        ExecuteAsync<JsonObject, JsonElement>("guest-ping", null, GuestAgentJsonContext.Default.JsonObject, null, null, cancellationToken);

    /// <summary><c>guest-info</c>: the agent's version and commands.</summary>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The agent's description.</returns>
    public Task<GuestAgentInfo> GetInfoAsync(CancellationToken cancellationToken = default) =>
        ExecuteAsync<JsonObject, GuestAgentInfo>("guest-info", null, GuestAgentJsonContext.Default.JsonObject, GuestAgentJsonContext.Default.GuestAgentInfo, null, cancellationToken);

    /// <summary><c>guest-get-osinfo</c>: the guest's kernel and OS release.</summary>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The OS description.</returns>
    public Task<GuestOsInfo> GetOsInfoAsync(CancellationToken cancellationToken = default) =>
        ExecuteAsync<JsonObject, GuestOsInfo>("guest-get-osinfo", null, GuestAgentJsonContext.Default.JsonObject, GuestAgentJsonContext.Default.GuestOsInfo, null, cancellationToken);

    /// <summary><c>guest-network-get-interfaces</c>: the guest's interfaces and addresses.</summary>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>One entry per interface.</returns>
    public async Task<IReadOnlyList<GuestNetworkInterface>> GetNetworkInterfacesAsync(CancellationToken cancellationToken = default)
    {
        var interfaces = await ExecuteAsync<JsonObject, NetworkInterfaceWire[]>("guest-network-get-interfaces", null, GuestAgentJsonContext.Default.JsonObject, GuestAgentJsonContext.Default.NetworkInterfaceWireArray, null, cancellationToken).ConfigureAwait(false);
        return interfaces.Select(i => new GuestNetworkInterface(
            i.Name,
            i.HardwareAddress,
            (i.IpAddresses ?? []).Select(a => new GuestIpAddress(a.IpAddress, a.Prefix, a.IpAddressType == "ipv6")).ToList())).ToList();
    }

    /// <summary>
    /// Runs a program in the guest (<c>guest-exec</c> with captured output), polls <c>guest-exec-status</c>
    /// until it exits, and returns its exit code and decoded output.
    /// </summary>
    /// <param name="path">The program in the guest, e.g. "/bin/sh".</param>
    /// <param name="arguments">Its arguments.</param>
    /// <param name="standardInput">Bytes for its standard input, if any.</param>
    /// <param name="timeout">How long the program may run (default one minute). The program is not killed when it passes: the agent has no such command.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The outcome.</returns>
    public async Task<GuestExecResult> ExecAsync(string path, IReadOnlyList<string>? arguments = null, byte[]? standardInput = null, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var limit = timeout ?? TimeSpan.FromMinutes(1);
        var time = _options.TimeProvider;
        var started = await ExecuteAsync(
            "guest-exec",
            new ExecArguments(path, arguments, null, standardInput is null ? null : Convert.ToBase64String(standardInput), true),
            GuestAgentJsonContext.Default.ExecArguments,
            GuestAgentJsonContext.Default.ExecStarted,
            null,
            cancellationToken).ConfigureAwait(false);
        var begin = time.GetTimestamp();
        var delay = TimeSpan.FromMilliseconds(5);
        while (true)
        {
            var status = await ExecuteAsync("guest-exec-status", new PidArguments(started.Pid), GuestAgentJsonContext.Default.PidArguments, GuestAgentJsonContext.Default.ExecStatus, null, cancellationToken).ConfigureAwait(false);
            if (status.Exited)
            {
                return new GuestExecResult(
                    started.Pid,
                    status.Exitcode,
                    status.Signal,
                    status.OutData is null ? [] : Convert.FromBase64String(status.OutData),
                    status.ErrData is null ? [] : Convert.FromBase64String(status.ErrData),
                    status.OutTruncated == true || status.ErrTruncated == true);
            }

            if (time.GetElapsedTime(begin) > limit)
            {
                throw new GuestAgentTimeoutException($"guest-exec {path} (pid {started.Pid} still running in the guest)", limit, Endpoint);
            }

            await Task.Delay(delay, time, cancellationToken).ConfigureAwait(false);
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 100));
        }
    }

    /// <summary><c>guest-fsfreeze-freeze</c>: freezes the guest's filesystems (for a consistent disk snapshot).</summary>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>How many filesystems were frozen.</returns>
    public Task<int> FreezeFileSystemsAsync(CancellationToken cancellationToken = default) =>
        ExecuteAsync<JsonObject, int>("guest-fsfreeze-freeze", null, GuestAgentJsonContext.Default.JsonObject, GuestAgentJsonContext.Default.Int32, null, cancellationToken);

    /// <summary><c>guest-fsfreeze-thaw</c>: thaws the guest's filesystems.</summary>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>How many filesystems were thawed.</returns>
    public Task<int> ThawFileSystemsAsync(CancellationToken cancellationToken = default) =>
        ExecuteAsync<JsonObject, int>("guest-fsfreeze-thaw", null, GuestAgentJsonContext.Default.JsonObject, GuestAgentJsonContext.Default.Int32, null, cancellationToken);

    /// <summary><c>guest-fsfreeze-status</c>: whether the filesystems are frozen.</summary>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The freeze state.</returns>
    public async Task<GuestFsFreezeStatus> GetFreezeStatusAsync(CancellationToken cancellationToken = default)
    {
        var status = await ExecuteAsync<JsonObject, string>("guest-fsfreeze-status", null, GuestAgentJsonContext.Default.JsonObject, GuestAgentJsonContext.Default.String, null, cancellationToken).ConfigureAwait(false);
        return status switch
        {
            "thawed" => GuestFsFreezeStatus.Thawed,
            "frozen" => GuestFsFreezeStatus.Frozen,
            _ => throw new GuestAgentException("guest-fsfreeze-status", "UnexpectedReply", $"unknown freeze status '{status}'", Endpoint),
        };
    }

    /// <summary>
    /// <c>guest-shutdown</c>: asks the guest OS to power off, halt or reboot. The agent sends no reply
    /// on success; an error reply within the command's deadline is thrown.
    /// </summary>
    /// <param name="mode">Power off, halt or reboot.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>A task that completes once the request was delivered.</returns>
    public async Task ShutdownAsync(GuestShutdownMode mode = GuestShutdownMode.Powerdown, CancellationToken cancellationToken = default)
    {
        var wire = mode switch
        {
            GuestShutdownMode.Powerdown => "powerdown",
            GuestShutdownMode.Halt => "halt",
            GuestShutdownMode.Reboot => "reboot",
            _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "unknown shutdown mode"),
        };
        try
        {
            await ExecuteAsync<ShutdownArguments, JsonElement>("guest-shutdown", new ShutdownArguments(wire), GuestAgentJsonContext.Default.ShutdownArguments, null, TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
        }
        catch (GuestAgentTimeoutException)
        {
            // No reply is the agent's way of saying yes.
        }
        catch (GuestAgentConnectionException)
        {
            // QEMU exited with the guest: the shutdown happened.
        }
    }

    /// <summary>Reads a small file from the guest (<c>guest-file-open/read/close</c>).</summary>
    /// <param name="path">The file in the guest.</param>
    /// <param name="maxBytes">Refuse files larger than this (default 16 MiB).</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The file's bytes.</returns>
    public async Task<byte[]> ReadFileAsync(string path, int maxBytes = 16 * 1024 * 1024, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var handle = await OpenFileAsync(path, "r", cancellationToken).ConfigureAwait(false);
        try
        {
            using var content = new MemoryStream();
            while (true)
            {
                var chunk = await ExecuteAsync("guest-file-read", new FileReadArguments(handle, 1024 * 1024), GuestAgentJsonContext.Default.FileReadArguments, GuestAgentJsonContext.Default.FileReadResult, null, cancellationToken).ConfigureAwait(false);
                var bytes = Convert.FromBase64String(chunk.BufB64);
                if (content.Length + bytes.Length > maxBytes)
                {
                    throw new ArgumentOutOfRangeException(nameof(maxBytes), $"the guest file '{path}' is larger than {maxBytes} bytes; use a bigger limit or another channel");
                }

                content.Write(bytes);
                if (chunk.Eof || chunk.Count == 0)
                {
                    return content.ToArray();
                }
            }
        }
        finally
        {
            await CloseFileQuietlyAsync(handle).ConfigureAwait(false);
        }
    }

    /// <summary>Writes (creates or truncates) a small file in the guest.</summary>
    /// <param name="path">The file in the guest.</param>
    /// <param name="content">The bytes to write.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>A task that completes when the file is written and closed.</returns>
    public async Task WriteFileAsync(string path, ReadOnlyMemory<byte> content, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var handle = await OpenFileAsync(path, "w", cancellationToken).ConfigureAwait(false);
        try
        {
            const int chunkSize = 1024 * 1024;
            for (var offset = 0; offset < content.Length || offset == 0; offset += chunkSize)
            {
                var chunk = content.Slice(offset, Math.Min(chunkSize, content.Length - offset));
                var written = await ExecuteAsync("guest-file-write", new FileWriteArguments(handle, Convert.ToBase64String(chunk.Span)), GuestAgentJsonContext.Default.FileWriteArguments, GuestAgentJsonContext.Default.FileWriteResult, null, cancellationToken).ConfigureAwait(false);
                if (written.Count != chunk.Length)
                {
                    throw new GuestAgentException("guest-file-write", "ShortWrite", $"wrote {written.Count} of {chunk.Length} bytes to '{path}'", Endpoint);
                }

                if (content.Length == 0)
                {
                    break;
                }
            }
        }
        finally
        {
            await CloseFileQuietlyAsync(handle).ConfigureAwait(false);
        }
    }

    /// <summary>Runs any agent command with raw JSON arguments.</summary>
    /// <param name="command">The command, e.g. "guest-network-get-interfaces".</param>
    /// <param name="arguments">Its arguments, or <see langword="null"/>.</param>
    /// <param name="timeout">The deadline; <see langword="null"/> takes <see cref="GuestAgentOptions.GetTimeout"/>.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The <c>return</c> value.</returns>
    public Task<JsonElement> ExecuteAsync(string command, JsonObject? arguments = null, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        ExecuteAsync(command, arguments, GuestAgentJsonContext.Default.JsonObject, GuestAgentJsonContext.Default.JsonElement, timeout, cancellationToken);

    /// <summary>Closes the channel. Idempotent.</summary>
    /// <returns>A completed task.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _socket.Dispose();
        await _reader.CompleteAsync().ConfigureAwait(false);
    }

    private async Task<long> OpenFileAsync(string path, string mode, CancellationToken cancellationToken) =>
        await ExecuteAsync("guest-file-open", new FileOpenArguments(path, mode), GuestAgentJsonContext.Default.FileOpenArguments, GuestAgentJsonContext.Default.Int64, null, cancellationToken).ConfigureAwait(false);

    private async Task CloseFileQuietlyAsync(long handle)
    {
        try
        {
            await ExecuteAsync<HandleArguments, JsonElement>("guest-file-close", new HandleArguments(handle), GuestAgentJsonContext.Default.HandleArguments, null, null, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is GuestAgentException or GuestAgentTimeoutException or GuestAgentConnectionException)
        {
            // The handle dies with the agent anyway; the original error matters more.
        }
    }

    private async Task<TResult> ExecuteAsync<TArguments, TResult>(string command, TArguments? arguments, JsonTypeInfo<TArguments> argumentsType, JsonTypeInfo<TResult>? resultType, TimeSpan? timeout, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_needsSync)
            {
                await SynchronizeAsync(cancellationToken).ConfigureAwait(false);
            }

            var limit = timeout ?? _options.GetTimeout(command);
            using var deadline = CreateDeadline(limit, cancellationToken);
            try
            {
                await SendAsync(Format(command, arguments, argumentsType), deadline.Token).ConfigureAwait(false);
                var line = await ReadLineAsync(skipToDelimiter: false, deadline.Token).ConfigureAwait(false);
                return ParseReply(command, line, resultType);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                _needsSync = true;
                Log.AgentTimedOut(_logger, Endpoint, command);
                throw new GuestAgentTimeoutException(command, limit, Endpoint);
            }
            catch (OperationCanceledException)
            {
                _needsSync = true;
                throw;
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Sends 0xFF + guest-sync-delimited with a fresh token and discards everything up to the matching reply.</summary>
    private async Task SynchronizeAsync(CancellationToken cancellationToken)
    {
        var token = Interlocked.Increment(ref _nextToken);
        using var deadline = CreateDeadline(_options.SyncTimeout, cancellationToken);
        try
        {
            // 0xFF is invalid UTF-8: the agent's parser resets on it, whatever half-message it held.
            await SendAsync(Delimiter, deadline.Token).ConfigureAwait(false);
            await SendAsync(Format("guest-sync-delimited", new SyncArguments(token), GuestAgentJsonContext.Default.SyncArguments), deadline.Token).ConfigureAwait(false);
            while (true)
            {
                var line = await ReadLineAsync(skipToDelimiter: true, deadline.Token).ConfigureAwait(false);
                if (TryReadSyncToken(line) == token)
                {
                    _needsSync = false;
                    Log.AgentSynced(_logger, Endpoint, token);
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new GuestAgentTimeoutException("guest-sync-delimited", _options.SyncTimeout, Endpoint);
        }
    }

    private static long? TryReadSyncToken(byte[] line)
    {
        try
        {
            using var document = JsonDocument.Parse(line);
            return document.RootElement.TryGetProperty("return", out var value) && value.TryGetInt64(out var token) ? token : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private TResult ParseReply<TResult>(string command, byte[] line, JsonTypeInfo<TResult>? resultType)
    {
        QmpMessage message;
        try
        {
            message = QmpMessageParser.Parse(line);
        }
        catch (JsonException ex)
        {
            _needsSync = true;
            throw new GuestAgentException(command, "ProtocolError", $"the agent's reply is not JSON ({ex.Message}): '{Encoding.UTF8.GetString(line.AsSpan(0, Math.Min(line.Length, 200)))}'", Endpoint);
        }

        switch (message.Kind)
        {
            case QmpMessageKind.Return:
                return resultType is null ? default! : JsonSerializer.Deserialize(line.AsSpan(message.PayloadStart, message.PayloadLength), resultType)!;
            case QmpMessageKind.Error:
                throw new GuestAgentException(command, message.ErrorClass ?? "GenericError", message.ErrorDescription ?? string.Empty, Endpoint);
            default:
                _needsSync = true;
                throw new GuestAgentException(command, "ProtocolError", "the agent's reply is neither a return nor an error", Endpoint);
        }
    }

    private byte[] Format<TArguments>(string command, TArguments? arguments, JsonTypeInfo<TArguments> argumentsType)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("execute", command);
            if (arguments is not null)
            {
                writer.WritePropertyName("arguments");
                JsonSerializer.Serialize(writer, arguments, argumentsType);
            }

            writer.WriteEndObject();
        }

        buffer.Write("\n"u8);
        if (_logger.IsEnabled(LogLevel.Trace))
        {
            Log.AgentSent(_logger, Endpoint, QmpTranscript.Render(buffer.WrittenSpan));
        }

        return buffer.WrittenMemory.ToArray();
    }

    private async Task SendAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        try
        {
            var sent = 0;
            while (sent < bytes.Length)
            {
                sent += await _socket.SendAsync(bytes[sent..], SocketFlags.None, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (SocketException ex)
        {
            throw new GuestAgentConnectionException($"cannot write to the guest agent socket '{Endpoint}': {ex.Message}; QEMU probably exited", ex);
        }
    }

    /// <summary>Reads one reply line. With <paramref name="skipToDelimiter"/>, first discards everything up to and including a 0xFF byte.</summary>
    private async Task<byte[]> ReadLineAsync(bool skipToDelimiter, CancellationToken cancellationToken)
    {
        var seekingDelimiter = skipToDelimiter;
        while (true)
        {
            ReadResult result;
            try
            {
                result = await _reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or SocketException)
            {
                throw new GuestAgentConnectionException($"the guest agent channel '{Endpoint}' failed: {ex.Message}", ex);
            }

            var buffer = result.Buffer;
            if (seekingDelimiter)
            {
                var delimiter = buffer.PositionOf((byte)0xFF);
                if (delimiter is null)
                {
                    _reader.AdvanceTo(buffer.End);
                    ThrowIfCompleted(result);
                    continue;
                }

                buffer = buffer.Slice(buffer.GetPosition(1, delimiter.Value));
                seekingDelimiter = false;
            }

            var newline = buffer.PositionOf((byte)'\n');
            if (newline is not null)
            {
                if (buffer.Slice(0, newline.Value).Length > _options.MaxMessageSize)
                {
                    _needsSync = true;
                    _reader.AdvanceTo(buffer.GetPosition(1, newline.Value));
                    throw new GuestAgentException("read", "MessageTooLarge", $"the agent sent a message over the {_options.MaxMessageSize}-byte cap (GuestAgentOptions.MaxMessageSize)", Endpoint);
                }

                var line = buffer.Slice(0, newline.Value).ToArray();
                _reader.AdvanceTo(buffer.GetPosition(1, newline.Value));
                var trimmed = TrimLine(line);
                if (trimmed.Length == 0)
                {
                    continue;
                }

                if (_logger.IsEnabled(LogLevel.Trace))
                {
                    Log.AgentReceived(_logger, Endpoint, QmpTranscript.Render(trimmed));
                }

                return trimmed;
            }

            if (buffer.Length > _options.MaxMessageSize)
            {
                _needsSync = true;
                _reader.AdvanceTo(buffer.End);
                throw new GuestAgentException("read", "MessageTooLarge", $"the agent sent more than {_options.MaxMessageSize} bytes without a newline", Endpoint);
            }

            _reader.AdvanceTo(buffer.Start, buffer.End);
            ThrowIfCompleted(result);
        }
    }

    private void ThrowIfCompleted(ReadResult result)
    {
        if (result.IsCompleted)
        {
            throw new GuestAgentConnectionException($"QEMU closed the guest agent channel '{Endpoint}' (the VM exited)");
        }
    }

    private static byte[] TrimLine(byte[] line)
    {
        // Stray 0xFF delimiters and the CR of CRLF are not part of the JSON.
        ReadOnlySpan<byte> noise = [(byte)'\r', 0xFF, (byte)' ', (byte)'\t'];
        var span = line.AsSpan().Trim(noise);
        return span.Length == line.Length ? line : span.ToArray();
    }

    private CancellationTokenSource CreateDeadline(TimeSpan limit, CancellationToken cancellationToken)
    {
        var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(limit);
        return deadline;
    }
}
