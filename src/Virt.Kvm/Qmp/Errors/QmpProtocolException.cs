namespace Virt.Kvm.Qmp;

/// <summary>
/// The peer broke the QMP protocol: it is not a QMP server, sent a line that is not JSON, an error
/// without an id, a message over the size cap, or is a QEMU older than the SDK supports. The
/// connection is closed when this happens.
/// </summary>
public sealed class QmpProtocolException : QmpConnectionException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="endpoint">The monitor (socket path or description).</param>
    /// <param name="message">What was expected, what was received and what to do.</param>
    /// <param name="received">The start of what the peer sent, for diagnosis.</param>
    /// <param name="innerException">The parser's error, if any.</param>
    public QmpProtocolException(string endpoint, string message, string received, Exception? innerException = null)
        : base(endpoint, message, innerException)
    {
        Received = received;
    }

    /// <summary>The start of what the peer sent (at most a few hundred characters).</summary>
    public string Received { get; }
}
