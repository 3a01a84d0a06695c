using Microsoft.Extensions.Logging;

namespace Virt.Lxc;

/// <summary>The LXC backend's log messages (event ids 4000–4099).</summary>
internal static partial class Log
{
    [LoggerMessage(4000, LogLevel.Information, "container {Name}: started (init pid {Pid}) in {Milliseconds:0} ms")]
    public static partial void Started(ILogger logger, string name, int pid, double milliseconds);

    [LoggerMessage(4001, LogLevel.Information, "container {Name}: stopped")]
    public static partial void Stopped(ILogger logger, string name);

    [LoggerMessage(4002, LogLevel.Warning, "container {Name}: limits not in effect, running anyway (LxcOptions.LimitEnforcement = Warn): {Mismatches}")]
    public static partial void LimitsIgnored(ILogger logger, string name, string mismatches);

    [LoggerMessage(4003, LogLevel.Information, "container {Name}: created from {Source}")]
    public static partial void Created(ILogger logger, string name, string source);

    [LoggerMessage(4004, LogLevel.Information, "container {Name}: deleted")]
    public static partial void Deleted(ILogger logger, string name);

    [LoggerMessage(4005, LogLevel.Warning, "container {Name}: removed what a previous run left behind: {What}")]
    public static partial void LeftoversRemoved(ILogger logger, string name, string what);
}
