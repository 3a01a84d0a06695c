namespace Virt.Kvm.Qmp;

/// <summary>How an event subscription filters and buffers.</summary>
public sealed record QmpSubscriptionOptions
{
    /// <summary>Event names to receive; <see langword="null"/> or empty receives every event.</summary>
    public IReadOnlyCollection<string>? EventNames { get; init; }

    /// <summary>Events buffered for a slow consumer before <see cref="OverflowPolicy"/> applies. Default 1024.</summary>
    public int Capacity { get; init; } = 1024;

    /// <summary>What happens when the buffer is full. Default <see cref="QmpEventOverflowPolicy.DropOldest"/>.</summary>
    public QmpEventOverflowPolicy OverflowPolicy { get; init; } = QmpEventOverflowPolicy.DropOldest;
}
