namespace Virt.Kvm.Qmp;

/// <summary>
/// What a subscription does when its consumer falls behind and its buffer is full. The reader loop
/// never waits for a slow subscriber: one slow consumer must not stall every command on the VM.
/// </summary>
public enum QmpEventOverflowPolicy
{
    /// <summary>Drop the oldest buffered event to make room (counted in <see cref="QmpEventSubscription.LostEvents"/>).</summary>
    DropOldest,

    /// <summary>Drop the arriving event (counted in <see cref="QmpEventSubscription.LostEvents"/>).</summary>
    DropNewest,

    /// <summary>End the subscription with a <see cref="QmpEventOverflowException"/> so the consumer knows it missed events.</summary>
    Fail,
}
