using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Virt.Kvm.Qmp.Wire;

/// <summary>Who is told when a pending command's deadline passes or its caller cancels.</summary>
internal interface IPendingCommandOwner
{
    void OnTimeout(IPendingCommand command);

    void OnCanceled(IPendingCommand command, CancellationToken cancellationToken);
}

/// <summary>A command sent and not yet answered, as the reader loop sees it.</summary>
internal interface IPendingCommand
{
    long Id { get; }

    string Command { get; }

    /// <summary>The deadline the call was armed with.</summary>
    TimeSpan Timeout { get; }

    /// <summary>Deserializes the <c>return</c> value and completes the call.</summary>
    void Complete(ReadOnlySpan<byte> returnValue);

    /// <summary>Fails the call; false if it had already completed.</summary>
    bool TryFail(Exception error);
}

/// <summary>
/// A pending call is its own <see cref="TaskCompletionSource{TResult}"/> (one allocation), with the
/// timer and cancellation registration that end it early. Its continuations run synchronously: the
/// caller's <c>await</c> resumes on the reader thread that completed it, with no hop through the
/// thread pool (the hop was most of the SDK's latency over a C client on a busy host).
/// </summary>
internal sealed class PendingCommand<TResult> : TaskCompletionSource<TResult>, IPendingCommand
{
    private readonly JsonTypeInfo<TResult>? _resultType;
    private readonly IPendingCommandOwner _owner;
    private ITimer? _timer;
    private CancellationTokenRegistration _cancellation;

    public PendingCommand(IPendingCommandOwner owner, long id, string command, JsonTypeInfo<TResult>? resultType)
        : base(TaskCreationOptions.None)
    {
        _owner = owner;
        Id = id;
        Command = command;
        _resultType = resultType;
    }

    public long Id { get; }

    public string Command { get; }

    public TimeSpan Timeout { get; private set; }

    /// <summary>Arms the deadline and the caller's token; both call back into the owner.</summary>
    public void Arm(TimeProvider time, TimeSpan timeout, CancellationToken cancellationToken)
    {
        Timeout = timeout;
        if (timeout != System.Threading.Timeout.InfiniteTimeSpan)
        {
            _timer = time.CreateTimer(static state => ((PendingCommand<TResult>)state!).Expire(), this, timeout, System.Threading.Timeout.InfiniteTimeSpan);
        }

        if (cancellationToken.CanBeCanceled)
        {
            _cancellation = cancellationToken.UnsafeRegister(static (state, token) => ((PendingCommand<TResult>)state!).Cancel(token), this);
        }
    }

    public void Complete(ReadOnlySpan<byte> returnValue)
    {
        Disarm();
        if (_resultType is null)
        {
            TrySetResult(default!);
            return;
        }

        TResult result;
        try
        {
            result = JsonSerializer.Deserialize(returnValue, _resultType)!;
        }
        catch (JsonException ex)
        {
            TrySetException(new JsonException($"the reply to '{Command}' does not match {typeof(TResult).Name}: {ex.Message}", ex));
            return;
        }

        TrySetResult(result);
    }

    public bool TryFail(Exception error)
    {
        Disarm();
        return error is OperationCanceledException canceled ? TrySetCanceled(canceled.CancellationToken) : TrySetException(error);
    }

    private void Expire() => _owner.OnTimeout(this);

    private void Cancel(CancellationToken token) => _owner.OnCanceled(this, token);

    private void Disarm()
    {
        _timer?.Dispose();
        _cancellation.Dispose();
    }
}
