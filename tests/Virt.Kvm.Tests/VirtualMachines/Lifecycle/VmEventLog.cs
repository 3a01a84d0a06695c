using Virt.VirtualMachines;

namespace Virt.Kvm.Tests.VirtualMachines.Lifecycle;

/// <summary>A VM's event stream, subscribed before the action under test, so a test waits for the event that proves it.</summary>
internal sealed class VmEventLog : IAsyncDisposable
{
    private readonly IAsyncEnumerator<VmEvent> _events;
    private Task<bool> _next;

    private VmEventLog(IVirtualMachine vm, CancellationToken cancellationToken)
    {
        _events = vm.WatchAsync(cancellationToken).GetAsyncEnumerator(cancellationToken);

        // The first MoveNextAsync runs the subscription: from here on no event is missed.
        _next = _events.MoveNextAsync().AsTask();
    }

    public static VmEventLog Watch(IVirtualMachine vm, CancellationToken cancellationToken) => new(vm, cancellationToken);

    /// <summary>Waits for the next event of <paramref name="kind"/>; returns it with the kinds seen before it.</summary>
    public async Task<(VmEvent Event, IReadOnlyList<VmEventKind> Before)> WaitForAsync(VmEventKind kind)
    {
        var before = new List<VmEventKind>();
        while (await _next)
        {
            var current = _events.Current;
            _next = _events.MoveNextAsync().AsTask();
            if (current.Kind == kind)
            {
                return (current, before);
            }

            before.Add(current.Kind);
        }

        throw new InvalidOperationException($"the event stream ended before a {kind} event (saw: {string.Join(", ", before)})");
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _events.DisposeAsync();
        }
        catch (NotSupportedException)
        {
            // A MoveNextAsync is still pending: the stream ends with the test's token.
        }
    }
}
