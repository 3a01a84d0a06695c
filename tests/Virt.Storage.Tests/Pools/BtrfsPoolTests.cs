using System.IO.Abstractions.TestingHelpers;
using Virt.Storage.Hosting;
using Virt.Storage.Pools;

namespace Virt.Storage.Tests.Pools;

/// <summary>
/// The btrfs pool's bookkeeping with btrfs scripted and the files in memory: which subvolumes a create,
/// resize, clone, snapshot, rollback or delete makes and removes, what a failing btrfs leaves (nothing
/// half-made: every volume is built under a temporary name) and what its error says.
/// </summary>
public sealed class BtrfsPoolTests : IAsyncLifetime
{
    private const long OneMiB = 1L << 20; // the in-memory disk files are real bytes: small volumes
    private const string PoolPath = "/srv/btrfs";
    private const string Images = PoolPath + "/images";
    private const string Snapshots = PoolPath + "/snapshots";
    private readonly ModeKeepingFileSystem _files = new();
    private readonly ScriptedBtrfs _btrfs;
    private StorageManager _manager = null!;
    private IStoragePool _pool = null!;

    public BtrfsPoolTests() => _btrfs = new ScriptedBtrfs(_files);

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _manager = new StorageManager(new StorageOptions { StateDirectory = "/var/lib/virt/storage" }, _files, _btrfs);
        _pool = await _manager.DefinePoolAsync(new BtrfsPoolDefinition("fast", PoolPath) { Quotas = true }, Cancel);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    [Fact]
    public async Task Create_builds_a_private_subvolume_under_a_temporary_name_with_its_quota()
    {
        var volume = await _pool.CreateVolumeAsync(new VolumeSpec("disk", OneMiB), Cancel);

        Assert.Equal("fast:disk", volume.Id.ToString());
        Assert.Equal(VolumeFormat.Raw, volume.Format);
        Assert.Equal(OneMiB, volume.CapacityBytes);
        Assert.Equal($"{Images}/disk/disk.raw", volume.Path);
        Assert.Equal(OneMiB, _files.FileInfo.New(volume.Path).Length);
        Assert.Equal([$"{Images}/disk"], _files.Directory.GetDirectories(Images));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, _files.File.GetUnixFileMode($"{Images}/disk"));
        Assert.StartsWith($"btrfs subvolume create {Images}/.tmp-", _btrfs.Commands[0], StringComparison.Ordinal);
        Assert.True(_btrfs.QuotasEnabled);
        Assert.Equal([OneMiB], _btrfs.Limits.Values);
    }

    [Fact]
    public async Task A_failing_btrfs_mid_create_leaves_no_subvolume_and_says_what_to_do()
    {
        _btrfs.FailWhen = arguments => arguments[0] == "qgroup" ? "ERROR: unable to limit requested quota group: No space left on device" : null;

        var error = await Assert.ThrowsAsync<StorageException>(() => _pool.CreateVolumeAsync(new VolumeSpec("disk", OneMiB), Cancel));

        Assert.Contains("'fast:disk'", error.Message, StringComparison.Ordinal);
        Assert.Contains("btrfs qgroup limit 1048576 ", error.Message, StringComparison.Ordinal);
        Assert.Contains("No space left on device", error.Message, StringComparison.Ordinal);
        Assert.Contains($"btrfs filesystem usage {PoolPath}", error.Message, StringComparison.Ordinal);
        Assert.Contains(_btrfs.Commands, command => command.StartsWith($"btrfs subvolume delete {Images}/.tmp-", StringComparison.Ordinal));
        Assert.Empty(_files.Directory.GetDirectories(Images));
        Assert.Empty(await _pool.ListVolumesAsync(Cancel));

        _btrfs.FailWhen = _ => null;
        Assert.Equal(OneMiB, (await _pool.CreateVolumeAsync(new VolumeSpec("disk", OneMiB), Cancel)).CapacityBytes);
    }

    [Fact]
    public async Task Qcow2_is_refused_before_btrfs_runs()
    {
        var error = await Assert.ThrowsAsync<StorageException>(() => _pool.CreateVolumeAsync(new VolumeSpec("disk", OneMiB) { Format = VolumeFormat.Qcow2 }, Cancel));

        Assert.Equal(VirtErrorKind.Refused, error.ErrorKind);
        Assert.Empty(_btrfs.Commands);
    }

    [Fact]
    public async Task Resize_grows_the_file_and_its_quota_and_shrinks_only_with_consent()
    {
        await _pool.CreateVolumeAsync(new VolumeSpec("disk", OneMiB), Cancel);

        Assert.Equal(2 * OneMiB, (await _pool.ResizeVolumeAsync("disk", 2 * OneMiB, cancellationToken: Cancel)).CapacityBytes);
        Assert.Equal(2 * OneMiB, _btrfs.Limits[$"{Images}/disk"]);
        var refused = await Assert.ThrowsAsync<VolumeStateException>(() => _pool.ResizeVolumeAsync("disk", OneMiB, cancellationToken: Cancel));
        Assert.Contains("allowShrink", refused.Message, StringComparison.Ordinal);
        Assert.Equal(2 * OneMiB, _files.FileInfo.New($"{Images}/disk/disk.raw").Length);

        Assert.Equal(OneMiB, (await _pool.ResizeVolumeAsync("disk", OneMiB, allowShrink: true, Cancel)).CapacityBytes);
    }

    [Fact]
    public async Task A_full_clone_is_a_subvolume_snapshot_and_a_linked_one_is_refused()
    {
        await _pool.CreateVolumeAsync(new VolumeSpec("base", OneMiB), Cancel);
        await _files.File.WriteAllTextAsync($"{Images}/base/disk.raw", "the base's data", Cancel);

        var progress = new List<StorageProgress>();
        await foreach (var step in _pool.CloneVolumeAsync("base", "copy", linked: false, Cancel))
        {
            progress.Add(step);
        }

        Assert.Equal([new StorageProgress("clone", 100, true)], progress);
        Assert.Contains(_btrfs.Commands, command => command.StartsWith($"btrfs subvolume snapshot {Images}/base {Images}/.tmp-", StringComparison.Ordinal));
        Assert.Equal("the base's data", await _files.File.ReadAllTextAsync($"{Images}/copy/disk.raw", Cancel));
        Assert.Empty((await _pool.GetVolumeAsync("copy", Cancel)).BackingChain);

        var linked = await Assert.ThrowsAsync<StorageException>(async () =>
        {
            await foreach (var unused in _pool.CloneVolumeAsync("base", "linked", linked: true, Cancel))
            {
            }
        });
        Assert.Equal(VirtErrorKind.Refused, linked.ErrorKind);
        Assert.Contains("linked: false", linked.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_failing_clone_leaves_no_half_made_volume()
    {
        await _pool.CreateVolumeAsync(new VolumeSpec("base", OneMiB), Cancel);
        _btrfs.FailWhen = arguments => arguments[1] == "snapshot" ? "ERROR: cannot snapshot '/srv/btrfs/images/base': Read-only file system" : null;

        var error = await Assert.ThrowsAsync<StorageException>(async () =>
        {
            await foreach (var unused in _pool.CloneVolumeAsync("base", "copy", linked: false, Cancel))
            {
            }
        });

        Assert.Contains("'fast:copy'", error.Message, StringComparison.Ordinal);
        Assert.Contains("Read-only file system", error.Message, StringComparison.Ordinal);
        Assert.Equal([$"{Images}/base"], _files.Directory.GetDirectories(Images));
        await Assert.ThrowsAsync<VolumeNotFoundException>(() => _pool.GetVolumeAsync("copy", Cancel));
    }

    [Fact]
    public async Task Snapshots_are_read_only_subvolumes_listed_in_the_order_taken_and_rollback_restores_one()
    {
        await _pool.CreateVolumeAsync(new VolumeSpec("disk", OneMiB), Cancel);
        await _files.File.WriteAllTextAsync($"{Images}/disk/disk.raw", "first", Cancel);
        await _pool.CreateSnapshotAsync("disk", "one", Cancel);
        await _files.File.WriteAllTextAsync($"{Images}/disk/disk.raw", "second", Cancel);
        await _pool.CreateSnapshotAsync("disk", "two", Cancel);
        await _files.File.WriteAllTextAsync($"{Images}/disk/disk.raw", "third", Cancel);

        Assert.Equal(["one", "two"], (await _pool.GetVolumeAsync("disk", Cancel)).Snapshots);
        Assert.Equal([$"{Snapshots}/disk/one", $"{Snapshots}/disk/two"], _btrfs.ReadOnly.Order(StringComparer.Ordinal));
        await Assert.ThrowsAsync<VolumeStateException>(() => _pool.CreateSnapshotAsync("disk", "one", Cancel));

        await _pool.RollbackSnapshotAsync("disk", "one", Cancel);

        Assert.Equal("first", await _files.File.ReadAllTextAsync($"{Images}/disk/disk.raw", Cancel));
        Assert.Equal([$"{Images}/disk"], _files.Directory.GetDirectories(Images));
        Assert.Equal(["one", "two"], (await _pool.GetVolumeAsync("disk", Cancel)).Snapshots);

        await _pool.DeleteSnapshotAsync("disk", "two", Cancel);
        Assert.Equal(["one"], (await _pool.GetVolumeAsync("disk", Cancel)).Snapshots);
        var missing = await Assert.ThrowsAsync<VolumeStateException>(() => _pool.RollbackSnapshotAsync("disk", "two", Cancel));
        Assert.Contains("it has: one", missing.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_failing_rollback_keeps_the_live_volume_and_leaves_no_temporary()
    {
        await _pool.CreateVolumeAsync(new VolumeSpec("disk", OneMiB), Cancel);
        await _pool.CreateSnapshotAsync("disk", "one", Cancel);
        await _files.File.WriteAllTextAsync($"{Images}/disk/disk.raw", "current", Cancel);
        _btrfs.FailWhen = arguments => arguments[1] == "snapshot" ? "ERROR: cannot snapshot '/srv/btrfs/snapshots/disk/one': No space left on device" : null;

        var error = await Assert.ThrowsAsync<StorageException>(() => _pool.RollbackSnapshotAsync("disk", "one", Cancel));

        Assert.Contains("'fast:disk'", error.Message, StringComparison.Ordinal);
        Assert.Equal("current", await _files.File.ReadAllTextAsync($"{Images}/disk/disk.raw", Cancel));
        Assert.Equal([$"{Images}/disk"], _files.Directory.GetDirectories(Images));
    }

    [Fact]
    public async Task Delete_removes_the_snapshots_and_the_subvolume_and_refuses_a_volume_in_use()
    {
        await _pool.CreateVolumeAsync(new VolumeSpec("disk", OneMiB), Cancel);
        await _pool.CreateSnapshotAsync("disk", "one", Cancel);
        await _manager.AcquireAsync(new VolumeId("fast", "disk"), "vm:web", Cancel);

        var refused = await Assert.ThrowsAsync<VolumeStateException>(() => _pool.DeleteVolumeAsync("disk", Cancel));
        Assert.Contains("vm:web", refused.Message, StringComparison.Ordinal);

        await _manager.ReleaseAsync(new VolumeId("fast", "disk"), "vm:web", Cancel);
        await _pool.DeleteVolumeAsync("disk", Cancel);

        Assert.Empty(_files.Directory.GetDirectories(Images));
        Assert.Empty(_files.Directory.GetDirectories(Snapshots));
        Assert.Contains($"btrfs subvolume delete {Snapshots}/disk/one", _btrfs.Commands);
        await Assert.ThrowsAsync<VolumeNotFoundException>(() => _pool.GetVolumeAsync("disk", Cancel));
    }

    [Fact]
    public async Task Listing_sweeps_the_temporaries_of_a_builder_that_died_and_keeps_a_live_one()
    {
        await _pool.CreateVolumeAsync(new VolumeSpec("disk", OneMiB), Cancel);
        var dead = $"{Images}/.tmp-99999999-{Guid.NewGuid():N}-ghost";
        var live = $"{Images}/.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}-building";
        _btrfs.Adopt(dead);
        _btrfs.Adopt(live);

        var volumes = await _pool.ListVolumesAsync(Cancel);

        Assert.Equal(["fast:disk"], volumes.Select(volume => volume.Id.ToString()));
        Assert.Contains($"btrfs subvolume delete {dead}", _btrfs.Commands);
        Assert.False(_files.Directory.Exists(dead));
        Assert.True(_files.Directory.Exists(live));
    }

    [Fact]
    public async Task Capacity_comes_from_the_file_system_and_features_from_the_driver()
    {
        _files.AddDrive("/", new MockDriveData { TotalSize = 100L << 30, AvailableFreeSpace = 60L << 30 });
        await _pool.CreateVolumeAsync(new VolumeSpec("a", OneMiB), Cancel);
        await _pool.CreateVolumeAsync(new VolumeSpec("b", 2 * OneMiB), Cancel);

        var status = await _pool.GetStatusAsync(Cancel);

        Assert.Equal(100L << 30, status.CapacityBytes);
        Assert.Equal(60L << 30, status.AvailableBytes);
        Assert.Equal(3 * OneMiB, status.ProvisionedBytes);
        Assert.Equal(StorageCapabilities.Snapshots | StorageCapabilities.ReflinkClones | StorageCapabilities.Quotas, _pool.Capabilities);
        Assert.True(await _pool.SupportsAsync("a", VolumeFeature.Snapshot, Cancel));
        Assert.True(await _pool.SupportsAsync("a", VolumeFeature.Rollback, Cancel));
        Assert.False(await _pool.SupportsAsync("a", VolumeFeature.LinkedClone, Cancel));
        await Assert.ThrowsAsync<VolumeNotFoundException>(() => _pool.SupportsAsync("none", VolumeFeature.Snapshot, Cancel));
    }
}
