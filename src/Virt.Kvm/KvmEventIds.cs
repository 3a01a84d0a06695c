namespace Virt.Kvm;

/// <summary>
/// The event ids of Virt.Kvm's log messages (2000–2999), published so that log filters, alerts and dashboards can
/// name them; an id keeps its meaning across versions, and a retired id is not reused.
/// </summary>
public static class KvmEventIds
{
    /// <summary>Debug: <c>QMP {Endpoint}: connected to QEMU {Version} (oob {OutOfBand})</c></summary>
    public const int QmpConnected = 2000;

    /// <summary>Trace: <c>QMP {Endpoint} -&gt; {Message}</c></summary>
    public const int QmpSent = 2001;

    /// <summary>Trace: <c>QMP {Endpoint} &lt;- {Message}</c></summary>
    public const int QmpReceived = 2002;

    /// <summary>Debug: <c>QMP {Endpoint} event {EventName}: {Message}</c></summary>
    public const int QmpEvent = 2003;

    /// <summary>Warning: <c>QMP {Endpoint}: '{Command}' (id {Id}) timed out; a late reply will be discarded</c></summary>
    public const int QmpCommandTimedOut = 2004;

    /// <summary>Debug: <c>QMP {Endpoint}: discarded a reply with id {Id} that no caller waits for (timed out or cancelled)</c></summary>
    public const int QmpLateReplyDiscarded = 2005;

    /// <summary>Debug: <c>QMP {Endpoint}: connection closed: {Reason}</c></summary>
    public const int QmpClosed = 2006;

    /// <summary>Warning: <c>QMP {Endpoint}: ignored a second greeting</c></summary>
    public const int QmpUnexpectedGreeting = 2007;

    /// <summary>Debug: <c>Guest agent {Endpoint}: synchronized (token {Token})</c></summary>
    public const int AgentSynced = 2100;

    /// <summary>Trace: <c>Guest agent {Endpoint} -&gt; {Message}</c></summary>
    public const int AgentSent = 2101;

    /// <summary>Trace: <c>Guest agent {Endpoint} &lt;- {Message}</c></summary>
    public const int AgentReceived = 2102;

    /// <summary>Debug: <c>Guest agent {Endpoint}: '{Command}' timed out; the channel will be resynchronized</c></summary>
    public const int AgentTimedOut = 2103;

    /// <summary>Information: <c>Accelerator: {Accelerator} ({Reason})</c></summary>
    public const int AcceleratorChosen = 2200;

    /// <summary>Information: <c>VM {VmName}: QEMU started as pid {Pid}</c></summary>
    public const int VmSpawned = 2300;

    /// <summary>Debug: <c>VM {VmName}: QEMU pid {Pid} command line (secrets masked): {Arguments}</c></summary>
    public const int VmCommandLine = 2307;

    /// <summary>Information: <c>VM {VmName}: stopped ({Reason})</c></summary>
    public const int VmStopped = 2301;

    /// <summary>Information: <c>VM {VmName}: re-attached to QEMU pid {Pid}</c></summary>
    public const int VmReattached = 2302;

    /// <summary>Warning: <c>VM {VmName}: QEMU pid {Pid} exited while no manager was watching</c></summary>
    public const int VmFoundDead = 2303;

    /// <summary>Warning: <c>VM {VmName}: watching QEMU failed: {Reason}</c></summary>
    public const int VmWatchFailed = 2304;

    /// <summary>Information: <c>VM {VmName}: live-migrated on this host from QEMU pid {SourcePid} to pid {DestinationPid}</c></summary>
    public const int VmMigrated = 2305;

    /// <summary>Warning: <c>VM {VmName}: giving its host devices back failed; ReleaseAsync(\"vm:{VmName}\") on the passthrough manager retries from its journal</c></summary>
    public const int HostDeviceReleaseFailed = 2306;

    /// <summary>Information: <c>VM {VmName}: following QEMU pid {Pid}, owned by {Owner} (commands go through its control monitor)</c></summary>
    public const int VmFollowed = 2308;

    /// <summary>Warning: <c>VM {VmName}: releasing its network ports failed; ReleaseAsync(\"vm:{VmName}\") on the network manager retries</c></summary>
    public const int NetworkPortReleaseFailed = 2309;

    /// <summary>Warning: <c>VM {VmName}: refused a migration stream from {Peer}: {Reason} (the ticket stays usable until it expires)</c></summary>
    public const int MigrationTicketRefused = 2310;

    /// <summary>Warning: <c>VM {VmName}: receiving it from another host failed ({Reason}); its QEMU, taps, ports, volumes and record were removed</c></summary>
    public const int IncomingMigrationFailed = 2311;

    /// <summary>Information: <c>VM {VmName}: arrived from {SourceHost} and runs here (QEMU pid {Pid})</c></summary>
    public const int VmArrived = 2312;

    /// <summary>Information: <c>VM {VmName}: now runs on {DestinationHost}; this host's QEMU ended and its record was removed</c></summary>
    public const int VmMigratedAway = 2313;

    /// <summary>Error: <c>VM {VmName}: the NBD export {Export} of a copied disk is still open after the migration ({Reason}); a client of the hosts' CA could write to the running VM's disk: remove it (block-export-del) or restart the VM</c></summary>
    public const int CopyExportLeftOpen = 2314;

    /// <summary>Warning: <c>VM {VmName}: the volume {Volume} made for (or left by) a copy between hosts was not deleted ({Reason}); delete it by hand</c></summary>
    public const int CopiedVolumeNotDeleted = 2315;

    /// <summary>Warning: <c>VM {VmName}: a receive from another host that never arrived was found after its process ended, its QEMU gone; its definition, directory and {Volumes} volume(s) made for copied disks were removed (the VM is still the source's)</c></summary>
    public const int UnarrivedReceiveDiscarded = 2316;

    /// <summary>Error: <c>VM {VmName}: QEMU has the whole VM from the other host, but resuming it here failed ({Reason}); it stays here as it is (its copy is the VM's now): resume or restart it</c></summary>
    public const int ArrivedNotResumed = 2317;

    /// <summary>Warning: <c>VM {VmName}: stopped following a receive found after its process ended ({Reason}); if QEMU still runs, its state shows whether the VM arrived</c></summary>
    public const int UnwatchedReceiveNotFollowed = 2318;
}
