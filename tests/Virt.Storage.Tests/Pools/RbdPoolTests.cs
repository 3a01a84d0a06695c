using System.IO.Abstractions.TestingHelpers;
using Virt.Storage.Hosting;
using Virt.Storage.Pools;

namespace Virt.Storage.Tests.Pools;

/// <summary>
/// The RBD pool's bookkeeping with rbd and ceph scripted (their JSON, their errors) and the pool's local
/// files (locks, in-use markers) in memory: which images a create, resize, clone, snapshot, rollback or
/// delete makes and removes, what a failing rbd leaves (images are built under temporary names) and what
/// its error says.
/// </summary>
public sealed class RbdPoolTests : IAsyncLifetime
{
    private const long OneGiB = 1L << 30;
    private const string Config = "/etc/ceph/ceph.conf";
    private readonly ModeKeepingFileSystem _files = new(new Dictionary<string, MockFileData> { [Config] = new("[global]\nmon_host = 127.0.0.1\n") });
    private readonly ScriptedCeph _ceph = new("rbd");
    private StorageManager _manager = null!;
    private IStoragePool _pool = null!;

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _manager = new StorageManager(new StorageOptions { StateDirectory = "/var/lib/virt/storage" }, _files, _ceph);
        _pool = await _manager.DefinePoolAsync(new RbdPoolDefinition("ceph", "/var/lib/virt/rbd", Config), Cancel);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    [Fact]
    public async Task Create_makes_the_image_under_a_temporary_name_and_renames_it()
    {
        var volume = await _pool.CreateVolumeAsync(new VolumeSpec("disk", OneGiB), Cancel);

        Assert.Equal("ceph:disk", volume.Id.ToString());
        Assert.Equal(VolumeFormat.Raw, volume.Format);
        Assert.Equal(OneGiB, volume.CapacityBytes);
        Assert.Equal($"rbd:rbd/disk:conf={Config}:id=admin", volume.Path);
        Assert.Equal(["disk"], _ceph.Images);
        var create = Assert.Single(_ceph.Commands, command => command.StartsWith("rbd create", StringComparison.Ordinal));
        Assert.StartsWith("rbd create --size 1073741824B rbd/.tmp-", create, StringComparison.Ordinal);
        Assert.Contains(_ceph.Commands, command => command.StartsWith("rbd rename rbd/.tmp-", StringComparison.Ordinal) && command.EndsWith(" rbd/disk", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_failing_rbd_mid_create_leaves_no_image_and_says_what_to_do()
    {
        _ceph.FailWhen = arguments => arguments[0] == "rename" ? "rbd: rename error: (1) Operation not permitted" : null;

        var error = await Assert.ThrowsAsync<StorageException>(() => _pool.CreateVolumeAsync(new VolumeSpec("disk", OneGiB), Cancel));

        Assert.Contains("'ceph:disk'", error.Message, StringComparison.Ordinal);
        Assert.Contains("rbd -c /etc/ceph/ceph.conf --id admin rename rbd/.tmp-", error.Message, StringComparison.Ordinal);
        Assert.Contains("(1) Operation not permitted", error.Message, StringComparison.Ordinal);
        Assert.Contains("ceph auth caps", error.Message, StringComparison.Ordinal);
        Assert.Empty(_ceph.Images);
        Assert.Empty(await _pool.ListVolumesAsync(Cancel));

        _ceph.FailWhen = _ => null;
        Assert.Equal(OneGiB, (await _pool.CreateVolumeAsync(new VolumeSpec("disk", OneGiB), Cancel)).CapacityBytes);
    }

    [Fact]
    public async Task Create_refuses_a_name_in_use_and_qcow2()
    {
        await _pool.CreateVolumeAsync(new VolumeSpec("disk", OneGiB), Cancel);

        await Assert.ThrowsAsync<VolumeStateException>(() => _pool.CreateVolumeAsync(new VolumeSpec("disk", 2 * OneGiB), Cancel));
        var qcow2 = await Assert.ThrowsAsync<StorageException>(() => _pool.CreateVolumeAsync(new VolumeSpec("other", OneGiB) { Format = VolumeFormat.Qcow2 }, Cancel));

        Assert.Equal(VirtErrorKind.Refused, qcow2.ErrorKind);
        Assert.Equal(OneGiB, (await _pool.GetVolumeAsync("disk", Cancel)).CapacityBytes);
        Assert.Equal(["disk"], _ceph.Images);
    }

    [Fact]
    public async Task Resize_grows_and_shrinks_only_with_consent()
    {
        await _pool.CreateVolumeAsync(new VolumeSpec("disk", OneGiB), Cancel);

        Assert.Equal(2 * OneGiB, (await _pool.ResizeVolumeAsync("disk", 2 * OneGiB, cancellationToken: Cancel)).CapacityBytes);
        await Assert.ThrowsAsync<VolumeStateException>(() => _pool.ResizeVolumeAsync("disk", OneGiB, cancellationToken: Cancel));
        Assert.DoesNotContain(_ceph.Commands, command => command.Contains("--allow-shrink", StringComparison.Ordinal));

        Assert.Equal(OneGiB, (await _pool.ResizeVolumeAsync("disk", OneGiB, allowShrink: true, Cancel)).CapacityBytes);
        Assert.Contains("rbd resize --no-progress --allow-shrink --size 1073741824B rbd/disk", _ceph.Commands);
    }

    [Fact]
    public async Task A_linked_clone_is_an_rbd_clone_of_a_hidden_base_snapshot_that_goes_with_it()
    {
        await _pool.CreateVolumeAsync(new VolumeSpec("base", OneGiB), Cancel);
        await foreach (var unused in _pool.CloneVolumeAsync("base", "linked", linked: true, Cancel))
        {
        }

        var linked = await _pool.GetVolumeAsync("linked", Cancel);
        Assert.Equal([new VolumeId("ceph", "base")], linked.BackingChain);
        Assert.Equal(["virt-base-linked"], _ceph.SnapshotsOf("base"));
        Assert.Empty((await _pool.GetVolumeAsync("base", Cancel)).Snapshots);
        var refused = await Assert.ThrowsAsync<VolumeStateException>(() => _pool.DeleteVolumeAsync("base", Cancel));
        Assert.Contains("ceph:linked", refused.Message, StringComparison.Ordinal);

        await _pool.DeleteVolumeAsync("linked", Cancel);

        Assert.Empty(_ceph.SnapshotsOf("base"));
        await _pool.DeleteVolumeAsync("base", Cancel);
        Assert.Empty(_ceph.Images);
    }

    [Fact]
    public async Task Flattening_a_linked_clone_removes_its_base_snapshot()
    {
        await _pool.CreateVolumeAsync(new VolumeSpec("base", OneGiB), Cancel);
        await foreach (var unused in _pool.CloneVolumeAsync("base", "linked", linked: true, Cancel))
        {
        }

        var flat = await _pool.FlattenVolumeAsync("linked", Cancel);

        Assert.Empty(flat.BackingChain);
        Assert.Empty(_ceph.SnapshotsOf("base"));
        Assert.Contains("rbd flatten --no-progress rbd/linked", _ceph.Commands);
    }

    [Fact]
    public async Task A_failing_linked_clone_leaves_no_image_and_no_base_snapshot()
    {
        await _pool.CreateVolumeAsync(new VolumeSpec("base", OneGiB), Cancel);
        _ceph.FailWhen = arguments => arguments[0] == "clone" ? "rbd: clone error: (28) No space left on device" : null;

        var error = await Assert.ThrowsAsync<StorageException>(async () =>
        {
            await foreach (var unused in _pool.CloneVolumeAsync("base", "linked", linked: true, Cancel))
            {
            }
        });

        Assert.Contains("'ceph:linked'", error.Message, StringComparison.Ordinal);
        Assert.Contains("No space left on device", error.Message, StringComparison.Ordinal);
        Assert.Contains("ceph df", error.Message, StringComparison.Ordinal);
        Assert.Equal(["base"], _ceph.Images);
        Assert.Empty(_ceph.SnapshotsOf("base"));
    }

    [Fact]
    public async Task A_full_clone_is_an_rbd_copy_that_stands_alone()
    {
        await _pool.CreateVolumeAsync(new VolumeSpec("base", OneGiB), Cancel);
        _ceph.Write("base", 64L << 20);

        var progress = new List<StorageProgress>();
        await foreach (var step in _pool.CloneVolumeAsync("base", "copy", linked: false, Cancel))
        {
            progress.Add(step);
        }

        Assert.Equal([new StorageProgress("clone", 100, true)], progress);
        Assert.Contains(_ceph.Commands, command => command.StartsWith("rbd cp --no-progress rbd/base rbd/.tmp-", StringComparison.Ordinal));
        var copy = await _pool.GetVolumeAsync("copy", Cancel);
        Assert.Empty(copy.BackingChain);
        Assert.Equal(64L << 20, copy.AllocationBytes);
    }

    [Fact]
    public async Task Snapshots_roll_back_and_delete_and_the_sdk_s_own_names_are_refused()
    {
        await _pool.CreateVolumeAsync(new VolumeSpec("disk", OneGiB), Cancel);
        _ceph.Write("disk", 8L << 20);
        await _pool.CreateSnapshotAsync("disk", "one", Cancel);
        _ceph.Write("disk", 32L << 20);

        Assert.Equal(["one"], (await _pool.GetVolumeAsync("disk", Cancel)).Snapshots);
        await Assert.ThrowsAsync<VolumeStateException>(() => _pool.CreateSnapshotAsync("disk", "one", Cancel));
        await Assert.ThrowsAsync<ArgumentException>(() => _pool.CreateSnapshotAsync("disk", "virt-base-mine", Cancel));
        Assert.Equal(32L << 20, (await _pool.GetVolumeAsync("disk", Cancel)).AllocationBytes);

        await _pool.RollbackSnapshotAsync("disk", "one", Cancel);

        Assert.Equal(8L << 20, (await _pool.GetVolumeAsync("disk", Cancel)).AllocationBytes);
        await _pool.DeleteSnapshotAsync("disk", "one", Cancel);
        Assert.Empty((await _pool.GetVolumeAsync("disk", Cancel)).Snapshots);
        await Assert.ThrowsAsync<VolumeStateException>(() => _pool.RollbackSnapshotAsync("disk", "one", Cancel));
    }

    [Fact]
    public async Task Rollback_and_delete_refuse_a_volume_in_use()
    {
        await _pool.CreateVolumeAsync(new VolumeSpec("disk", OneGiB), Cancel);
        await _pool.CreateSnapshotAsync("disk", "one", Cancel);
        var attachment = await _manager.AcquireAsync(new VolumeId("ceph", "disk"), "vm:web", Cancel);
        Assert.Equal(new RbdLocation("rbd", "disk", Config, "admin"), attachment.Rbd);

        Assert.Contains("vm:web", (await Assert.ThrowsAsync<VolumeStateException>(() => _pool.RollbackSnapshotAsync("disk", "one", Cancel))).Message, StringComparison.Ordinal);
        Assert.Contains("vm:web", (await Assert.ThrowsAsync<VolumeStateException>(() => _pool.DeleteVolumeAsync("disk", Cancel))).Message, StringComparison.Ordinal);

        await _manager.ReleaseAsync(new VolumeId("ceph", "disk"), "vm:web", Cancel);
        await _pool.DeleteVolumeAsync("disk", Cancel);
        Assert.Empty(_ceph.Images);
    }

    [Fact]
    public async Task Listing_removes_the_images_of_a_builder_that_died_and_keeps_a_live_one()
    {
        await _pool.CreateVolumeAsync(new VolumeSpec("disk", OneGiB), Cancel);
        var dead = $".tmp-99999999-{Guid.NewGuid():N}-ghost";
        var live = $".tmp-{Environment.ProcessId}-{Guid.NewGuid():N}-building";
        _ceph.Add(dead, OneGiB);
        _ceph.Add(live, OneGiB);

        var volumes = await _pool.ListVolumesAsync(Cancel);

        Assert.Equal(["ceph:disk"], volumes.Select(volume => volume.Id.ToString()));
        Assert.Contains($"rbd rm --no-progress rbd/{dead}", _ceph.Commands);
        Assert.Equal([live, "disk"], _ceph.Images.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Capacity_comes_from_ceph_df_and_use_from_rbd_du()
    {
        _ceph.Cluster = (300 * OneGiB, 120 * OneGiB);
        await _pool.CreateVolumeAsync(new VolumeSpec("a", OneGiB), Cancel);
        await _pool.CreateVolumeAsync(new VolumeSpec("b", 2 * OneGiB), Cancel);
        _ceph.Write("a", 4L << 20);
        _ceph.Write("b", 12L << 20);

        var status = await _pool.GetStatusAsync(Cancel);

        Assert.Equal(new StoragePoolStatus(300 * OneGiB, 120 * OneGiB, 16L << 20, 3 * OneGiB), status);
        Assert.Equal(StorageCapabilities.Snapshots | StorageCapabilities.LinkedClones | StorageCapabilities.Shared, _pool.Capabilities);
        Assert.True(await _pool.SupportsAsync("a", VolumeFeature.LinkedClone, Cancel));
        await Assert.ThrowsAsync<VolumeNotFoundException>(() => _pool.SupportsAsync("none", VolumeFeature.Snapshot, Cancel));
    }

    [Fact]
    public async Task A_cluster_that_does_not_answer_is_named_with_the_fix()
    {
        _ceph.FailWhen = arguments => arguments[0] == "df" ? "2026-12-06T14:00:00.000+0000 7f0 -1 monclient(hunting): authenticate timed out after 300\n[errno 110] RADOS timed out (error connecting to the cluster)" : null;

        var error = await Assert.ThrowsAsync<StorageException>(() => _pool.GetStatusAsync(Cancel));

        Assert.Contains("pool 'ceph' (Ceph pool rbd)", error.Message, StringComparison.Ordinal);
        Assert.Contains("ceph -c /etc/ceph/ceph.conf --id admin df --format json", error.Message, StringComparison.Ordinal);
        Assert.Contains("RADOS timed out", error.Message, StringComparison.Ordinal);
        Assert.Contains("ceph -s -c /etc/ceph/ceph.conf", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_pool_without_its_ceph_conf_is_refused_before_rbd_runs()
    {
        var commands = _ceph.Commands.Count;

        var error = await Assert.ThrowsAsync<StorageException>(() => _manager.DefinePoolAsync(new RbdPoolDefinition("other", "/var/lib/virt/other", "/etc/ceph/missing.conf"), Cancel));

        Assert.Contains("/etc/ceph/missing.conf", error.Message, StringComparison.Ordinal);
        Assert.Equal(commands, _ceph.Commands.Count);
    }
}
