using System.Collections.Frozen;

namespace Virt.Kvm.Qmp;

/// <summary>Settings of a <see cref="QmpClient"/>.</summary>
public sealed record QmpClientOptions
{
    /// <summary>
    /// Per-command deadlines that differ from <see cref="DefaultTimeout"/>, after Proxmox's measured
    /// table: device and block-node changes and <c>quit</c> can take a minute on a busy host, and
    /// migration queries and filesystem freezes can take much longer.
    /// </summary>
    public static IReadOnlyDictionary<string, TimeSpan> DefaultCommandTimeouts { get; } = new Dictionary<string, TimeSpan>(StringComparer.Ordinal)
    {
        ["device_add"] = TimeSpan.FromSeconds(60),
        ["device_del"] = TimeSpan.FromSeconds(60),
        ["blockdev-add"] = TimeSpan.FromSeconds(60),
        ["blockdev-del"] = TimeSpan.FromSeconds(60),
        ["quit"] = TimeSpan.FromSeconds(60),
        ["human-monitor-command"] = TimeSpan.FromSeconds(60),
        ["snapshot-save"] = TimeSpan.FromMinutes(10),
        ["snapshot-load"] = TimeSpan.FromMinutes(10),
        ["snapshot-delete"] = TimeSpan.FromMinutes(10),
        ["blockdev-snapshot-sync"] = TimeSpan.FromMinutes(10),
        ["block-commit"] = TimeSpan.FromMinutes(10),
        ["blockdev-mirror"] = TimeSpan.FromMinutes(10),
        ["drive-mirror"] = TimeSpan.FromMinutes(10),
        ["blockdev-backup"] = TimeSpan.FromMinutes(10),
        ["query-migrate"] = TimeSpan.FromHours(1),
        ["migrate"] = TimeSpan.FromHours(1),
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>The deadline for commands not in <see cref="CommandTimeouts"/>. Default 5 s.</summary>
    public TimeSpan DefaultTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Per-command deadlines. Default <see cref="DefaultCommandTimeouts"/>.</summary>
    public IReadOnlyDictionary<string, TimeSpan> CommandTimeouts { get; init; } = DefaultCommandTimeouts;

    /// <summary>The deadline for the greeting plus <c>qmp_capabilities</c>. Default 10 s.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The largest message accepted from QEMU, in bytes; a larger one closes the connection. Default 16 MiB.</summary>
    public int MaxMessageSize { get; init; } = 16 * 1024 * 1024;

    /// <summary>Whether to enable out-of-band execution when the server offers it. Default true.</summary>
    public bool EnableOutOfBand { get; init; } = true;

    /// <summary>The clock for deadlines (replace it in tests).</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>
    /// Fetch the QEMU's <c>query-qmp-schema</c> at connect (once per QEMU build in this process) and
    /// refuse, before sending, a command it does not have or a raw argument its command does not
    /// take, with <see cref="QmpUnsupportedException"/>. Default false.
    /// </summary>
    public bool CheckCommandsAgainstSchema { get; init; }

    /// <summary>
    /// The QEMU binary known to serve the monitor, where the socket cannot tell: the VM manager hands QEMU
    /// a socket it listened on itself, so SO_PEERCRED names this process, not QEMU. Keys the shared schema
    /// cache (<see cref="CheckCommandsAgainstSchema"/>), so every VM of one binary shares one parsed schema.
    /// </summary>
    internal string? ServingBinary { get; init; }

    /// <summary>The oldest QEMU accepted. Default 6.0, the first with <c>snapshot-save</c> and without the removed pre-6.0 commands.</summary>
    public Version MinimumQemuVersion { get; init; } = new(6, 0);

    /// <summary>The deadline that applies to a command.</summary>
    /// <param name="command">The command name.</param>
    /// <returns>Its entry in <see cref="CommandTimeouts"/>, else <see cref="DefaultTimeout"/>.</returns>
    public TimeSpan GetTimeout(string command) => CommandTimeouts.TryGetValue(command, out var timeout) ? timeout : DefaultTimeout;

    internal void Validate()
    {
        if (DefaultTimeout <= TimeSpan.Zero && DefaultTimeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentException($"QmpClientOptions.DefaultTimeout must be positive or Timeout.InfiniteTimeSpan, not {DefaultTimeout}", nameof(DefaultTimeout));
        }

        if (HandshakeTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException($"QmpClientOptions.HandshakeTimeout must be positive, not {HandshakeTimeout}", nameof(HandshakeTimeout));
        }

        if (MaxMessageSize < 4096)
        {
            throw new ArgumentException($"QmpClientOptions.MaxMessageSize must be at least 4096 bytes, not {MaxMessageSize}", nameof(MaxMessageSize));
        }
    }
}
