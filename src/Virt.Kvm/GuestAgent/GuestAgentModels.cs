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

internal sealed record NetworkInterfaceWire(string Name, string? HardwareAddress, IReadOnlyList<IpAddressWire>? IpAddresses);

internal sealed record IpAddressWire(string IpAddressType, string IpAddress, int Prefix);
