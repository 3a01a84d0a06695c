namespace Virt.Storage;

/// <summary>
/// A pool, as defined by the host application and persisted by the storage manager. One record per
/// driver — <see cref="DirPoolDefinition"/>, <see cref="BtrfsPoolDefinition"/>, <see cref="RbdPoolDefinition"/> —
/// each holding only what its driver uses; the set is closed (only these derive from it).
/// </summary>
public abstract record StoragePoolDefinition
{
    private protected StoragePoolDefinition(string name, string path)
    {
        Name = name;
        Path = path;
    }

    /// <summary>The pool's name (the part before ':' in volume ids).</summary>
    public string Name { get; init; }

    /// <summary>
    /// Where the pool keeps its volumes (a directory; for btrfs, on a btrfs file system). For rbd the images
    /// live in Ceph and this directory holds only this host's locks and in-use markers.
    /// </summary>
    public string Path { get; init; }

    /// <summary>The driver's name: "dir", "btrfs" or "rbd".</summary>
    public abstract string Driver { get; }

    /// <summary>What the pool may hold. Default images and container root file systems.</summary>
    public StorageContent Content { get; init; } = StorageContent.Images | StorageContent.Rootdir;
}

/// <summary>A pool of image files (qcow2 or raw) in a directory; full clones are reflinks where the file system has them.</summary>
/// <param name="Name">The pool's name.</param>
/// <param name="Path">The directory.</param>
public sealed record DirPoolDefinition(string Name, string Path) : StoragePoolDefinition(Name, Path)
{
    /// <inheritdoc/>
    public override string Driver => "dir";
}

/// <summary>A pool of btrfs subvolumes: snapshots and clones are subvolume snapshots.</summary>
/// <param name="Name">The pool's name.</param>
/// <param name="Path">A directory on a btrfs file system.</param>
public sealed record BtrfsPoolDefinition(string Name, string Path) : StoragePoolDefinition(Name, Path)
{
    /// <inheritdoc/>
    public override string Driver => "btrfs";

    /// <summary>
    /// Enable qgroups on the file system and limit each volume's subvolume to the volume's size, so a
    /// volume can never take more than it was given. Default off (qgroups cost some speed).
    /// </summary>
    public bool Quotas { get; init; }
}

/// <summary>A pool of Ceph RBD images.</summary>
/// <param name="Name">The pool's name.</param>
/// <param name="Path">This host's directory for the pool's locks and in-use markers.</param>
/// <param name="CephConfig">The Ceph configuration file (mon hosts, keyring).</param>
public sealed record RbdPoolDefinition(string Name, string Path, string CephConfig) : StoragePoolDefinition(Name, Path)
{
    /// <inheritdoc/>
    public override string Driver => "rbd";

    /// <summary>The Ceph pool holding the images. Default "rbd".</summary>
    public string RbdPool
    {
        get;

        // Definitions written before this record existed stored null for "the default".
        init => field = value ?? "rbd";
    } = "rbd";

    /// <summary>The Ceph client id (without "client."). Default "admin".</summary>
    public string CephUser
    {
        get;
        init => field = value ?? "admin";
    } = "admin";
}
