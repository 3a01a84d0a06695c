using System.Threading.Channels;
using Virt.Containers;

namespace Virt.Lxc.Containers;

/// <summary>
/// Fans the state changes the SDK itself causes (freeze, thaw, a start it ran) out to watchers of the
/// same manager. Changes LXC makes on its own (a stop from inside, another process's lxc-stop) reach
/// watchers through the command socket instead.
/// Each watcher's queue is bounded: a watcher that falls behind loses its oldest states (the newest, the
/// one that matters, is kept), and each loss is counted in <see cref="LostEvents"/>.
/// </summary>
internal sealed class ContainerEventHub
{
    /// <summary>States buffered per watcher before the oldest is dropped: far more than a container changes between two reads.</summary>
    public const int Capacity = 64;

    private readonly Lock _gate = new();
    private long _lost;
    private readonly Dictionary<string, List<ChannelWriter<ContainerState>>> _watchers = new(StringComparer.Ordinal);

    /// <summary>States dropped, over every watcher of this manager, because a watcher fell behind.</summary>
    public long LostEvents => Interlocked.Read(ref _lost);

    /// <summary>A bounded queue of states for one watcher, counting what it drops in <see cref="LostEvents"/>.</summary>
    public Channel<ContainerState> CreateQueue() =>
        Channel.CreateBounded<ContainerState>(new BoundedChannelOptions(Capacity) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true }, _ => Interlocked.Increment(ref _lost));

    public void Publish(string name, ContainerState state)
    {
        lock (_gate)
        {
            if (_watchers.TryGetValue(name, out var writers))
            {
                foreach (var writer in writers)
                {
                    writer.TryWrite(state);
                }
            }
        }
    }

    public ChannelReader<ContainerState> Subscribe(string name, out IDisposable subscription)
    {
        var channel = CreateQueue();
        lock (_gate)
        {
            if (!_watchers.TryGetValue(name, out var writers))
            {
                _watchers[name] = writers = [];
            }

            writers.Add(channel.Writer);
        }

        subscription = new Unsubscriber(this, name, channel.Writer);
        return channel.Reader;
    }

    private sealed class Unsubscriber(ContainerEventHub hub, string name, ChannelWriter<ContainerState> writer) : IDisposable
    {
        public void Dispose()
        {
            lock (hub._gate)
            {
                if (hub._watchers.TryGetValue(name, out var writers))
                {
                    writers.Remove(writer);
                }
            }

            writer.TryComplete();
        }
    }
}
