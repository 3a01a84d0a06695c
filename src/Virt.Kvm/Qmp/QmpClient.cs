using System.Buffers;
using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Virt.Kvm.Qmp.Wire;

namespace Virt.Kvm.Qmp;

/// <summary>
/// A client for one QEMU monitor (QMP). Thread-safe: many commands may be in flight from many threads;
/// each reply is matched to its command by id. One reader thread parses QEMU's output, completes calls
/// and fans events out to bounded subscriptions. When QEMU exits or breaks the protocol, every pending
/// call fails at once with a <see cref="QmpConnectionException"/>.
/// </summary>
/// <remarks>
/// QEMU serves one client per monitor socket: share one <see cref="QmpClient"/> per VM. Cancelling or
/// timing out a command that was already sent does not undo it in QEMU.
/// <para>
/// Each client has its own reader thread, and an awaited command resumes on it (that is what makes a
/// round trip as cheap as a C client's). Code after <c>await</c> may send further commands freely,
/// but must not block that thread waiting for another reply of the same client (<c>.Result</c>,
/// <c>.Wait()</c>): the reply could not be read until that command's deadline passes.
/// </para>
/// </remarks>
public sealed partial class QmpClient : IAsyncDisposable, IPendingCommandOwner
{
    private const int ReceivedSnippetLength = 200;

    /// <summary>Holds every usual reply and event; a larger message grows it for as long as it takes to read.</summary>
    private const int InitialReadBufferSize = 16 * 1024;

    /// <summary>
    /// Schemas by QEMU binary: its path and modification time, named by the caller
    /// (<see cref="QmpClientOptions.ServingBinary"/>) or found from the peer's pid (SO_PEERCRED →
    /// /proc/PID/exe), like libvirt's capability cache; by version and package string when the peer
    /// cannot be identified. A parsed schema is ~1 MB: one per VM would be most of a VM's managed memory.
    /// </summary>
    private static readonly ConcurrentDictionary<string, Task<QmpSchema>> SchemaCache = new(StringComparer.Ordinal);

    private readonly Socket _socket;
    private readonly QmpClientOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<long, IPendingCommand> _pending = new();
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly QmpCommandWriter _commandWriter = new();
    private readonly QmpEventHub _events = new();
    private readonly TaskCompletionSource<QmpGreeting> _greeting = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _readerDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _readLoop = Task.CompletedTask;
    private Thread? _readerThread;
    private Exception? _closedReason;
    private QmpSchema? _schema;
    private long _nextId;
    private long _eventsReceived;
    private int _disposed;

    private QmpClient(Socket socket, string endpoint, QmpClientOptions options, ILogger logger)
    {
        _socket = socket;
        Endpoint = endpoint;
        _options = options;
        _logger = logger;
        _time = options.TimeProvider;
    }

    /// <summary>The monitor this client talks to: a socket path or the description given to <see cref="ConnectAsync(Socket, string, QmpClientOptions?, ILogger?, CancellationToken)"/>.</summary>
    public string Endpoint { get; }

    /// <summary>What QEMU said when the connection opened (its version and capabilities).</summary>
    public QmpGreeting Greeting { get; private set; } = null!;

    /// <summary>Whether out-of-band execution was negotiated.</summary>
    public bool OutOfBandEnabled { get; private set; }

    /// <summary>Whether the connection is open (not closed by QEMU, broken or disposed).</summary>
    public bool IsConnected => Volatile.Read(ref _closedReason) is null;

    /// <summary>Events received since the connection opened, whether or not anyone subscribed.</summary>
    public long EventsReceived => Interlocked.Read(ref _eventsReceived);

    /// <summary>Completes when the connection has closed, for whatever reason; never faults.</summary>
    public Task Completion => _readLoop;

