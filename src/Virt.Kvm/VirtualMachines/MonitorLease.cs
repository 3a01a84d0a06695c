using Virt.Kvm.Qmp;

namespace Virt.Kvm.VirtualMachines;

/// <summary>
/// The QMP connection one operation uses: the owner's main monitor (kept open, not closed here), or a
/// connection to the control monitor made for this operation alone and closed when it ends.
/// </summary>
internal sealed class MonitorLease(QmpClient client, bool closeAfterUse) : IAsyncDisposable
{
    public QmpClient Client => client;

    public ValueTask DisposeAsync() => closeAfterUse ? client.DisposeAsync() : ValueTask.CompletedTask;
}
