namespace Virt.VirtualMachines;

/// <summary>A live snapshot of a VM: its disks and its RAM, stored inside its qcow2 disks.</summary>
/// <param name="Name">The snapshot's name.</param>
/// <param name="CreatedAt">When it was taken (host clock).</param>
/// <param name="VmStateBytes">The size of the saved RAM and device state.</param>
/// <param name="GuestClock">The guest's running time when it was taken.</param>
public sealed record VmSnapshot(string Name, DateTimeOffset CreatedAt, long VmStateBytes, TimeSpan GuestClock);

/// <summary>A snapshot could not be taken, loaded, listed or deleted; the VM and its disks are as they were.</summary>
public sealed class VmSnapshotException : VmException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="vmName">The VM.</param>
    /// <param name="operation">What was tried, e.g. "save".</param>
    /// <param name="snapshot">The snapshot's name.</param>
    /// <param name="reason">What went wrong, with the fix.</param>
    /// <param name="innerException">The underlying error, if any.</param>
    public VmSnapshotException(string vmName, string operation, string snapshot, string reason, Exception? innerException = null)
        : base(VirtErrorKind.Failed, $"VM '{vmName}': cannot {operation} snapshot '{snapshot}': {reason}", innerException)
    {
        VmName = vmName;
        Snapshot = snapshot;
    }

    /// <summary>The VM.</summary>
    public string VmName { get; }

    /// <summary>The snapshot's name.</summary>
    public string Snapshot { get; }
}
