namespace Virt.Kvm.GuestAgent;

/// <summary>The guest agent answered a command with an error.</summary>
public sealed class GuestAgentException : VirtException
{
    /// <summary>Creates the exception from the agent's error reply.</summary>
    /// <param name="command">The command that failed.</param>
    /// <param name="errorClass">The agent's error class.</param>
    /// <param name="description">The agent's description.</param>
    /// <param name="endpoint">The agent's socket.</param>
    public GuestAgentException(string command, string errorClass, string description, string endpoint)
        : base(VirtErrorKind.Failed, $"the guest agent at '{endpoint}' refused '{command}': {errorClass}: {description}")
    {
        Command = command;
        ErrorClass = errorClass;
        Description = description;
    }

    /// <summary>The command that failed.</summary>
    public string Command { get; }

    /// <summary>The agent's error class, e.g. <c>GenericError</c>, <c>CommandNotFound</c>.</summary>
    public string ErrorClass { get; }

    /// <summary>The agent's description of the error.</summary>
    public string Description { get; }
}

/// <summary>The guest agent's channel cannot be used: the socket could not be opened, QEMU closed it, or the client was disposed.</summary>
public sealed class GuestAgentConnectionException : VirtException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What happened and what to do.</param>
    /// <param name="innerException">The cause, if any.</param>
    public GuestAgentConnectionException(string message, Exception? innerException = null)
        : base(VirtErrorKind.Unavailable, message, innerException)
    {
    }
}

/// <summary>
/// The guest agent did not answer within the deadline: it is missing, not started yet, busy or the
/// guest is rebooting. The next command resynchronizes the channel first.
/// </summary>
public sealed class GuestAgentTimeoutException : TimeoutException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="command">The command, or "guest-sync-delimited" for synchronization.</param>
    /// <param name="timeout">The deadline that passed.</param>
    /// <param name="endpoint">The agent's socket.</param>
    public GuestAgentTimeoutException(string command, TimeSpan timeout, string endpoint)
        : base($"the guest agent at '{endpoint}' did not answer '{command}' within {timeout.TotalMilliseconds:0.###} ms; is qemu-ga running in the guest (and the guest booted)?")
    {
        Command = command;
        Timeout = timeout;
    }

    /// <summary>The command that timed out.</summary>
    public string Command { get; }

    /// <summary>The deadline that passed.</summary>
    public TimeSpan Timeout { get; }
}
