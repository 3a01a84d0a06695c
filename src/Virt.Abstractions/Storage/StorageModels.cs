namespace Virt.Storage;

/// <summary>How a volume's bytes are stored.</summary>
public enum VolumeFormat
{
    /// <summary>A raw image (a file, a file in a btrfs subvolume, an RBD image).</summary>
    Raw,

    /// <summary>A qcow2 image: internal snapshots and backing files (linked clones).</summary>
    Qcow2,
}

/// <summary>What a pool may hold (Proxmox's content types).</summary>
[Flags]
public enum StorageContent
{
    /// <summary>Nothing.</summary>
    None = 0,

    /// <summary>VM disk images.</summary>
    Images = 1,

    /// <summary>Container root file systems.</summary>
    Rootdir = 2,

    /// <summary>ISO images.</summary>
    Iso = 4,

    /// <summary>Templates.</summary>
    Template = 8,

    /// <summary>Backups.</summary>
    Backup = 16,
}

/// <summary>What a storage driver can do.</summary>
[Flags]
public enum StorageCapabilities
{
    /// <summary>Nothing beyond create, resize, delete.</summary>
    None = 0,

    /// <summary>Snapshots with rollback.</summary>
    Snapshots = 1,

    /// <summary>Linked clones that share their base's blocks.</summary>
    LinkedClones = 2,

    /// <summary>Full clones that share blocks until written (reflink, subvolume snapshot, RBD clone).</summary>
    ReflinkClones = 4,

    /// <summary>Per-volume quotas.</summary>
    Quotas = 8,

    /// <summary>Reachable from more than one host.</summary>
    Shared = 16,
}

/// <summary>An operation a volume may or may not allow in its current state (Proxmox's <c>volume_has_feature</c>).</summary>
public enum VolumeFeature
{
    /// <summary>A full clone.</summary>
    Clone,

    /// <summary>A linked clone (the source stays as a base).</summary>
    LinkedClone,

    /// <summary>Taking a snapshot.</summary>
    Snapshot,

    /// <summary>Rolling back to a snapshot.</summary>
    Rollback,

    /// <summary>Growing it.</summary>
    Resize,
}

/// <summary>A new volume.</summary>
/// <param name="Name">Its name in the pool.</param>
/// <param name="SizeBytes">Its virtual size in bytes (a multiple of 512).</param>
public sealed record VolumeSpec(string Name, long SizeBytes)
{
    /// <summary>Its format. Default qcow2 where the pool supports it, raw otherwise.</summary>
    public VolumeFormat? Format { get; init; }

    /// <summary>What it holds. Default a VM image.</summary>
    public StorageContent Content { get; init; } = StorageContent.Images;
}

/// <summary>A volume as the pool sees it now.</summary>
/// <param name="Id">Its id.</param>
/// <param name="Format">Its format.</param>
/// <param name="CapacityBytes">Its virtual size.</param>
/// <param name="AllocationBytes">The bytes it really occupies (thin provisioning: often far less).</param>
/// <param name="Path">The file that holds it.</param>
/// <param name="BackingChain">The volumes it is a linked clone of, nearest first.</param>
/// <param name="Snapshots">Its snapshots, oldest first.</param>
public sealed record VolumeInfo(VolumeId Id, VolumeFormat Format, long CapacityBytes, long AllocationBytes, string Path, IReadOnlyList<VolumeId> BackingChain, IReadOnlyList<string> Snapshots);

/// <summary>A pool's space: what the file system has, and what its volumes promise (thin overcommit).</summary>
/// <param name="CapacityBytes">The file system's size.</param>
/// <param name="AvailableBytes">Free bytes on the file system.</param>
/// <param name="AllocatedBytes">Bytes the pool's volumes occupy.</param>
/// <param name="ProvisionedBytes">The sum of the volumes' virtual sizes.</param>
public sealed record StoragePoolStatus(long CapacityBytes, long AvailableBytes, long AllocatedBytes, long ProvisionedBytes)
{
    /// <summary>Provisioned over capacity: above 1 the pool promises more than it has.</summary>
    public double Overcommit => CapacityBytes == 0 ? 0 : (double)ProvisionedBytes / CapacityBytes;
}

/// <summary>Progress of a long storage operation.</summary>
/// <param name="Operation">What runs, e.g. "import".</param>
/// <param name="Percent">0–100.</param>
/// <param name="Completed">Whether this is the last report.</param>
public sealed record StorageProgress(string Operation, double Percent, bool Completed);

/// <summary>How a VM or container reaches a volume.</summary>
/// <param name="Id">The volume.</param>
/// <param name="Path">The file to open; for an RBD image, QEMU's legacy <c>rbd:pool/image:conf=…:id=…</c> filename.</param>
/// <param name="Format">Its format.</param>
public sealed record VolumeAttachment(VolumeId Id, string Path, VolumeFormat Format)
{
    /// <summary>Set for an RBD image: what QEMU's rbd block driver needs to open it directly (no kernel mapping).</summary>
    public RbdLocation? Rbd { get; init; }
}

/// <summary>An RBD image as QEMU's <c>-blockdev driver=rbd</c> names it.</summary>
/// <param name="Pool">The Ceph pool.</param>
/// <param name="Image">The image.</param>
/// <param name="ConfigPath">The Ceph configuration file.</param>
/// <param name="User">The Ceph client id.</param>
public sealed record RbdLocation(string Pool, string Image, string ConfigPath, string User);
