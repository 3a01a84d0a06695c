namespace Virt;

/// <summary>
/// The root of every error the Virt SDK raises about the host or a managed object (a VM, a
/// container, a volume, a device). Misuse of the API throws <see cref="ArgumentException"/> or
/// <see cref="InvalidOperationException"/> instead, and timeouts derive from
/// <see cref="TimeoutException"/> so that callers can catch them the usual .NET way.
/// </summary>
/// <remarks>
/// Messages name the object, what was tried, what the host said and the fix, for example
/// "bridge 'vmbr0' does not exist: create it or set Network.Bridge".
/// </remarks>
public class VirtException : Exception
{
    /// <summary>Creates an exception with no message.</summary>
    public VirtException()
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    /// <param name="message">What was tried, what the host said and how to fix it.</param>
    public VirtException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and the error that caused it.</summary>
    /// <param name="message">What was tried, what the host said and how to fix it.</param>
    /// <param name="innerException">The underlying error.</param>
    public VirtException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
