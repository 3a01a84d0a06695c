namespace Virt;

/// <summary>
/// The event ids of Virt.Abstractions's log messages (1000–1999), published so that log filters, alerts and dashboards can
/// name them; an id keeps its meaning across versions, and a retired id is not reused.
/// </summary>
public static class VirtEventIds
{
    /// <summary>Debug: <c>Started '{CommandLine}' as pid {Pid}</c></summary>
    public const int ProcessStarted = 1000;

    /// <summary>Debug: <c>'{CommandLine}' exited with code {ExitCode} after {ElapsedMs:0.#} ms</c></summary>
    public const int ProcessExited = 1001;
}
