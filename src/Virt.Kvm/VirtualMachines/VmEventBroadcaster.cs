using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Virt.VirtualMachines;

namespace Virt.Kvm.VirtualMachines;

/// <summary>Fans lifecycle events out to every <see cref="IVirtualMachine.WatchAsync"/> stream (bounded, oldest dropped).</summary>
internal sealed class VmEventBroadcaster
{
    private readonly Lock _gate = new();
    private readonly List<Channel<VmEvent>> _watchers = [];

    public void Publish(VmEvent vmEvent)
    {
        lock (_gate)
        {
            foreach (var watcher in _watchers)
            {
                watcher.Writer.TryWrite(vmEvent);
            }
        }
    }

    public async IAsyncEnumerable<VmEvent> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var channel = Channel.CreateBounded<VmEvent>(new BoundedChannelOptions(256) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
        lock (_gate)
        {
            _watchers.Add(channel);
        }

        try
        {
            await foreach (var vmEvent in channel.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                yield return vmEvent;
            }
        }
        finally
        {
            lock (_gate)
            {
                _watchers.Remove(channel);
            }
        }
    }
}
