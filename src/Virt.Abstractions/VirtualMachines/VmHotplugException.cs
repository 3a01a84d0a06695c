namespace Virt.VirtualMachines;

/// <summary>
/// A device could not be plugged into or unplugged from a running VM. The VM's stored spec is left
/// as it was: it only changes when the change really happened.
/// </summary>
public sealed class VmHotplugException : VmException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="vmName">The VM.</param>
    /// <param name="operation">What was tried, e.g. "attach disk".</param>
    /// <param name="deviceId">The device.</param>
    /// <param name="reason">What QEMU or the guest said, with the fix.</param>
    /// <param name="innerException">The underlying error, if any.</param>
    public VmHotplugException(string vmName, string operation, string deviceId, string reason, Exception? innerException = null)
        : base(VirtErrorKind.Failed, $"VM '{vmName}': cannot {operation} '{deviceId}': {reason}", innerException)
    {
        VmName = vmName;
        Operation = operation;
        DeviceId = deviceId;
    }

    /// <summary>The VM.</summary>
    public string VmName { get; }

    /// <summary>What was tried.</summary>
    public string Operation { get; }

    /// <summary>The device.</summary>
    public string DeviceId { get; }
}
