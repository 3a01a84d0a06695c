namespace Virt.VirtualMachines;

/// <summary>An operation on a VM failed or was refused; the message names the VM, what was tried, what the host said and the fix. Its <see cref="VirtException.ErrorKind"/> says which kind of failure it is.</summary>
public class VmException : VirtException
{
    /// <summary>Creates the exception, of kind <see cref="VirtErrorKind.Failed"/>.</summary>
    public VmException()
    {
    }

    /// <summary>Creates the exception, of kind <see cref="VirtErrorKind.Failed"/>.</summary>
    /// <param name="message">What was tried, what the host said, the fix.</param>
    public VmException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception, of kind <see cref="VirtErrorKind.Failed"/>.</summary>
    /// <param name="message">What was tried, what the host said, the fix.</param>
    /// <param name="innerException">The cause.</param>
    public VmException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception of a given kind.</summary>
    /// <param name="errorKind">What kind of failure it is.</param>
    /// <param name="message">What was tried, what the host said, the fix.</param>
    public VmException(VirtErrorKind errorKind, string message)
        : base(errorKind, message)
    {
    }

    /// <summary>Creates the exception of a given kind.</summary>
    /// <param name="errorKind">What kind of failure it is.</param>
    /// <param name="message">What was tried, what the host said, the fix.</param>
    /// <param name="innerException">The cause.</param>
    public VmException(VirtErrorKind errorKind, string message, Exception? innerException)
        : base(errorKind, message, innerException)
    {
    }
}
