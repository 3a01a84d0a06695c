namespace Virt.Storage.Hosting;

/// <summary>Options of the storage backend.</summary>
public sealed class StorageOptions
{
    /// <summary>Where pool definitions are kept. Default <c>/var/lib/virt/storage</c>.</summary>
    public string StateDirectory { get; set; } = "/var/lib/virt/storage";

    /// <summary>How long an operation waits for another one holding the same volume. Default 30 s.</summary>
    public TimeSpan LockTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The qemu-img binary. Default <c>qemu-img</c> on PATH (Debian's qemu-utils).</summary>
    public string QemuImgPath { get; set; } = "qemu-img";

    /// <summary>Ceph's rbd binary. Default <c>rbd</c> on PATH (Debian's ceph-common).</summary>
    public string RbdPath { get; set; } = "rbd";

    /// <summary>Ceph's ceph binary (for <c>ceph df</c>). Default <c>ceph</c> on PATH (Debian's ceph-common).</summary>
    public string CephPath { get; set; } = "ceph";

    /// <summary>The btrfs binary. Default <c>btrfs</c> on PATH (Debian's btrfs-progs).</summary>
    public string BtrfsPath { get; set; } = "btrfs";

    /// <summary>
    /// How long a fenced Ceph client stays on the cluster's blocklist (<c>IVolumeLocks.BreakLockAsync(volume, fence: true)</c>):
    /// long enough that a hung host cannot come back and write. Default 7 days; <c>ceph osd blocklist rm</c> lifts it earlier.
    /// </summary>
    public TimeSpan FenceDuration { get; set; } = TimeSpan.FromDays(7);
}
