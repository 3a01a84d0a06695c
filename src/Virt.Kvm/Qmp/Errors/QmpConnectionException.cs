namespace Virt.Kvm.Qmp;

/// <summary>
/// The QMP connection cannot be used: it could not be opened, QEMU exited or closed it, or it was
/// disposed. Every call pending on it fails with this exception; its <see cref="Exception.InnerException"/>
/// holds the cause (a <see cref="QmpProtocolException"/> where QEMU's output broke the protocol). Its kind is
/// <see cref="VirtErrorKind.Unavailable"/>: the monitor does not serve, whatever the command was.
/// </summary>
public class QmpConnectionException : VirtException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="endpoint">The monitor (socket path or description).</param>
    /// <param name="message">What happened and what to do.</param>
    /// <param name="innerException">The cause, if any.</param>
    public QmpConnectionException(string endpoint, string message, Exception? innerException = null)
        : base(VirtErrorKind.Unavailable, message, innerException)
    {
        Endpoint = endpoint;
    }

    /// <summary>The monitor (socket path or description).</summary>
    public string Endpoint { get; }
}
