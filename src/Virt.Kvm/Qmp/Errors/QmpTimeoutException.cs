namespace Virt.Kvm.Qmp;

/// <summary>
/// A QMP command, the handshake or an awaited event did not complete within its deadline. The
/// connection stays usable and a late reply is discarded. A command that timed out may still have
/// run in QEMU: a deadline does not undo it.
/// </summary>
public sealed class QmpTimeoutException : TimeoutException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="operation">The command, "handshake" or "event NAME".</param>
    /// <param name="timeout">The deadline that passed.</param>
    /// <param name="endpoint">The monitor (socket path or description).</param>
    /// <param name="hint">What to do about it.</param>
    public QmpTimeoutException(string operation, TimeSpan timeout, string endpoint, string hint)
        : base($"QEMU at '{endpoint}' did not complete '{operation}' within {timeout.TotalMilliseconds:0.###} ms; {hint}")
    {
        Operation = operation;
        Timeout = timeout;
        Endpoint = endpoint;
    }

    /// <summary>The command, "handshake" or "event NAME" that timed out.</summary>
    public string Operation { get; }

    /// <summary>The deadline that passed.</summary>
    public TimeSpan Timeout { get; }

    /// <summary>The monitor (socket path or description).</summary>
    public string Endpoint { get; }
}
