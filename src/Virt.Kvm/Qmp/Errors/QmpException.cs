namespace Virt.Kvm.Qmp;

/// <summary>QEMU answered a command with an error reply. The connection stays usable.</summary>
public sealed class QmpException : VirtException
{
    /// <summary>Creates the exception from QEMU's error reply.</summary>
    /// <param name="command">The command that failed.</param>
    /// <param name="errorClass">QEMU's error class, e.g. <c>GenericError</c>, <c>CommandNotFound</c>, <c>DeviceNotFound</c>.</param>
    /// <param name="description">QEMU's human-readable description.</param>
    /// <param name="endpoint">The monitor the command was sent to.</param>
    public QmpException(string command, string errorClass, string description, string endpoint)
        : base(VirtErrorKind.Failed, $"QEMU at '{endpoint}' refused '{command}': {errorClass}: {description}")
    {
        Command = command;
        ErrorClass = errorClass;
        Description = description;
        Endpoint = endpoint;
    }

    /// <summary>The command that failed.</summary>
    public string Command { get; }

    /// <summary>QEMU's error class, e.g. <c>GenericError</c>, <c>CommandNotFound</c>, <c>DeviceNotFound</c>.</summary>
    public string ErrorClass { get; }

    /// <summary>QEMU's human-readable description of the error.</summary>
    public string Description { get; }

    /// <summary>The monitor (socket path or description) the command was sent to.</summary>
    public string Endpoint { get; }
}
