using System.Text.Json;
using System.Text.Json.Serialization;

namespace Virt.Kvm.GuestAgent;

/// <summary>The reply to <c>guest-info</c>.</summary>
public sealed record GuestAgentInfo
{
    /// <summary>The agent's version.</summary>
    public string Version { get; init; } = string.Empty;

    /// <summary>The commands the agent knows and whether each is enabled.</summary>
    [JsonPropertyName("supported_commands")]
    public IReadOnlyList<GuestAgentCommandInfo> SupportedCommands { get; init; } = [];
}

/// <summary>One command of <see cref="GuestAgentInfo"/>.</summary>
public sealed record GuestAgentCommandInfo
{
    /// <summary>The command name.</summary>
    public string Name { get; init; } = string.Empty;

    /// <summary>Whether the agent allows it.</summary>
    public bool Enabled { get; init; }

    /// <summary>Whether it answers on success.</summary>
    public bool SuccessResponse { get; init; }
}

/// <summary>The reply to <c>guest-get-osinfo</c>.</summary>
public sealed record GuestOsInfo
{
    /// <summary>The kernel release, e.g. "6.1.0-56-amd64".</summary>
    public string? KernelRelease { get; init; }

    /// <summary>The kernel version string.</summary>
    public string? KernelVersion { get; init; }

    /// <summary>The machine, e.g. "x86_64".</summary>
    public string? Machine { get; init; }

    /// <summary>The OS id (from os-release), e.g. "debian".</summary>
    public string? Id { get; init; }

    /// <summary>The OS name.</summary>
    public string? Name { get; init; }

    /// <summary>The OS's pretty name.</summary>
    public string? PrettyName { get; init; }

    /// <summary>The OS version.</summary>
    public string? Version { get; init; }

    /// <summary>Members this SDK version does not model.</summary>
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Other { get; set; }
}

/// <summary>The outcome of a program run in the guest with <see cref="GuestAgentClient.ExecAsync"/>.</summary>
/// <param name="Pid">The program's pid in the guest.</param>
/// <param name="ExitCode">Its exit code, or <see langword="null"/> when a signal ended it.</param>
/// <param name="Signal">The signal that ended it, if any.</param>
/// <param name="StandardOutput">Its standard output.</param>
/// <param name="StandardError">Its standard error.</param>
/// <param name="OutputTruncated">Whether the agent cut the output short (it keeps at most 16 MiB).</param>
public sealed record GuestExecResult(int Pid, int? ExitCode, int? Signal, byte[] StandardOutput, byte[] StandardError, bool OutputTruncated)
{
    /// <summary>Standard output decoded as UTF-8.</summary>
    public string StandardOutputText => System.Text.Encoding.UTF8.GetString(StandardOutput);

    /// <summary>Standard error decoded as UTF-8.</summary>
    public string StandardErrorText => System.Text.Encoding.UTF8.GetString(StandardError);
}

/// <summary>Whether the guest's filesystems are frozen.</summary>
public enum GuestFsFreezeStatus
{
    /// <summary>Thawed: writes proceed.</summary>
    Thawed,

    /// <summary>Frozen: writes block until thawed.</summary>
    Frozen,
}

/// <summary>How <see cref="GuestAgentClient.ShutdownAsync"/> ends the guest.</summary>
public enum GuestShutdownMode
{
    /// <summary>Power off.</summary>
    Powerdown,

    /// <summary>Halt without powering off.</summary>
    Halt,

    /// <summary>Reboot.</summary>
    Reboot,
}

/// <summary>Wire shapes of the guest agent (internal; the public API returns the records above).</summary>
internal sealed record SyncArguments(long Id);

internal sealed record ExecArguments(string Path, IReadOnlyList<string>? Arg, IReadOnlyList<string>? Env, string? InputData, bool CaptureOutput);

internal sealed record ExecStarted(int Pid);

internal sealed record PidArguments(int Pid);

internal sealed record ExecStatus(bool Exited, int? Exitcode, int? Signal, string? OutData, string? ErrData, bool? OutTruncated, bool? ErrTruncated);

internal sealed record ShutdownArguments(string Mode);

internal sealed record FileOpenArguments(string Path, string Mode);

internal sealed record HandleArguments(long Handle);

internal sealed record FileReadArguments(long Handle, int Count);

internal sealed record FileReadResult(int Count, string BufB64, bool Eof);

internal sealed record FileWriteArguments(long Handle, string BufB64);

internal sealed record FileWriteResult(int Count, bool Eof);
