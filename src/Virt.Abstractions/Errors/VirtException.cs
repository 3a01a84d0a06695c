namespace Virt;

/// <summary>
/// The root of every error the Virt SDK raises about the host or a managed object (a VM, a
/// container, a volume, a device). Misuse of the API throws <see cref="ArgumentException"/> or
/// <see cref="InvalidOperationException"/> instead, and timeouts derive from
/// <see cref="TimeoutException"/> so that callers can catch them the usual .NET way.
/// </summary>
/// <remarks>
/// Messages name the object, what was tried, what the host said and the fix, for example
/// "bridge 'vmbr0' does not exist: create it or set Network.Bridge". Every instance carries an
/// <see cref="ErrorKind"/>, the one thing a host branches on (an HTTP status, an exit code); the subclasses carry
/// the facts (the VM's name, the exit code, QEMU's error class).
/// </remarks>
public class VirtException : Exception
{
    /// <summary>Creates an exception with no message, of kind <see cref="VirtErrorKind.Failed"/>.</summary>
    public VirtException()
    {
    }

    /// <summary>Creates an exception with a message, of kind <see cref="VirtErrorKind.Failed"/>.</summary>
    /// <param name="message">What was tried, what the host said and how to fix it.</param>
    public VirtException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and the error that caused it, of kind <see cref="VirtErrorKind.Failed"/>.</summary>
    /// <param name="message">What was tried, what the host said and how to fix it.</param>
    /// <param name="innerException">The underlying error.</param>
    public VirtException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates an exception of a given kind.</summary>
    /// <param name="errorKind">What kind of failure it is.</param>
    /// <param name="message">What was tried, what the host said and how to fix it.</param>
    public VirtException(VirtErrorKind errorKind, string message)
        : base(message)
    {
        ErrorKind = errorKind;
    }

    /// <summary>Creates an exception of a given kind with the error that caused it.</summary>
    /// <param name="errorKind">What kind of failure it is.</param>
    /// <param name="message">What was tried, what the host said and how to fix it.</param>
    /// <param name="innerException">The underlying error.</param>
    public VirtException(VirtErrorKind errorKind, string message, Exception? innerException)
        : base(message, innerException)
    {
        ErrorKind = errorKind;
    }

    /// <summary>What kind of failure this is: the one thing to switch on when mapping errors to statuses or exit codes.</summary>
    public VirtErrorKind ErrorKind { get; }
}
