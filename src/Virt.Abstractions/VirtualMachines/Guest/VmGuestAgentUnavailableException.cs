namespace Virt.VirtualMachines;

/// <summary>
/// The guest agent of a VM cannot be asked anything: the VM has no agent channel, is not running, or
/// the agent did not answer within its deadline.
/// </summary>
public sealed class VmGuestAgentUnavailableException : VmException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="vmName">The VM.</param>
    /// <param name="operation">What was asked, e.g. "guest-exec".</param>
    /// <param name="reason">Why it could not be asked, with the fix.</param>
    /// <param name="innerException">What the transport reported, if anything.</param>
    public VmGuestAgentUnavailableException(string vmName, string operation, string reason, Exception? innerException = null)
        : base(VirtErrorKind.Unavailable, $"VM '{vmName}': cannot run {operation} in the guest: {reason}", innerException)
    {
        VmName = vmName;
        Operation = operation;
    }

    /// <summary>The VM.</summary>
    public string VmName { get; }

    /// <summary>What was asked.</summary>
    public string Operation { get; }
}
