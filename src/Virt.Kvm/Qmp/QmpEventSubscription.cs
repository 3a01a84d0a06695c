using System.Threading.Channels;

namespace Virt.Kvm.Qmp;

/// <summary>
/// A live stream of QEMU events, bounded per subscriber. Enumerate it with <c>await foreach</c>; the
/// stream ends when the subscription is disposed or QEMU closes the connection, and throws when the
/// connection breaks or, with <see cref="QmpEventOverflowPolicy.Fail"/>, when the consumer falls behind.
/// Events that happened before subscribing are not replayed: after a reconnect, re-query state.
/// </summary>
public sealed class QmpEventSubscription : IAsyncEnumerable<QmpEvent>, IDisposable
{
    private readonly Channel<QmpEvent> _channel;
    private readonly HashSet<string>? _names;
    private readonly Func<QmpEvent, bool>? _predicate;
    private readonly QmpEventHub _hub;
    private readonly QmpSubscriptionOptions _options;
    private readonly string _endpoint;
    private long _lost;

    internal QmpEventSubscription(QmpEventHub hub, QmpSubscriptionOptions options, Func<QmpEvent, bool>? predicate, string endpoint)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Capacity, 1, nameof(options));
        _hub = hub;
        _options = options;
        _predicate = predicate;
        _endpoint = endpoint;
        _names = options.EventNames is { Count: > 0 } names ? new HashSet<string>(names, StringComparer.Ordinal) : null;
        var channelOptions = new BoundedChannelOptions(options.Capacity)
        {
            SingleWriter = true,
            FullMode = options.OverflowPolicy switch
            {
                QmpEventOverflowPolicy.DropOldest => BoundedChannelFullMode.DropOldest,
                QmpEventOverflowPolicy.DropNewest => BoundedChannelFullMode.DropWrite,
                _ => BoundedChannelFullMode.Wait,
            },
        };
        _channel = Channel.CreateBounded<QmpEvent>(channelOptions, _ => Interlocked.Increment(ref _lost));
    }

    /// <summary>Events dropped because this consumer fell behind.</summary>
    public long LostEvents => Interlocked.Read(ref _lost);

    /// <summary>Reads the next event.</summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The event, or <see langword="null"/> when the stream has ended.</returns>
    public async Task<QmpEvent?> ReadAsync(CancellationToken cancellationToken = default)
    {
        while (await _channel.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            if (_channel.Reader.TryRead(out var item))
            {
                return item;
            }
        }

        return null;
    }

    /// <inheritdoc />
    public IAsyncEnumerator<QmpEvent> GetAsyncEnumerator(CancellationToken cancellationToken = default) =>
        _channel.Reader.ReadAllAsync(cancellationToken).GetAsyncEnumerator(cancellationToken);

    /// <summary>Stops the subscription; buffered events can still be read.</summary>
    public void Dispose()
    {
        _hub.Remove(this);
        _channel.Writer.TryComplete();
    }

    internal bool Accepts(string name) => _names is null || _names.Contains(name);

    /// <summary>Called by the reader loop; never blocks.</summary>
    internal void Offer(QmpEvent qmpEvent)
    {
        if (_predicate is not null && !_predicate(qmpEvent))
        {
            return;
        }

        if (!_channel.Writer.TryWrite(qmpEvent) && _options.OverflowPolicy == QmpEventOverflowPolicy.Fail)
        {
            Interlocked.Increment(ref _lost);
            _hub.Remove(this);
            _channel.Writer.TryComplete(new QmpEventOverflowException(_options.Capacity, _endpoint));
        }
    }

    internal void Complete(Exception? error) => _channel.Writer.TryComplete(error);
}
