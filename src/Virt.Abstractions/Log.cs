using Microsoft.Extensions.Logging;

namespace Virt;

/// <summary>Log messages of Virt.Abstractions (event ids, listed in <see cref="VirtEventIds"/>: 1000–1999).</summary>
internal static partial class Log
{
    [LoggerMessage(VirtEventIds.ProcessStarted, LogLevel.Debug, "Started '{CommandLine}' as pid {Pid}")]
    public static partial void ProcessStarted(ILogger logger, string commandLine, int pid);

    [LoggerMessage(VirtEventIds.ProcessExited, LogLevel.Debug, "'{CommandLine}' exited with code {ExitCode} after {ElapsedMs:0.#} ms")]
    public static partial void ProcessExited(ILogger logger, string commandLine, int exitCode, double elapsedMs);
}
