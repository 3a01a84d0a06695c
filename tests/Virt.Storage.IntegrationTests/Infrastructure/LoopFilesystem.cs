namespace Virt.Storage.IntegrationTests.Infrastructure;

/// <summary>
/// A file system on a sparse image file, attached to a loop device and mounted under /tmp: created by
/// the fixture and removed by it (unmount, detach, delete) — by the mount point and device it made.
/// </summary>
internal sealed class LoopFilesystem : IDisposable
{
    private readonly string _image;
    private readonly string _device;

    private LoopFilesystem(string image, string device, string mountPoint)
    {
        _image = image;
        _device = device;
        MountPoint = mountPoint;
    }

    public string MountPoint { get; }

    /// <summary>xfs with reflink (mkfs.xfs -m reflink=1) or btrfs, on an image of <paramref name="sizeGiB"/> GiB.</summary>
    public static LoopFilesystem Create(string kind, int sizeGiB = 12)
    {
        HostRequirement.RequireTool(kind == "btrfs" ? "mkfs.btrfs" : "mkfs.xfs", kind == "btrfs" ? "btrfs-progs" : "xfsprogs");
        HostRequirement.RequireTool("losetup", "mount");
        var id = Guid.NewGuid().ToString("N")[..8];
        var image = $"/tmp/vs-{kind}-{id}.img";
        using (var file = File.Create(image))
        {
            file.SetLength((long)sizeGiB << 30);
        }

        if (kind == "btrfs")
        {
            Host.Run("mkfs.btrfs", "-q", image);
        }
        else
        {
            Host.Run("mkfs.xfs", "-q", "-m", "reflink=1", image);
        }

        var device = Host.Run("losetup", "-f", "--show", image).Trim();
        var mountPoint = $"/tmp/vs-{kind}-{id}";
        Directory.CreateDirectory(mountPoint);
        Host.Run("mount", device, mountPoint);
        return new LoopFilesystem(image, device, mountPoint);
    }

    public void Dispose()
    {
        Host.Run("umount", MountPoint);
        Host.Run("losetup", "-d", _device);
        Directory.Delete(MountPoint);
        File.Delete(_image);
    }
}
