namespace Virt.Kvm.Qmp;

/// <summary>A subscription with <see cref="QmpEventOverflowPolicy.Fail"/> fell behind and was ended.</summary>
public sealed class QmpEventOverflowException : VirtException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="capacity">The subscription's buffer size.</param>
    /// <param name="endpoint">The monitor.</param>
    public QmpEventOverflowException(int capacity, string endpoint)
        : base(VirtErrorKind.Failed, $"an event subscription on '{endpoint}' fell more than {capacity} events behind and was ended; consume faster, raise Capacity, or choose a dropping overflow policy and re-query state")
    {
        Capacity = capacity;
    }

    /// <summary>The subscription's buffer size.</summary>
    public int Capacity { get; }
}
