using Microsoft.Extensions.Logging;

namespace Virt.Kvm;

/// <summary>Log messages of Virt.Kvm (event ids, listed in <see cref="KvmEventIds"/>: 2000–2999). The QMP transcript is at Trace, events at Debug; secrets are masked.</summary>
internal static partial class Log
{
    [LoggerMessage(KvmEventIds.QmpConnected, LogLevel.Debug, "QMP {Endpoint}: connected to QEMU {Version} (oob {OutOfBand})")]
    public static partial void QmpConnected(ILogger logger, string endpoint, string version, bool outOfBand);

    [LoggerMessage(KvmEventIds.QmpSent, LogLevel.Trace, "QMP {Endpoint} -> {Message}")]
    public static partial void QmpSent(ILogger logger, string endpoint, string message);

    [LoggerMessage(KvmEventIds.QmpReceived, LogLevel.Trace, "QMP {Endpoint} <- {Message}")]
    public static partial void QmpReceived(ILogger logger, string endpoint, string message);

    [LoggerMessage(KvmEventIds.QmpEvent, LogLevel.Debug, "QMP {Endpoint} event {EventName}: {Message}")]
    public static partial void QmpEvent(ILogger logger, string endpoint, string eventName, string message);

    [LoggerMessage(KvmEventIds.QmpCommandTimedOut, LogLevel.Warning, "QMP {Endpoint}: '{Command}' (id {Id}) timed out; a late reply will be discarded")]
    public static partial void QmpCommandTimedOut(ILogger logger, string endpoint, string command, long id);

    [LoggerMessage(KvmEventIds.QmpLateReplyDiscarded, LogLevel.Debug, "QMP {Endpoint}: discarded a reply with id {Id} that no caller waits for (timed out or cancelled)")]
    public static partial void QmpLateReplyDiscarded(ILogger logger, string endpoint, string id);

    [LoggerMessage(KvmEventIds.QmpClosed, LogLevel.Debug, "QMP {Endpoint}: connection closed: {Reason}")]
    public static partial void QmpClosed(ILogger logger, string endpoint, string reason);

    [LoggerMessage(KvmEventIds.QmpUnexpectedGreeting, LogLevel.Warning, "QMP {Endpoint}: ignored a second greeting")]
    public static partial void QmpUnexpectedGreeting(ILogger logger, string endpoint);

    [LoggerMessage(KvmEventIds.AgentSynced, LogLevel.Debug, "Guest agent {Endpoint}: synchronized (token {Token})")]
    public static partial void AgentSynced(ILogger logger, string endpoint, long token);

    [LoggerMessage(KvmEventIds.AgentSent, LogLevel.Trace, "Guest agent {Endpoint} -> {Message}")]
    public static partial void AgentSent(ILogger logger, string endpoint, string message);

    [LoggerMessage(KvmEventIds.AgentReceived, LogLevel.Trace, "Guest agent {Endpoint} <- {Message}")]
    public static partial void AgentReceived(ILogger logger, string endpoint, string message);

    [LoggerMessage(KvmEventIds.AgentTimedOut, LogLevel.Debug, "Guest agent {Endpoint}: '{Command}' timed out; the channel will be resynchronized")]
    public static partial void AgentTimedOut(ILogger logger, string endpoint, string command);

    [LoggerMessage(KvmEventIds.AcceleratorChosen, LogLevel.Information, "Accelerator: {Accelerator} ({Reason})")]
    public static partial void AcceleratorChosen(ILogger logger, string accelerator, string reason);

    [LoggerMessage(KvmEventIds.VmSpawned, LogLevel.Information, "VM {VmName}: QEMU started as pid {Pid}")]
    public static partial void VmSpawned(ILogger logger, string vmName, int pid);

    /// <summary>The argv, at Debug only, with secrets masked by <see cref="VirtualMachines.QemuArgumentMasker"/>.</summary>
    [LoggerMessage(KvmEventIds.VmCommandLine, LogLevel.Debug, "VM {VmName}: QEMU pid {Pid} command line (secrets masked): {Arguments}")]
    public static partial void VmCommandLine(ILogger logger, string vmName, int pid, string arguments);

    [LoggerMessage(KvmEventIds.VmStopped, LogLevel.Information, "VM {VmName}: stopped ({Reason})")]
    public static partial void VmStopped(ILogger logger, string vmName, string reason);

    [LoggerMessage(KvmEventIds.VmReattached, LogLevel.Information, "VM {VmName}: re-attached to QEMU pid {Pid}")]
    public static partial void VmReattached(ILogger logger, string vmName, int pid);

