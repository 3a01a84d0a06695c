using Microsoft.Extensions.Logging;

namespace Virt.Lxc;

/// <summary>The LXC backend's log messages (event ids, listed in <see cref="LxcEventIds"/>: 4000–4099).</summary>
internal static partial class Log
{
    [LoggerMessage(LxcEventIds.Started, LogLevel.Information, "container {Name}: started (init pid {Pid}) in {Milliseconds:0} ms")]
    public static partial void Started(ILogger logger, string name, int pid, double milliseconds);

    [LoggerMessage(LxcEventIds.Stopped, LogLevel.Information, "container {Name}: stopped")]
    public static partial void Stopped(ILogger logger, string name);

    [LoggerMessage(LxcEventIds.LimitsIgnored, LogLevel.Warning, "container {Name}: limits not in effect, running anyway (LxcOptions.LimitEnforcement = Warn): {Mismatches}")]
    public static partial void LimitsIgnored(ILogger logger, string name, string mismatches);

    [LoggerMessage(LxcEventIds.Created, LogLevel.Information, "container {Name}: created from {Source}")]
    public static partial void Created(ILogger logger, string name, string source);

    [LoggerMessage(LxcEventIds.Deleted, LogLevel.Information, "container {Name}: deleted")]
    public static partial void Deleted(ILogger logger, string name);

    [LoggerMessage(LxcEventIds.LeftoversRemoved, LogLevel.Warning, "container {Name}: removed what a previous run left behind: {What}")]
    public static partial void LeftoversRemoved(ILogger logger, string name, string what);

    [LoggerMessage(LxcEventIds.NetworkPortReleaseFailed, LogLevel.Warning, "container {Name}: releasing its network ports failed; ReleaseAsync(\"ct:{Name}\") on the network manager retries")]
    public static partial void NetworkPortReleaseFailed(ILogger logger, Exception exception, string name);
}
