using Virt.Kvm.Qmp;
using Virt.Kvm.Qmp.Api;

namespace Virt.Kvm.VirtualMachines;

/// <summary>Block nodes the SDK added and removes again (hotplug rollback, unplug, snapshot and migration clean-up).</summary>
internal static class BlockNodes
{
    /// <summary>Deletes nodes, last added first; one already gone (a child deleted with its parent, or never added) is skipped.</summary>
    public static async Task RemoveAsync(QmpClient qmp, Stack<string> nodes)
    {
        while (nodes.TryPop(out var node))
        {
            try
            {
                await qmp.BlockdevDelAsync(new BlockdevDelArguments { NodeName = node }, CancellationToken.None).ConfigureAwait(false);
            }
            catch (QmpException)
            {
                // Already gone.
            }
        }
    }
}