    [LoggerMessage(KvmEventIds.VmFollowed, LogLevel.Information, "VM {VmName}: following QEMU pid {Pid}, owned by {Owner} (commands go through its control monitor)")]
    public static partial void VmFollowed(ILogger logger, string vmName, int pid, string owner);

    [LoggerMessage(KvmEventIds.VmFoundDead, LogLevel.Warning, "VM {VmName}: QEMU pid {Pid} exited while no manager was watching")]
    public static partial void VmFoundDead(ILogger logger, string vmName, int pid);

    [LoggerMessage(KvmEventIds.VmWatchFailed, LogLevel.Warning, "VM {VmName}: watching QEMU failed: {Reason}")]
    public static partial void VmWatchFailed(ILogger logger, string vmName, string reason);

    [LoggerMessage(KvmEventIds.VmMigrated, LogLevel.Information, "VM {VmName}: live-migrated on this host from QEMU pid {SourcePid} to pid {DestinationPid}")]
    public static partial void VmMigrated(ILogger logger, string vmName, int sourcePid, int destinationPid);

    [LoggerMessage(KvmEventIds.MigrationTicketRefused, LogLevel.Warning, "VM {VmName}: refused a migration stream from {Peer}: {Reason} (the ticket stays usable until it expires)")]
    public static partial void MigrationTicketRefused(ILogger logger, string vmName, string peer, string reason);

    [LoggerMessage(KvmEventIds.IncomingMigrationFailed, LogLevel.Warning, "VM {VmName}: receiving it from another host failed ({Reason}); its QEMU, taps, ports, volumes and record were removed")]
    public static partial void IncomingMigrationFailed(ILogger logger, string vmName, string reason);

    [LoggerMessage(KvmEventIds.UnarrivedReceiveDiscarded, LogLevel.Warning, "VM {VmName}: a receive from another host that never arrived was found after its process ended, its QEMU gone; its definition, directory and {Volumes} volume(s) made for copied disks were removed (the VM is still the source's)")]
    public static partial void UnarrivedReceiveDiscarded(ILogger logger, string vmName, int volumes);

    [LoggerMessage(KvmEventIds.ArrivedNotResumed, LogLevel.Error, "VM {VmName}: QEMU has the whole VM from the other host, but resuming it here failed ({Reason}); it stays here as it is (its copy is the VM's now): resume or restart it")]
    public static partial void ArrivedNotResumed(ILogger logger, string vmName, string reason);

    [LoggerMessage(KvmEventIds.UnwatchedReceiveNotFollowed, LogLevel.Warning, "VM {VmName}: stopped following a receive found after its process ended ({Reason}); if QEMU still runs, its state shows whether the VM arrived")]
    public static partial void UnwatchedReceiveNotFollowed(ILogger logger, string vmName, string reason);

    [LoggerMessage(KvmEventIds.CopyExportLeftOpen, LogLevel.Error, "VM {VmName}: the NBD export {Export} of a copied disk is still open after the migration ({Reason}); a client of the hosts' CA could write to the running VM's disk: remove it (block-export-del) or restart the VM")]
    public static partial void CopyExportLeftOpen(ILogger logger, string vmName, string export, string reason);

    [LoggerMessage(KvmEventIds.VmArrived, LogLevel.Information, "VM {VmName}: arrived from {SourceHost} and runs here (QEMU pid {Pid})")]
    public static partial void VmArrived(ILogger logger, string vmName, string sourceHost, int pid);

    [LoggerMessage(KvmEventIds.VmMigratedAway, LogLevel.Information, "VM {VmName}: now runs on {DestinationHost}; this host's QEMU ended and its record was removed")]
    public static partial void VmMigratedAway(ILogger logger, string vmName, string destinationHost);

    [LoggerMessage(KvmEventIds.CopiedVolumeNotDeleted, LogLevel.Warning, "VM {VmName}: the volume {Volume} made for (or left by) a copy between hosts was not deleted ({Reason}); delete it by hand")]
    public static partial void CopiedVolumeNotDeleted(ILogger logger, string vmName, string volume, string reason);

    [LoggerMessage(KvmEventIds.HostDeviceReleaseFailed, LogLevel.Warning, "VM {VmName}: giving its host devices back failed; ReleaseAsync(\"vm:{VmName}\") on the passthrough manager retries from its journal")]
    public static partial void HostDeviceReleaseFailed(ILogger logger, Exception exception, string vmName);

    [LoggerMessage(KvmEventIds.NetworkPortReleaseFailed, LogLevel.Warning, "VM {VmName}: releasing its network ports failed; ReleaseAsync(\"vm:{VmName}\") on the network manager retries")]
    public static partial void NetworkPortReleaseFailed(ILogger logger, Exception exception, string vmName);
}
