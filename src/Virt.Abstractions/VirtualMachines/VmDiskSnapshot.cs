namespace Virt.VirtualMachines;

/// <summary>A disk-only (external) snapshot: the disk's image was frozen as the backing file of a new overlay.</summary>
/// <param name="DiskId">The disk.</param>
/// <param name="BackingPath">The image that now holds the state at the snapshot (read-only from here on).</param>
/// <param name="OverlayPath">The new qcow2 overlay the VM writes to.</param>
/// <param name="FileSystemsFrozen">Whether the guest agent froze the guest's file systems around it (a consistent snapshot); false without an agent.</param>
public sealed record VmDiskSnapshot(string DiskId, string BackingPath, string OverlayPath, bool FileSystemsFrozen);

/// <summary>Progress of a block job (commit, mirror) as QEMU reports it.</summary>
/// <param name="JobId">The job.</param>
/// <param name="Status">QEMU's status: running, ready, concluded...</param>
/// <param name="Offset">Bytes done.</param>
/// <param name="Length">Bytes to do (may grow while the guest writes).</param>
public sealed record VmBlockJobProgress(string JobId, string Status, long Offset, long Length)
{
    /// <summary>Whether this is the last report of a finished job.</summary>
    public bool Completed => Status == "completed";
}
