using Microsoft.Extensions.Logging;

namespace Virt;

/// <summary>Log messages of Virt.Abstractions (event ids 1000–1999).</summary>
internal static partial class Log
{
    [LoggerMessage(1000, LogLevel.Debug, "Started '{CommandLine}' as pid {Pid}")]
    public static partial void ProcessStarted(ILogger logger, string commandLine, int pid);

    [LoggerMessage(1001, LogLevel.Debug, "'{CommandLine}' exited with code {ExitCode} after {ElapsedMs:0.#} ms")]
    public static partial void ProcessExited(ILogger logger, string commandLine, int exitCode, double elapsedMs);
}
