namespace Virt.VirtualMachines;

/// <summary>A disk image attached to the VM.</summary>
/// <param name="Id">The device id (also the block node name): 1–31 characters of <c>a-z 0-9 _ -</c>, starting with a letter.</param>
/// <param name="Path">
/// The image file (an absolute path), or a storage volume as <c>pool:name</c> (Proxmox's form, e.g.
/// <c>local:vm-100-disk-0</c>), which the KVM backend resolves through <see cref="Virt.Storage.IVolumeResolver"/>
/// at each start and marks in use while the VM runs; its format then comes from the volume.
/// </param>
public sealed record VmDisk(string Id, string Path)
{
    /// <summary>The image format. Default qcow2.</summary>
    public VmDiskFormat Format { get; init; } = VmDiskFormat.Qcow2;

    /// <summary>The bus the guest sees. Default virtio-blk.</summary>
    public VmDiskBus Bus { get; init; } = VmDiskBus.VirtioBlk;

    /// <summary>The host cache mode. Default <see cref="VmDiskCache.None"/> (O_DIRECT), safe for live migration.</summary>
    public VmDiskCache Cache { get; init; } = VmDiskCache.None;

    /// <summary>Whether the guest may only read.</summary>
    public bool ReadOnly { get; init; }

    /// <summary>Boot order (lower first); <see langword="null"/> does not boot from it.</summary>
    public int? BootIndex { get; init; }
}

/// <summary>A CD-ROM drive with an ISO image (read-only).</summary>
/// <param name="Id">The device id.</param>
/// <param name="IsoPath">The ISO image (an absolute path).</param>
public sealed record VmCdrom(string Id, string IsoPath)
{
    /// <summary>Boot order; <see langword="null"/> does not boot from it.</summary>
    public int? BootIndex { get; init; }
}

/// <summary>Disk image formats.</summary>
public enum VmDiskFormat
{
    /// <summary>QEMU copy-on-write v2.</summary>
    Qcow2,

    /// <summary>A raw image.</summary>
    Raw,
}

/// <summary>Disk buses.</summary>
public enum VmDiskBus
{
    /// <summary>virtio-blk (fastest; <c>/dev/vdX</c>).</summary>
    VirtioBlk,

    /// <summary>virtio-scsi (<c>/dev/sdX</c>, many disks, discard).</summary>
    VirtioScsi,

    /// <summary>SATA through AHCI (for guests without virtio drivers).</summary>
    Sata,
}

/// <summary>Host cache modes, as QEMU names them.</summary>
public enum VmDiskCache
{
    /// <summary>O_DIRECT, guest flushes honoured.</summary>
    None,

    /// <summary>Host page cache, guest flushes honoured.</summary>
    Writeback,

    /// <summary>Host page cache, every write flushed.</summary>
    Writethrough,

    /// <summary>O_DIRECT and every write flushed.</summary>
    DirectSync,

    /// <summary>Host page cache, flushes ignored: fast and unsafe on host crash.</summary>
    Unsafe,
}
