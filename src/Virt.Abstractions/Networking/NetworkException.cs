namespace Virt.Networking;

/// <summary>A network operation failed or was refused; the message names the network, port or host object, what was tried and the fix.</summary>
public class NetworkException : VirtException
{
    /// <summary>Creates the exception.</summary>
    public NetworkException()
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What was tried, what the host said, the fix.</param>
    public NetworkException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What was tried, what the host said, the fix.</param>
    /// <param name="innerException">The cause.</param>
    public NetworkException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception of a given kind.</summary>
    /// <param name="errorKind">What kind of failure it is.</param>
    /// <param name="message">What was tried, what the host said, the fix.</param>
    public NetworkException(VirtErrorKind errorKind, string message)
        : base(errorKind, message)
    {
    }

    /// <summary>Creates the exception of a given kind.</summary>
    /// <param name="errorKind">What kind of failure it is.</param>
    /// <param name="message">What was tried, what the host said, the fix.</param>
    /// <param name="innerException">The cause.</param>
    public NetworkException(VirtErrorKind errorKind, string message, Exception? innerException)
        : base(errorKind, message, innerException)
    {
    }
}
