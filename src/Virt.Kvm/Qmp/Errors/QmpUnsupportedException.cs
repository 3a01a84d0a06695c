namespace Virt.Kvm.Qmp;

/// <summary>
/// The command, or one of its arguments, does not exist in the QEMU the client is connected to; it
/// was refused before being sent (<see cref="QmpClientOptions.CheckCommandsAgainstSchema"/>).
/// </summary>
public sealed class QmpUnsupportedException : VirtException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="command">The command.</param>
    /// <param name="member">The unknown argument, or <see langword="null"/> when the command itself is unknown.</param>
    /// <param name="qemuVersion">The QEMU version connected to.</param>
    /// <param name="endpoint">The monitor.</param>
    public QmpUnsupportedException(string command, string? member, string qemuVersion, string endpoint)
        : base(VirtErrorKind.Refused, member is null
            ? $"QEMU {qemuVersion} at '{endpoint}' has no command '{command}' (its query-qmp-schema does not list it); use a QEMU that has it, or check the name"
            : $"QEMU {qemuVersion} at '{endpoint}' has no argument '{member}' for '{command}'; remove it or use a QEMU that has it")
    {
        Command = command;
        Member = member;
        QemuVersion = qemuVersion;
    }

    /// <summary>The command.</summary>
    public string Command { get; }

    /// <summary>The unknown argument, or <see langword="null"/> when the command itself is unknown.</summary>
    public string? Member { get; }

    /// <summary>The QEMU version connected to.</summary>
    public string QemuVersion { get; }
}
