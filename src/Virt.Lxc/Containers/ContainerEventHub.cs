using System.Threading.Channels;
using Virt.Containers;

namespace Virt.Lxc.Containers;

/// <summary>
/// Fans the state changes the SDK itself causes (freeze, thaw, a start it ran) out to watchers of the
/// same manager. Changes LXC makes on its own (a stop from inside, another process's lxc-stop) reach
/// watchers through the command socket instead.
/// </summary>
internal sealed class ContainerEventHub
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, List<ChannelWriter<ContainerState>>> _watchers = new(StringComparer.Ordinal);

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
        var channel = Channel.CreateUnbounded<ContainerState>(new UnboundedChannelOptions { SingleReader = true });
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
