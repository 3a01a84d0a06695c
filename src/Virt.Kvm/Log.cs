using Microsoft.Extensions.Logging;

namespace Virt.Kvm;

/// <summary>Log messages of Virt.Kvm (event ids 2000–2999). The QMP transcript is at Trace, events at Debug; secrets are masked.</summary>
internal static partial class Log
{
    [LoggerMessage(2000, LogLevel.Debug, "QMP {Endpoint}: connected to QEMU {Version} (oob {OutOfBand})")]
    public static partial void QmpConnected(ILogger logger, string endpoint, string version, bool outOfBand);

    [LoggerMessage(2001, LogLevel.Trace, "QMP {Endpoint} -> {Message}")]
    public static partial void QmpSent(ILogger logger, string endpoint, string message);

    [LoggerMessage(2002, LogLevel.Trace, "QMP {Endpoint} <- {Message}")]
    public static partial void QmpReceived(ILogger logger, string endpoint, string message);

    [LoggerMessage(2003, LogLevel.Debug, "QMP {Endpoint} event {EventName}: {Message}")]
    public static partial void QmpEvent(ILogger logger, string endpoint, string eventName, string message);

    [LoggerMessage(2004, LogLevel.Warning, "QMP {Endpoint}: '{Command}' (id {Id}) timed out; a late reply will be discarded")]
    public static partial void QmpCommandTimedOut(ILogger logger, string endpoint, string command, long id);

    [LoggerMessage(2005, LogLevel.Debug, "QMP {Endpoint}: discarded a reply with id {Id} that no caller waits for (timed out or cancelled)")]
    public static partial void QmpLateReplyDiscarded(ILogger logger, string endpoint, string id);

    [LoggerMessage(2006, LogLevel.Debug, "QMP {Endpoint}: connection closed: {Reason}")]
    public static partial void QmpClosed(ILogger logger, string endpoint, string reason);

    [LoggerMessage(2007, LogLevel.Warning, "QMP {Endpoint}: ignored a second greeting")]
    public static partial void QmpUnexpectedGreeting(ILogger logger, string endpoint);

    [LoggerMessage(2100, LogLevel.Debug, "Guest agent {Endpoint}: synchronized (token {Token})")]
    public static partial void AgentSynced(ILogger logger, string endpoint, long token);

    [LoggerMessage(2101, LogLevel.Trace, "Guest agent {Endpoint} -> {Message}")]
    public static partial void AgentSent(ILogger logger, string endpoint, string message);

    [LoggerMessage(2102, LogLevel.Trace, "Guest agent {Endpoint} <- {Message}")]
    public static partial void AgentReceived(ILogger logger, string endpoint, string message);

    [LoggerMessage(2103, LogLevel.Debug, "Guest agent {Endpoint}: '{Command}' timed out; the channel will be resynchronized")]
    public static partial void AgentTimedOut(ILogger logger, string endpoint, string command);

    [LoggerMessage(2200, LogLevel.Information, "Accelerator: {Accelerator} ({Reason})")]
    public static partial void AcceleratorChosen(ILogger logger, string accelerator, string reason);

    [LoggerMessage(2300, LogLevel.Information, "VM {VmName}: QEMU started as pid {Pid}")]
    public static partial void VmSpawned(ILogger logger, string vmName, int pid);

    /// <summary>The argv, at Debug only, with secrets masked by <see cref="VirtualMachines.QemuArgumentMasker"/>.</summary>
    [LoggerMessage(2307, LogLevel.Debug, "VM {VmName}: QEMU pid {Pid} command line (secrets masked): {Arguments}")]
    public static partial void VmCommandLine(ILogger logger, string vmName, int pid, string arguments);

    [LoggerMessage(2301, LogLevel.Information, "VM {VmName}: stopped ({Reason})")]
    public static partial void VmStopped(ILogger logger, string vmName, string reason);

    [LoggerMessage(2302, LogLevel.Information, "VM {VmName}: re-attached to QEMU pid {Pid}")]
    public static partial void VmReattached(ILogger logger, string vmName, int pid);

    [LoggerMessage(2308, LogLevel.Information, "VM {VmName}: following QEMU pid {Pid}, owned by {Owner} (commands go through its control monitor)")]
    public static partial void VmFollowed(ILogger logger, string vmName, int pid, string owner);

    [LoggerMessage(2303, LogLevel.Warning, "VM {VmName}: QEMU pid {Pid} exited while no manager was watching")]
    public static partial void VmFoundDead(ILogger logger, string vmName, int pid);

    [LoggerMessage(2304, LogLevel.Warning, "VM {VmName}: watching QEMU failed: {Reason}")]
    public static partial void VmWatchFailed(ILogger logger, string vmName, string reason);

    [LoggerMessage(2305, LogLevel.Information, "VM {VmName}: live-migrated on this host from QEMU pid {SourcePid} to pid {DestinationPid}")]
    public static partial void VmMigrated(ILogger logger, string vmName, int sourcePid, int destinationPid);

    [LoggerMessage(2306, LogLevel.Warning, "VM {VmName}: giving its host devices back failed; ReleaseAsync(\"vm:{VmName}\") on the passthrough manager retries from its journal")]
    public static partial void HostDeviceReleaseFailed(ILogger logger, Exception exception, string vmName);
}
