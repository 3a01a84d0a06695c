namespace Virt.Containers;

/// <summary>An operation on a container failed or was refused; the message names the container, what was tried, what the host said and the fix. Its <see cref="VirtException.ErrorKind"/> says which kind of failure it is.</summary>
public class ContainerException : VirtException
{
    /// <summary>Creates the exception, of kind <see cref="VirtErrorKind.Failed"/>.</summary>
    public ContainerException()
    {
    }

    /// <summary>Creates the exception, of kind <see cref="VirtErrorKind.Failed"/>.</summary>
    /// <param name="message">What was tried, what the host said, the fix.</param>
    public ContainerException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception, of kind <see cref="VirtErrorKind.Failed"/>.</summary>
    /// <param name="message">What was tried, what the host said, the fix.</param>
    /// <param name="innerException">The cause.</param>
    public ContainerException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception of a given kind.</summary>
    /// <param name="errorKind">What kind of failure it is.</param>
    /// <param name="message">What was tried, what the host said, the fix.</param>
    public ContainerException(VirtErrorKind errorKind, string message)
        : base(errorKind, message)
    {
    }

    /// <summary>Creates the exception of a given kind.</summary>
    /// <param name="errorKind">What kind of failure it is.</param>
    /// <param name="message">What was tried, what the host said, the fix.</param>
    /// <param name="innerException">The cause.</param>
    public ContainerException(VirtErrorKind errorKind, string message, Exception? innerException)
        : base(errorKind, message, innerException)
    {
    }
}
