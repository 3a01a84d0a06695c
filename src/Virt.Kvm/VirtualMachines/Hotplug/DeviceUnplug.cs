using Virt.Kvm.Qmp;
using Virt.Kvm.Qmp.Api;
using Virt.VirtualMachines;

namespace Virt.Kvm.VirtualMachines.Hotplug;

/// <summary>
/// <c>device_del</c> done properly: the guest must agree, so wait for <c>DEVICE_DELETED</c> within a
/// deadline; while the guest is still busy with an earlier request QEMU refuses, so retry until the deadline.
/// </summary>
internal static class DeviceUnplug
{
    private static readonly TimeSpan RetryDelay = TimeSpan.FromMilliseconds(500);

    public static async Task RunAsync(QmpClient qmp, string vmName, string operation, string deviceId, TimeSpan deadline, TimeProvider time, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        var deleted = qmp.WaitForEventAsync<DeviceDeletedEvent>(e => e.Device == deviceId, deadline, cancellationToken);
        while (true)
        {
            try
            {
                await qmp.DeviceDelAsync(new DeviceDelArguments { Id = deviceId }, cancellationToken).ConfigureAwait(false);
                break;
            }
            catch (QmpException ex) when (IsBusy(ex) && time.GetElapsedTime(started) + RetryDelay < deadline)
            {
                await Task.Delay(RetryDelay, time, cancellationToken).ConfigureAwait(false);
            }
            catch (QmpException ex)
            {
                Observe(deleted);
                throw new VmHotplugException(vmName, operation, deviceId, $"QEMU refused device_del: {ex.Description}", ex);
            }
        }

        try
        {
            await deleted.ConfigureAwait(false);
        }
        catch (QmpTimeoutException ex)
        {
            throw new VmHotplugException(
                vmName,
                operation,
                deviceId,
                $"the guest did not release it within {deadline.TotalSeconds:0} s (no DEVICE_DELETED); it may still be in use (mounted, or the guest ignores PCIe hotplug). It stays attached and in the spec: release it in the guest and try again",
                ex);
        }
    }

    private static bool IsBusy(QmpException error) =>
        error.Description.Contains("in the process of unplug", StringComparison.OrdinalIgnoreCase)
        || error.Description.Contains("busy", StringComparison.OrdinalIgnoreCase);

    private static void Observe(Task task) => task.ContinueWith(static t => _ = t.Exception, TaskScheduler.Default);
}
