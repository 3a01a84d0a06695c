namespace Virt.Kvm.Qmp;

/// <summary>Fans events out from the reader loop to the subscriptions (copy-on-write, lock-free reads).</summary>
internal sealed class QmpEventHub
{
    private readonly Lock _gate = new();
    private QmpEventSubscription[] _subscriptions = [];
    private bool _completed;
    private Exception? _completion;

    /// <summary>Whether any subscriber wants events of this name (so the event is worth materializing).</summary>
    public bool Wants(string name)
    {
        foreach (var subscription in Volatile.Read(ref _subscriptions))
        {
            if (subscription.Accepts(name))
            {
                return true;
            }
        }

        return false;
    }

    public void Publish(QmpEvent qmpEvent)
    {
        foreach (var subscription in Volatile.Read(ref _subscriptions))
        {
            if (subscription.Accepts(qmpEvent.Name))
            {
                subscription.Offer(qmpEvent);
            }
        }
    }

    public void Add(QmpEventSubscription subscription)
    {
        lock (_gate)
        {
            if (_completed)
            {
                subscription.Complete(_completion);
                return;
            }

            _subscriptions = [.. _subscriptions, subscription];
        }
    }

    public void Remove(QmpEventSubscription subscription)
    {
        lock (_gate)
        {
            _subscriptions = Array.FindAll(_subscriptions, s => !ReferenceEquals(s, subscription));
        }
    }

    /// <summary>Ends every subscription: normally on EOF or disposal, with the error when the connection broke.</summary>
    public void Complete(Exception? error)
    {
        QmpEventSubscription[] subscriptions;
        lock (_gate)
        {
            if (_completed)
            {
                return;
            }

            _completed = true;
            _completion = error;
            subscriptions = _subscriptions;
            _subscriptions = [];
        }

        foreach (var subscription in subscriptions)
        {
            subscription.Complete(error);
        }
    }
}
