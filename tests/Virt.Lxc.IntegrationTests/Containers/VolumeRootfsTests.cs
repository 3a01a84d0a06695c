using Virt.Containers;
using Virt.Lxc.Containers;
using Virt.Lxc.Hosting;
using Virt.Lxc.IntegrationTests.Infrastructure;
using Virt.Processes;
using Virt.Storage;
using Virt.Storage.Hosting;
using Virt.Storage.IntegrationTests.Infrastructure;
using Virt.Storage.Pools;

namespace Virt.Lxc.IntegrationTests.Containers;

/// <summary>A container whose rootfs lives on a raw storage volume (dir or btrfs pool), loop-mounted by LXC.</summary>
public sealed class VolumeRootfsTests
{
    [Theory(Timeout = 180_000)]
    [InlineData("dir", false)]
    [InlineData("btrfs", true)]
    public async Task A_container_runs_from_a_volume_which_stays_in_use_until_the_container_is_deleted(string driver, bool unprivileged)
    {
        await using var host = LxcTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        using var filesystem = driver == "btrfs" ? LoopFilesystem.Create("btrfs", 2) : null;
        var storage = new StorageManager(new StorageOptions { StateDirectory = Path.Combine(host.LxcPath, "storage") }, new System.IO.Abstractions.FileSystem(), new ProcessRunner());
        var path = Path.Combine(filesystem?.MountPoint ?? host.LxcPath, "pool");
        var pool = await storage.DefinePoolAsync(driver == "btrfs" ? new BtrfsPoolDefinition("local", path) : new DirPoolDefinition("local", path), ct);
        await pool.CreateVolumeAsync(new VolumeSpec("ct-root", 256L << 20) { Format = driver == "dir" ? VolumeFormat.Raw : null }, ct);
        var manager = new LxcContainerManager(new LxcOptions { LxcPath = host.LxcPath }, new System.IO.Abstractions.FileSystem(), new ProcessRunner(), volumes: storage);

        var container = await manager.CreateAsync(LxcTestHost.Busybox("on-volume") with { RootfsVolume = "local:ct-root", Unprivileged = unprivileged }, ct);
        await container.StartAsync(cancellationToken: ct);
        await InContainer.OutputAsync(container, "sh", "-c", "echo kept > /root/marker");
        Assert.Contains("/dev/loop", await InContainer.OutputAsync(container, "cat", "/proc/mounts"), StringComparison.Ordinal);
        await container.StopAsync(TimeSpan.FromSeconds(10), ct);

        var inUse = await Assert.ThrowsAsync<VolumeStateException>(() => pool.DeleteVolumeAsync("ct-root", ct));
        Assert.Contains("ct:on-volume", inUse.Message, StringComparison.Ordinal);

        await container.StartAsync(cancellationToken: ct);
        Assert.Equal("kept\n", await InContainer.OutputAsync(container, "cat", "/root/marker"));
        await container.KillAsync(ct);
        await manager.DeleteAsync("on-volume", cancellationToken: ct);
        await pool.DeleteVolumeAsync("ct-root", ct);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_rootfs_volume_without_storage_registered_says_which_AddXxx_is_missing()
    {
        await using var host = LxcTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var error = await Assert.ThrowsAsync<ContainerRootfsException>(() => host.Manager.CreateAsync(LxcTestHost.Busybox("nostorage") with { RootfsVolume = "local:x" }, ct));
        Assert.Contains("AddStorage()", error.Message, StringComparison.Ordinal);
        Assert.Empty(await host.Manager.ListAsync(ct));
    }
}
