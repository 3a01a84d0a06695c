using Microsoft.Extensions.Logging;
using Virt.Passthrough;

namespace Virt.Kvm.VirtualMachines;

/// <summary>
/// VFIO host devices: bound through <see cref="IHostDeviceBinder"/> before QEMU is spawned (owner
/// <c>vm:NAME</c>, the same as the volumes'), given back when QEMU is gone. The binder's journal makes the
/// release work after a crash of this process too: a re-attach that finds QEMU dead releases them.
/// </summary>
internal sealed partial class KvmVirtualMachine
{
    /// <summary>Binds the spec's host devices; returns every function now bound (the slots' siblings included), for <see cref="HostDeviceArguments"/>.</summary>
    private async Task<IReadOnlyList<PciAddress>> BindHostDevicesAsync(CancellationToken cancellationToken)
    {
        if (Spec.HostDevices.Count == 0)
        {
            return [];
        }

        if (_environment.HostDevices is not { } binder)
        {
            throw new Virt.VirtualMachines.VmStartException(Name, $"cannot start VM '{Name}': it passes host device {Spec.HostDevices[0].Address} through, but no passthrough backend is registered: call services.AddVirt().AddPassthrough() (or give the manager an IHostDeviceBinder)", null, string.Empty);
        }

        var slots = Spec.HostDevices.Where(device => device.AllFunctions).Select(device => PciAddress.Parse(device.Address)).ToList();
        var functions = Spec.HostDevices.Where(device => !device.AllFunctions).Select(device => PciAddress.Parse(device.Address)).ToList();
        try
        {
            var bound = new List<BoundDevice>();
            if (slots.Count > 0)
            {
                bound.AddRange((await binder.AcquireAsync(VolumeUser, slots, allFunctions: true, cancellationToken).ConfigureAwait(false)).Devices);
            }

            if (functions.Count > 0)
            {
                bound.AddRange((await binder.AcquireAsync(VolumeUser, functions, allFunctions: false, cancellationToken).ConfigureAwait(false)).Devices);
            }

            return bound.Select(entry => entry.Address).Distinct().ToList();
        }
        catch (Exception exception) when (exception is VirtException or TimeoutException or OperationCanceledException)
        {
            await ReleaseHostDevicesAsync().ConfigureAwait(false);
            throw new Virt.VirtualMachines.VmStartException(Name, $"cannot start VM '{Name}': binding its host devices failed: {exception.Message}", null, string.Empty, exception);
        }
    }

    /// <summary>Gives the host devices back. Idempotent; never throws (it runs on cleanup paths) but logs.</summary>
    private async Task ReleaseHostDevicesAsync()
    {
        if (Spec.HostDevices.Count == 0 || _environment.HostDevices is not { } binder)
        {
            return;
        }

        try
        {
            await binder.ReleaseAsync(VolumeUser, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is VirtException or TimeoutException)
        {
            Log.HostDeviceReleaseFailed(_logger, exception, Name);
        }
    }
}
