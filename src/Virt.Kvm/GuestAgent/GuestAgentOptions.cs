using System.Collections.Frozen;

namespace Virt.Kvm.GuestAgent;

/// <summary>Settings of a <see cref="GuestAgentClient"/>.</summary>
public sealed record GuestAgentOptions
{
    /// <summary>Per-command deadlines that differ from <see cref="DefaultTimeout"/>: freezing filesystems can take long on a busy guest.</summary>
    public static IReadOnlyDictionary<string, TimeSpan> DefaultCommandTimeouts { get; } = new Dictionary<string, TimeSpan>(StringComparer.Ordinal)
    {
        ["guest-fsfreeze-freeze"] = TimeSpan.FromHours(1),
        ["guest-fsfreeze-freeze-list"] = TimeSpan.FromHours(1),
        ["guest-fsfreeze-thaw"] = TimeSpan.FromMinutes(5),
        ["guest-file-read"] = TimeSpan.FromSeconds(30),
        ["guest-file-write"] = TimeSpan.FromSeconds(30),
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>The deadline for commands not in <see cref="CommandTimeouts"/>. Default 5 s.</summary>
    public TimeSpan DefaultTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Per-command deadlines. Default <see cref="DefaultCommandTimeouts"/>.</summary>
    public IReadOnlyDictionary<string, TimeSpan> CommandTimeouts { get; init; } = DefaultCommandTimeouts;

    /// <summary>The deadline for one resynchronization (<c>0xFF</c> + <c>guest-sync-delimited</c>). Default 2 s.</summary>
    public TimeSpan SyncTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>The largest reply accepted, in bytes. Default 16 MiB.</summary>
    public int MaxMessageSize { get; init; } = 16 * 1024 * 1024;

    /// <summary>The clock for deadlines.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>The deadline that applies to a command.</summary>
    /// <param name="command">The command name.</param>
    /// <returns>Its entry in <see cref="CommandTimeouts"/>, else <see cref="DefaultTimeout"/>.</returns>
    public TimeSpan GetTimeout(string command) => CommandTimeouts.TryGetValue(command, out var timeout) ? timeout : DefaultTimeout;
}