    /// <summary>Connects to a QMP unix socket (<c>-qmp unix:PATH,server=on,wait=off</c>) and negotiates capabilities.</summary>
    /// <param name="socketPath">The monitor socket's path.</param>
    /// <param name="options">Deadlines and limits; <see langword="null"/> for the defaults.</param>
    /// <param name="logger">Where the transcript goes (commands and replies at Trace, events at Debug).</param>
    /// <param name="cancellationToken">Cancels connecting.</param>
    /// <returns>A connected client, ready for commands.</returns>
    /// <exception cref="QmpConnectionException">Nothing listens at the path, or the peer closed the connection.</exception>
    /// <exception cref="QmpProtocolException">The peer is not QMP or is a QEMU older than <see cref="QmpClientOptions.MinimumQemuVersion"/>.</exception>
    /// <exception cref="QmpTimeoutException">No greeting or capabilities reply within <see cref="QmpClientOptions.HandshakeTimeout"/>.</exception>
    public static async Task<QmpClient> ConnectAsync(string socketPath, QmpClientOptions? options = null, ILogger? logger = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(socketPath);
        options ??= new QmpClientOptions();
        options.Validate();
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(options.HandshakeTimeout);
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), deadline.Token).ConfigureAwait(false);
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            var hint = ex.SocketErrorCode switch
            {
                SocketError.AddressNotAvailable or SocketError.AddressFamilyNotSupported => "the path does not exist",
                SocketError.ConnectionRefused => "nothing listens there (QEMU exited or the path is a stale socket)",
                SocketError.AccessDenied => "permission denied: run as a user that may open the socket",
                _ => ex.Message,
            };
            throw new QmpConnectionException(socketPath, $"cannot connect to QMP socket '{socketPath}': {hint} ({ex.SocketErrorCode}); start QEMU with -qmp unix:{socketPath},server=on,wait=off or fix the path", ex);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            throw new QmpTimeoutException("connect", options.HandshakeTimeout, socketPath, "the socket accepted no connection");
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return await AttachAsync(socket, socketPath, options, logger, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Takes over an already-connected socket — for example one end of a <c>socketpair()</c> whose
    /// other end was handed to QEMU with <c>-chardev socket,id=mon,fd=N -mon chardev=mon,mode=control</c>,
    /// which removes every connect race — and negotiates capabilities. The client owns the socket.
    /// </summary>
    /// <param name="connectedSocket">A connected stream socket.</param>
    /// <param name="description">How to name this monitor in errors and logs (e.g. the VM's name).</param>
    /// <param name="options">Deadlines and limits; <see langword="null"/> for the defaults.</param>
    /// <param name="logger">Where the transcript goes.</param>
    /// <param name="cancellationToken">Cancels the handshake.</param>
    /// <returns>A connected client, ready for commands.</returns>
    public static Task<QmpClient> ConnectAsync(Socket connectedSocket, string description, QmpClientOptions? options = null, ILogger? logger = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connectedSocket);
        ArgumentException.ThrowIfNullOrWhiteSpace(description);
        if (!connectedSocket.Connected)
        {
            throw new ArgumentException($"the socket for '{description}' is not connected", nameof(connectedSocket));
        }

        options ??= new QmpClientOptions();
        options.Validate();
        return AttachAsync(connectedSocket, description, options, logger, cancellationToken);
    }

    private static async Task<QmpClient> AttachAsync(Socket socket, string endpoint, QmpClientOptions options, ILogger? logger, CancellationToken cancellationToken)
    {
        var client = new QmpClient(socket, endpoint, options, logger ?? NullLogger.Instance);
        try
        {
            await client.HandshakeAsync(cancellationToken).ConfigureAwait(false);
            return client;
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task HandshakeAsync(CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        _readerThread = new Thread(ReadLoop) { IsBackground = true, Name = "QMP reader" };
        _readLoop = _readerDone.Task;
        _readerThread.Start();
        QmpGreeting greeting;
        try
        {
            greeting = await _greeting.Task.WaitAsync(_options.HandshakeTimeout, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new QmpTimeoutException("handshake", _options.HandshakeTimeout, Endpoint,
                "no QMP greeting arrived: the peer is not a QMP monitor, or another client holds this monitor (QEMU serves one at a time)");
        }

        if (greeting.Version.AsVersion() < _options.MinimumQemuVersion)
        {
            throw new QmpProtocolException(Endpoint,
                $"QEMU {greeting.Version} at '{Endpoint}' is older than {_options.MinimumQemuVersion}, the oldest the SDK supports; upgrade QEMU (Debian 12 ships 7.2)",
                greeting.Version.ToString());
        }

        Greeting = greeting;
        var enableOob = _options.EnableOutOfBand && greeting.Capabilities.Contains("oob");
        var remaining = _options.HandshakeTimeout - _time.GetElapsedTime(started);
        var callOptions = new QmpCallOptions { Timeout = remaining > TimeSpan.Zero ? remaining : TimeSpan.FromMilliseconds(1) };
        var arguments = enableOob ? new JsonObject { ["enable"] = new JsonArray("oob") } : null;
        await ExecuteAsync("qmp_capabilities", arguments, callOptions, cancellationToken).ConfigureAwait(false);
        OutOfBandEnabled = enableOob;
        if (_options.CheckCommandsAgainstSchema)
        {
            _schema = await GetSchemaAsync(cancellationToken).ConfigureAwait(false);
        }

        Log.QmpConnected(_logger, Endpoint, greeting.Version.ToString(), enableOob);
    }

    /// <summary>Runs a command with raw JSON arguments and returns the raw <c>return</c> value.</summary>
    /// <param name="command">The QMP command, e.g. "query-status".</param>
    /// <param name="arguments">Its arguments as a JSON object, or <see langword="null"/>.</param>
    /// <param name="options">Deadline and OOB overrides for this call.</param>
    /// <param name="cancellationToken">Stops waiting; the command may still run in QEMU.</param>
    /// <returns>The <c>return</c> member of QEMU's reply.</returns>
    /// <exception cref="QmpException">QEMU answered with an error.</exception>
    /// <exception cref="QmpTimeoutException">No reply within the deadline.</exception>
    /// <exception cref="QmpConnectionException">The connection closed or broke.</exception>
    public Task<JsonElement> ExecuteAsync(string command, JsonObject? arguments = null, QmpCallOptions? options = null, CancellationToken cancellationToken = default) =>
        ExecuteAsync(command, arguments, QmpJsonContext.Default.JsonObject, QmpJsonContext.Default.JsonElement, options, cancellationToken);

    /// <summary>Runs a command with typed arguments and deserializes its reply with source-generated metadata.</summary>
    /// <typeparam name="TArguments">The arguments' type.</typeparam>
    /// <typeparam name="TResult">The <c>return</c> value's type.</typeparam>
    /// <param name="command">The QMP command.</param>
    /// <param name="arguments">The arguments, or <see langword="null"/> for none.</param>
    /// <param name="argumentsType">Metadata of <typeparamref name="TArguments"/>.</param>
    /// <param name="resultType">Metadata of <typeparamref name="TResult"/>; <see langword="null"/> ignores the reply's value.</param>
    /// <param name="options">Deadline and OOB overrides for this call.</param>
    /// <param name="cancellationToken">Stops waiting; the command may still run in QEMU.</param>
    /// <returns>The deserialized <c>return</c> value.</returns>
    public Task<TResult> ExecuteAsync<TArguments, TResult>(string command, TArguments? arguments, JsonTypeInfo<TArguments> argumentsType, JsonTypeInfo<TResult>? resultType, QmpCallOptions? options = null, CancellationToken cancellationToken = default) =>
        SendCommandAsync(command, arguments, argumentsType, resultType, descriptors: null, options, cancellationToken);

    /// <summary>
    /// Runs a command with file descriptors attached (SCM_RIGHTS), e.g. <c>getfd</c> or <c>add-fd</c>. The
    /// descriptors travel in the same <c>sendmsg</c> as the command's bytes; QEMU duplicates them, so the
    /// caller keeps (and later closes) its own handles.
    /// </summary>
    /// <typeparam name="TArguments">The arguments' type.</typeparam>
    /// <typeparam name="TResult">The <c>return</c> value's type.</typeparam>
    /// <param name="command">The QMP command.</param>
    /// <param name="arguments">The arguments.</param>
    /// <param name="argumentsType">Metadata of <typeparamref name="TArguments"/>.</param>
    /// <param name="resultType">Metadata of <typeparamref name="TResult"/>; <see langword="null"/> ignores the reply's value.</param>
    /// <param name="descriptors">The open file descriptors to pass.</param>
    /// <param name="options">Deadline overrides for this call (fd passing is always in band).</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The deserialized <c>return</c> value.</returns>
    public Task<TResult> ExecuteWithDescriptorsAsync<TArguments, TResult>(string command, TArguments? arguments, JsonTypeInfo<TArguments> argumentsType, JsonTypeInfo<TResult>? resultType, IReadOnlyList<SafeHandle> descriptors, QmpCallOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(descriptors);
        if (descriptors.Count == 0 || descriptors.Any(d => d is null || d.IsInvalid || d.IsClosed))
        {
            throw new ArgumentException($"'{command}' needs at least one open file descriptor to pass", nameof(descriptors));
        }

        if (options?.OutOfBand == true)
        {
            throw new ArgumentException($"'{command}' passes file descriptors, which QEMU only accepts in band", nameof(options));
        }

        return SendCommandAsync(command, arguments, argumentsType, resultType, descriptors, options, cancellationToken);
    }

    /// <summary>
    /// This QEMU's <c>query-qmp-schema</c>, fetched once per QEMU binary (path and modification time)
    /// in this process and shared by every client connected to that binary.
    /// </summary>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The schema.</returns>
    public Task<QmpSchema> GetSchemaAsync(CancellationToken cancellationToken = default)
    {
        var key = SchemaCacheKey();
        if (key is null)
        {
            // A monitor served by this very process (a test double) is no QEMU binary: nothing to share.
            return FetchSchemaAsync().WaitAsync(cancellationToken);
        }

        var schema = SchemaCache.GetOrAdd(key, _ => FetchSchemaAsync());
        if (schema.IsFaulted || schema.IsCanceled)
        {
            SchemaCache.TryRemove(new KeyValuePair<string, Task<QmpSchema>>(key, schema));
        }

        return schema.WaitAsync(cancellationToken);

        async Task<QmpSchema> FetchSchemaAsync() =>
            QmpSchema.Parse(await ExecuteAsync("query-qmp-schema", cancellationToken: CancellationToken.None).ConfigureAwait(false));
    }

    /// <summary>Subscribes to events. Dispose the subscription to stop it.</summary>
    /// <param name="options">Which events, how many to buffer, and what to do on overflow.</param>
    /// <returns>A stream of events from now on.</returns>
    public QmpEventSubscription Subscribe(QmpSubscriptionOptions? options = null) => Subscribe(options ?? new QmpSubscriptionOptions(), predicate: null);

    /// <summary>
    /// Waits for the next event with this name that matches the predicate. The wait starts when this
    /// method is called, so start it <em>before</em> sending the command that causes the event, then await it.
    /// </summary>
    /// <param name="name">The event name, e.g. "DEVICE_DELETED".</param>
    /// <param name="predicate">Which event of that name; <see langword="null"/> takes the first.</param>
    /// <param name="timeout">How long to wait.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The event.</returns>
    /// <exception cref="QmpTimeoutException">No matching event within <paramref name="timeout"/>.</exception>
    /// <exception cref="QmpConnectionException">The connection closed first.</exception>
    public Task<QmpEvent> WaitForEventAsync(string name, Func<QmpEvent, bool>? predicate, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var subscription = Subscribe(new QmpSubscriptionOptions { EventNames = [name], Capacity = 16, OverflowPolicy = QmpEventOverflowPolicy.DropNewest }, predicate);
        return WaitAsync(subscription);

        async Task<QmpEvent> WaitAsync(QmpEventSubscription waiter)
        {
            using (waiter)
            {
                QmpEvent? found;
                try
                {
                    found = await waiter.ReadAsync(cancellationToken).WaitAsync(timeout, _time, cancellationToken).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    throw new QmpTimeoutException($"event {name}", timeout, Endpoint, "the event did not arrive; check that the action that raises it happened");
                }

                return found ?? throw ClosedError($"waiting for event {name}");
            }
        }
    }

    /// <summary>Closes the connection. Pending calls fail with <see cref="QmpConnectionException"/>. Idempotent.</summary>
    /// <returns>A task that completes when the reader loop has stopped.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            await _readLoop.ConfigureAwait(false);
            return;
        }

        // Closing shuts the socket down, which wakes the reader thread's blocking read.
        Close(new ObjectDisposedException(nameof(QmpClient), $"the QMP client for '{Endpoint}' was disposed"));
        if (Thread.CurrentThread != _readerThread)
        {
            await _readLoop.ConfigureAwait(false);
        }
    }

    void IPendingCommandOwner.OnTimeout(IPendingCommand command)
    {
        if (_pending.TryRemove(command.Id, out _))
        {
            Log.QmpCommandTimedOut(_logger, Endpoint, command.Command, command.Id);
            command.TryFail(new QmpTimeoutException(command.Command, command.Timeout, Endpoint, "the connection stays usable; raise the command's timeout if the host is busy"));
        }
    }

    void IPendingCommandOwner.OnCanceled(IPendingCommand command, CancellationToken cancellationToken)
    {
        if (_pending.TryRemove(command.Id, out _))
        {
            command.TryFail(new OperationCanceledException(cancellationToken));
        }
    }

    private QmpEventSubscription Subscribe(QmpSubscriptionOptions options, Func<QmpEvent, bool>? predicate)
    {
        var subscription = new QmpEventSubscription(_events, options, predicate, Endpoint);
        _events.Add(subscription);
        return subscription;
    }

    private Task<TResult> SendCommandAsync<TArguments, TResult>(string command, TArguments? arguments, JsonTypeInfo<TArguments> argumentsType, JsonTypeInfo<TResult>? resultType, IReadOnlyList<SafeHandle>? descriptors, QmpCallOptions? options, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(command);
        ArgumentNullException.ThrowIfNull(argumentsType);
        if (Volatile.Read(ref _closedReason) is not null)
        {
            return Task.FromException<TResult>(ClosedError(command));
        }

        if (_schema is not null && arguments is not null)
        {
            // Typed arguments are checked in their wire form, then sent in that form (serialized once).
            var wire = arguments as JsonObject ?? JsonSerializer.SerializeToNode(arguments, argumentsType) as JsonObject;
            CheckAgainstSchema(_schema, command, wire);
            if (wire is not null && arguments is not JsonObject)
            {
                return SendCommandAsync(command, wire, QmpJsonContext.Default.JsonObject, resultType, descriptors, options, cancellationToken);
            }
        }
        else if (_schema is not null)
        {
            CheckAgainstSchema(_schema, command, null);
        }

        var outOfBand = options?.OutOfBand == true;
        if (outOfBand && !OutOfBandEnabled)
        {
            throw new InvalidOperationException($"'{command}' was asked to run out of band, but QEMU at '{Endpoint}' did not negotiate the 'oob' capability");
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<TResult>(cancellationToken);
        }

        var id = Interlocked.Increment(ref _nextId);
        var pending = new PendingCommand<TResult>(this, id, command, resultType);
        _pending[id] = pending;
        pending.Arm(_time, options?.Timeout ?? _options.GetTimeout(command), cancellationToken);

        // The pending entry exists before the bytes leave, so a fast reply always finds it; a
        // connection that closed meanwhile is caught by re-checking after registering.
        if (Volatile.Read(ref _closedReason) is not null && _pending.TryRemove(id, out _))
        {
            pending.TryFail(ClosedError(command));
            return pending.Task;
        }

        var write = WriteCommandAsync(command, id, outOfBand, arguments, argumentsType, descriptors, cancellationToken);
        if (write.IsCompletedSuccessfully)
        {
            return pending.Task;
        }

        return AwaitWriteAsync(write, pending);
    }

    /// <summary>The binary's path and modification time; the build string when unknown; null for an in-process server.</summary>
    private string? SchemaCacheKey()
    {
        if (_options.ServingBinary is { } served)
        {
            return BinaryKey(served);
        }

        try
        {
            // struct ucred { pid_t pid; uid_t uid; gid_t gid; } from SO_PEERCRED (SOL_SOCKET 1, option 17).
            Span<byte> credentials = stackalloc byte[12];
            if (_socket.GetRawSocketOption(1, 17, credentials) >= 4)
            {
                var pid = BitConverter.ToInt32(credentials);
                if (pid == Environment.ProcessId)
                {
                    return null;
                }

                var binary = File.ResolveLinkTarget($"/proc/{pid}/exe", returnFinalTarget: true)?.FullName;
                if (binary is not null && File.Exists(binary))
                {
                    return BinaryKey(binary);
                }
            }
        }
        catch (Exception ex) when (ex is SocketException or IOException or UnauthorizedAccessException or ObjectDisposedException)
        {
            // Not identifiable (another user's process, a socket over another transport): key by build.
        }

        return $"{Greeting.Version} {Greeting.Version.Package}";
    }

    /// <summary>A binary's path and modification time, and the build it reported (a binary replaced in place differs in both).</summary>
    private string BinaryKey(string binary) =>
        $"{binary} {(File.Exists(binary) ? File.GetLastWriteTimeUtc(binary).Ticks : 0)} {Greeting.Version} {Greeting.Version.Package}";

    private void CheckAgainstSchema(QmpSchema schema, string command, JsonObject? arguments)
    {
        if (!schema.HasCommand(command))
        {
            throw new QmpUnsupportedException(command, null, Greeting.Version.ToString(), Endpoint);
        }

        if (arguments is not null && schema.FindUnsupportedArgument(command, arguments) is { } member)
        {
            throw new QmpUnsupportedException(command, member, Greeting.Version.ToString(), Endpoint);
        }
    }

    private async Task<TResult> AwaitWriteAsync<TResult>(ValueTask write, PendingCommand<TResult> pending)
    {
        try
        {
            await write.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            if (_pending.TryRemove(pending.Id, out _))
            {
                pending.TryFail(ex);
            }
        }

        return await pending.Task.ConfigureAwait(false);
    }

    private async ValueTask WriteCommandAsync<TArguments>(string command, long id, bool outOfBand, TArguments? arguments, JsonTypeInfo<TArguments> argumentsType, IReadOnlyList<SafeHandle>? descriptors, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var bytes = _commandWriter.Format(command, id, outOfBand, arguments, argumentsType);
            if (_logger.IsEnabled(LogLevel.Trace))
            {
                Log.QmpSent(_logger, Endpoint, QmpTranscript.Render(bytes.Span));
            }

            try
            {
                if (descriptors is null)
                {
                    // Never pass the caller's token here: a half-written command would corrupt the stream.
                    var sent = 0;
                    while (sent < bytes.Length)
                    {
                        sent += await _socket.SendAsync(bytes[sent..], SocketFlags.None, CancellationToken.None).ConfigureAwait(false);
                    }
                }
                else
                {
                    UnixFdSender.Send(_socket, bytes.Span, descriptors, _options.DefaultTimeout);
                }
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                var error = new QmpConnectionException(Endpoint, $"cannot send '{command}' to QEMU at '{Endpoint}': {ex.Message}; QEMU probably exited", ex);
                Close(error);
                throw ClosedError(command);
            }
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>
    /// The reader thread: blocking reads, one line at a time, each reply completing its caller right
    /// here. A dedicated thread that the kernel wakes directly costs one thread switch per reply, like
    /// a C client's blocking read; an async read loop costs three (the socket engine, the loop, the
    /// caller's continuation), which on a busy host showed as +100 µs at p50 and a p99 tail of several ms.
    /// </summary>
    private void ReadLoop()
    {
        Exception? reason;
        try
        {
            reason = ReadUntilClosed();
        }
        catch (QmpConnectionException ex)
        {
            reason = ex;
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            reason = Volatile.Read(ref _closedReason)
                ?? new QmpConnectionException(Endpoint, $"the QMP connection to '{Endpoint}' failed: {ex.Message}", ex);
        }
        catch (Exception ex)
        {
            reason = new QmpConnectionException(Endpoint, $"the QMP reader for '{Endpoint}' failed: {ex.Message}", ex);
        }

        Close(reason);
        _readerDone.TrySetResult();
    }

    /// <summary>Reads and handles lines until the peer closes; returns why the connection ended.</summary>
    private Exception ReadUntilClosed()
    {
        var buffer = new byte[InitialReadBufferSize];
        var start = 0; // first byte of the line being assembled
        var end = 0; // end of the received bytes
        var scanned = 0; // bytes before this hold no newline
        while (true)
        {
            if (end == buffer.Length)
            {
                if (start > 0)
                {
                    buffer.AsSpan(start, end - start).CopyTo(buffer);
                    end -= start;
                    scanned -= start;
                    start = 0;
                }
                else
                {
                    // One message larger than the buffer: grow up to one byte past the cap, which trips the check below.
                    Array.Resize(ref buffer, (int)Math.Min(buffer.Length * 2L, _options.MaxMessageSize + 1L));
                }
            }

            var received = BlockingSocketReceiver.Receive(_socket, buffer.AsSpan(end));
            if (received == 0)
            {
                return end == start
                    ? new QmpConnectionException(Endpoint, $"QEMU closed the QMP connection at '{Endpoint}' (it exited or was killed)")
                    : new QmpProtocolException(Endpoint, $"QEMU at '{Endpoint}' closed the connection in the middle of a message", Snippet(buffer.AsSpan(start, end - start)));
            }

            end += received;
            int newline;
            while ((newline = buffer.AsSpan(scanned, end - scanned).IndexOf((byte)'\n')) >= 0)
            {
                var lineEnd = scanned + newline;
                var line = buffer.AsSpan(start, lineEnd - start);
                start = scanned = lineEnd + 1;
                if (line.Length > _options.MaxMessageSize)
                {
                    throw Oversized(line);
                }

                HandleLine(line);
            }

            scanned = end;
            if (end - start > _options.MaxMessageSize)
            {
                throw Oversized(buffer.AsSpan(start, end - start));
            }

            if (start == end)
            {
                start = end = scanned = 0;
                if (buffer.Length > InitialReadBufferSize)
                {
                    // A large reply (the schema is ~200 KB) does not pin a large buffer for the VM's lifetime.
                    buffer = new byte[InitialReadBufferSize];
                }
            }
        }
    }

    private void HandleLine(ReadOnlySpan<byte> line)
    {
        line = line.TrimEnd("\r"u8).Trim(" \t"u8);
        if (line.IsEmpty)
        {
            return;
        }

        QmpMessage message;
        try
        {
            message = QmpMessageParser.Parse(line);
        }
        catch (JsonException ex)
        {
            throw new QmpProtocolException(Endpoint, $"QEMU at '{Endpoint}' sent a line that is not a QMP message ({ex.Message}); the stream cannot be trusted and was closed", Snippet(line), ex);
        }

        if (_logger.IsEnabled(LogLevel.Trace) && message.Kind != QmpMessageKind.Event)
        {
            Log.QmpReceived(_logger, Endpoint, QmpTranscript.Render(line));
        }

        if (!_greeting.Task.IsCompleted)
        {
            _greeting.TrySetResult(message.Kind == QmpMessageKind.Greeting
                ? ParseGreeting(line.Slice(message.PayloadStart, message.PayloadLength))
                : throw new QmpProtocolException(Endpoint, $"the peer at '{Endpoint}' is not a QMP server: its first line is not a QMP greeting", Snippet(line)));
            return;
        }

        switch (message.Kind)
        {
            case QmpMessageKind.Return:
                if (TakePending(message, out var pending))
                {
                    pending.Complete(line.Slice(message.PayloadStart, message.PayloadLength));
                }

                break;
            case QmpMessageKind.Error when !message.HasId:
                throw new QmpProtocolException(Endpoint,
                    $"QEMU at '{Endpoint}' sent an error without an id ({message.ErrorClass}: {message.ErrorDescription}): it could not parse what it was sent, so the stream is broken",
                    Snippet(line));
            case QmpMessageKind.Error:
                if (TakePending(message, out var failed))
                {
                    failed.TryFail(new QmpException(failed.Command, message.ErrorClass ?? "GenericError", message.ErrorDescription ?? string.Empty, Endpoint));
                }

                break;
            case QmpMessageKind.Event:
                DispatchEvent(line, message);
                break;
            case QmpMessageKind.Greeting:
                Log.QmpUnexpectedGreeting(_logger, Endpoint);
                break;
            default:
                throw new QmpProtocolException(Endpoint, $"QEMU at '{Endpoint}' sent a JSON object that is neither a reply nor an event", Snippet(line));
        }
    }

    private bool TakePending(in QmpMessage message, out IPendingCommand pending)
    {
        if (message.Id is { } id && _pending.TryRemove(id, out pending!))
        {
            return true;
        }

        pending = null!;
        Log.QmpLateReplyDiscarded(_logger, Endpoint, message.Id?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "(none)");
        return false;
    }

    private void DispatchEvent(ReadOnlySpan<byte> line, in QmpMessage message)
    {
        Interlocked.Increment(ref _eventsReceived);
        var name = message.EventName ?? string.Empty;
        if (_logger.IsEnabled(LogLevel.Debug))
        {
            Log.QmpEvent(_logger, Endpoint, name, QmpTranscript.Render(line));
        }

        if (!_events.Wants(name))
        {
            return;
        }

        JsonElement? data = null;
        if (message.PayloadLength > 0)
        {
            var reader = new Utf8JsonReader(line.Slice(message.PayloadStart, message.PayloadLength));
            data = JsonElement.ParseValue(ref reader);
        }

        var timestamp = DateTimeOffset.FromUnixTimeSeconds(message.TimestampSeconds).AddTicks(message.TimestampMicroseconds * 10);
        _events.Publish(new QmpEvent(name, timestamp, data));
    }

    private QmpGreeting ParseGreeting(ReadOnlySpan<byte> payload)
    {
        try
        {
            var greeting = JsonSerializer.Deserialize(payload, QmpJsonContext.Default.GreetingPayload)
                ?? throw new JsonException("empty greeting");
            var qemu = greeting.Version?.Qemu ?? throw new JsonException("the greeting has no version.qemu");
            return new QmpGreeting(new QmpVersion(qemu.Major, qemu.Minor, qemu.Micro, greeting.Version.Package ?? string.Empty), greeting.Capabilities ?? []);
        }
        catch (JsonException ex)
        {
            throw new QmpProtocolException(Endpoint, $"the QMP greeting from '{Endpoint}' is malformed: {ex.Message}", Snippet(payload), ex);
        }
    }

    /// <summary>Marks the connection closed (first reason wins), fails every pending call and ends every subscription.</summary>
    private void Close(Exception reason)
    {
        if (Interlocked.CompareExchange(ref _closedReason, reason, null) is not null)
        {
            return;
        }

        Log.QmpClosed(_logger, Endpoint, reason.Message);
        _greeting.TrySetException(reason);
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Already gone.
        }

        _socket.Dispose();
        foreach (var id in _pending.Keys)
        {
            if (_pending.TryRemove(id, out var pending))
            {
                pending.TryFail(ClosedError(pending.Command));
            }
        }

        _events.Complete(reason is QmpProtocolException ? reason : null);
    }

    private QmpConnectionException ClosedError(string operation)
    {
        var reason = Volatile.Read(ref _closedReason);
        return reason switch
        {
            null => new QmpConnectionException(Endpoint, $"'{operation}' failed: the QMP connection to '{Endpoint}' is closed"),
            ObjectDisposedException => new QmpConnectionException(Endpoint, $"'{operation}' failed: the QMP client for '{Endpoint}' was disposed", reason),
            _ => new QmpConnectionException(Endpoint, $"'{operation}' failed: {reason.Message}", reason),
        };
    }

    private QmpProtocolException Oversized(ReadOnlySpan<byte> received) =>
        new(Endpoint, $"QEMU at '{Endpoint}' sent a message over the {_options.MaxMessageSize:N0}-byte cap ({received.Length:N0} bytes so far); raise QmpClientOptions.MaxMessageSize if this is expected", Snippet(received));

    private static string Snippet(ReadOnlySpan<byte> bytes)
    {
        var head = bytes[..Math.Min(bytes.Length, ReceivedSnippetLength)];
        var text = Encoding.UTF8.GetString(head);
        var printable = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            printable.Append(char.IsControl(c) ? '?' : c);
        }

        return bytes.Length > ReceivedSnippetLength ? printable + "..." : printable.ToString();
    }
}
