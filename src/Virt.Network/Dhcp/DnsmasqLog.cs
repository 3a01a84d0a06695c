using Microsoft.Extensions.Logging;

namespace Virt.Network.Dhcp;

/// <summary>Log messages of the dnsmasq supervisor (event ids 6800–6899 of Virt.Network's range).</summary>
internal static partial class DnsmasqLog
{
    [LoggerMessage(6800, LogLevel.Information, "dnsmasq for network {Network} started (pid {Pid})")]
    public static partial void Started(ILogger logger, string network, int pid);

    [LoggerMessage(6801, LogLevel.Information, "dnsmasq for network {Network} (pid {Pid}) re-reads its hosts files (SIGHUP)")]
    public static partial void Reloaded(ILogger logger, string network, int pid);

    [LoggerMessage(6802, LogLevel.Information, "dnsmasq for network {Network} (pid {Pid}) restarts: its configuration changed")]
    public static partial void Restarting(ILogger logger, string network, int pid);

    [LoggerMessage(6803, LogLevel.Information, "dnsmasq for network {Network} (pid {Pid}) stopped")]
    public static partial void Stopped(ILogger logger, string network, int pid);

    [LoggerMessage(6804, LogLevel.Warning, "dnsmasq for network {Network}: pid {Pid} in {PidFile} is not its dnsmasq (a stale pid file); it is left alone")]
    public static partial void StalePid(ILogger logger, string network, int pid, string pidFile);

    [LoggerMessage(6805, LogLevel.Warning, "dnsmasq for network {Network} (pid {Pid}) did not exit on SIGTERM in time; killed")]
    public static partial void Killed(ILogger logger, string network, int pid);
}
