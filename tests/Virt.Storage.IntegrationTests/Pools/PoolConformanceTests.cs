using Virt.Storage.IntegrationTests.Infrastructure;

namespace Virt.Storage.IntegrationTests.Pools;

/// <summary>
/// One suite, run against every backend on the real thing: a dir pool on the temp directory (ext4: no
/// reflink, clones are copies), a dir pool on xfs with reflink and a btrfs pool, both on loop-mounted
/// images the fixture creates and removes.
/// </summary>
public abstract class PoolConformanceTests : IDisposable
{
    private const long MiB = 1024 * 1024;
    private readonly PoolFixture _fixture;

    protected PoolConformanceTests(string kind, CephCluster? ceph = null)
    {
        Kind = kind;
        _fixture = PoolFixture.Create(kind, ceph);
    }

    protected string Kind { get; }

    protected IStoragePool Pool => _fixture.Pool;

    [Fact(Timeout = 120_000)]
    public async Task A_volume_is_created_thin_listed_described_and_deleted()
    {
        var ct = TestContext.Current.CancellationToken;
        var volume = await Pool.CreateVolumeAsync(new VolumeSpec("vm-100-disk-0", 64 * MiB), ct);
        Assert.Equal(new VolumeId("test", "vm-100-disk-0"), volume.Id);
        Assert.Equal(64 * MiB, volume.CapacityBytes);
        Assert.True(volume.AllocationBytes < 16 * MiB, $"a new volume should be thin, but occupies {volume.AllocationBytes} bytes");
        Assert.Equal(["vm-100-disk-0"], (await Pool.ListVolumesAsync(ct)).Select(v => v.Id.Name));

        var status = await Pool.GetStatusAsync(ct);
        Assert.Equal(64 * MiB, status.ProvisionedBytes);
        Assert.True(status.CapacityBytes > 0 && status.AvailableBytes > 0);

        await Pool.DeleteVolumeAsync("vm-100-disk-0", ct);
        Assert.Empty(await Pool.ListVolumesAsync(ct));
        await Assert.ThrowsAsync<VolumeNotFoundException>(() => Pool.GetVolumeAsync("vm-100-disk-0", ct));
    }

    [Fact(Timeout = 120_000)]
    public async Task A_snapshot_rolls_back_what_was_written_after_it()
    {
        var ct = TestContext.Current.CancellationToken;
        var volume = await Pool.CreateVolumeAsync(new VolumeSpec("snap", 16 * MiB), ct);
        Assert.True(await Pool.SupportsAsync("snap", VolumeFeature.Snapshot, ct));
        Host.WritePattern(volume, 0x11);
        await Pool.CreateSnapshotAsync("snap", "before", ct);
        Host.WritePattern(volume, 0x22);
        Assert.True(Host.HasPattern(await Pool.GetVolumeAsync("snap", ct), 0x22));

        await Pool.RollbackSnapshotAsync("snap", "before", ct);
        var restored = await Pool.GetVolumeAsync("snap", ct);
        Assert.True(Host.HasPattern(restored, 0x11), "rollback did not bring the snapshot's data back");
        Assert.Equal(["before"], restored.Snapshots);

        await Assert.ThrowsAsync<VolumeStateException>(() => Pool.CreateSnapshotAsync("snap", "before", ct));
        await Assert.ThrowsAsync<VolumeStateException>(() => Pool.RollbackSnapshotAsync("snap", "never-taken", ct));
        await Pool.DeleteSnapshotAsync("snap", "before", ct);
        Assert.Empty((await Pool.GetVolumeAsync("snap", ct)).Snapshots);
        await Pool.DeleteVolumeAsync("snap", ct);
    }

    [Fact(Timeout = 120_000)]
    public async Task A_full_clone_has_the_data_and_lives_on_its_own()
    {
        var ct = TestContext.Current.CancellationToken;
        var source = await Pool.CreateVolumeAsync(new VolumeSpec("base", 32 * MiB), ct);
        Host.WritePattern(source, 0x33);
        var reports = await Pool.CloneVolumeAsync("base", "copy", linked: false, ct).ToListAsync(ct);
        var clone = await Pool.GetVolumeAsync("copy", ct);
        Assert.True(reports[^1] is { Completed: true, Percent: 100 }, "the clone reported no completion");
        Assert.True(Host.HasPattern(clone, 0x33));
        Assert.Empty(clone.BackingChain);

        Host.WritePattern(clone, 0x44);
        Assert.True(Host.HasPattern(await Pool.GetVolumeAsync("base", ct), 0x33), "writing the clone changed its source");
        await Pool.DeleteVolumeAsync("base", ct);
        Assert.True(Host.HasPattern(await Pool.GetVolumeAsync("copy", ct), 0x44));
        await Pool.DeleteVolumeAsync("copy", ct);
    }

    [Fact(Timeout = 120_000)]
    public async Task Linked_clones_keep_their_base_which_cannot_be_deleted_under_them()
    {
        var ct = TestContext.Current.CancellationToken;
        await Pool.CreateVolumeAsync(new VolumeSpec("template", 32 * MiB), ct);
        if (!Pool.Capabilities.HasFlag(StorageCapabilities.LinkedClones))
        {
            Assert.False(await Pool.SupportsAsync("template", VolumeFeature.LinkedClone, ct));
            var refused = await Assert.ThrowsAsync<StorageException>(() => Pool.CloneVolumeAsync("template", "linked", linked: true, ct).LastAsync(ct).AsTask());
            Assert.Contains("linked: false", refused.Message, StringComparison.Ordinal);
            return;
        }

        Host.WritePattern(await Pool.GetVolumeAsync("template", ct), 0x55);
        await Pool.CloneVolumeAsync("template", "linked", linked: true, ct).LastAsync(ct);
        var linked = await Pool.GetVolumeAsync("linked", ct);
        Assert.Equal([new VolumeId("test", "template")], linked.BackingChain);
        Assert.True(Host.HasPattern(linked, 0x55));
        Assert.True(linked.AllocationBytes < 4 * MiB, "a linked clone should hold only its own writes");

        var refusedDelete = await Assert.ThrowsAsync<VolumeStateException>(() => Pool.DeleteVolumeAsync("template", ct));
        Assert.Contains("test:linked", refusedDelete.Message, StringComparison.Ordinal);

        // A second linked clone, flattened: it no longer needs the base.
        await Pool.CloneVolumeAsync("template", "flat", linked: true, cancellationToken: ct).LastAsync(ct);
        var flat = await Pool.FlattenVolumeAsync("flat", ct);
        Assert.Empty(flat.BackingChain);
        Assert.True(Host.HasPattern(flat, 0x55));
        await Pool.DeleteVolumeAsync("linked", ct);
        await Pool.DeleteVolumeAsync("template", ct);
        Assert.True(Host.HasPattern(await Pool.GetVolumeAsync("flat", ct), 0x55), "the flattened clone lost its data with the base");
        await Pool.DeleteVolumeAsync("flat", ct);
    }

    [Fact(Timeout = 120_000)]
    public async Task Resize_grows_and_shrinks_only_with_consent()
    {
        var ct = TestContext.Current.CancellationToken;
        await Pool.CreateVolumeAsync(new VolumeSpec("grow", 16 * MiB), ct);
        Assert.Equal(32 * MiB, (await Pool.ResizeVolumeAsync("grow", 32 * MiB, cancellationToken: ct)).CapacityBytes);
        var refused = await Assert.ThrowsAsync<VolumeStateException>(() => Pool.ResizeVolumeAsync("grow", 8 * MiB, cancellationToken: ct));
        Assert.Contains("allowShrink", refused.Message, StringComparison.Ordinal);
        Assert.Equal(32 * MiB, (await Pool.GetVolumeAsync("grow", ct)).CapacityBytes);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Pool.ResizeVolumeAsync("grow", -512, cancellationToken: ct));
        Assert.Equal(8 * MiB, (await Pool.ResizeVolumeAsync("grow", 8 * MiB, allowShrink: true, ct)).CapacityBytes);
    }

    [Fact(Timeout = 120_000)]
    public async Task Import_reports_progress_and_export_writes_an_image_back()
    {
        var ct = TestContext.Current.CancellationToken;
        var source = Path.Combine(_fixture.Scratch, "appliance.qcow2");
        Host.Run("qemu-img", "create", "-q", "-f", "qcow2", source, "24M");
        Host.Run("qemu-io", "-f", "qcow2", "-c", "write -P 102 0 2M", source);

        var progress = new List<StorageProgress>();
        await foreach (var report in Pool.ImportAsync(source, new VolumeSpec("imported", 32 * MiB), ct))
        {
            progress.Add(report);
        }

        Assert.True(progress[^1].Completed && progress[^1].Percent == 100);
        Assert.All(progress[..^1], report => Assert.False(report.Completed));
        var imported = await Pool.GetVolumeAsync("imported", ct);
        Assert.Equal(32 * MiB, imported.CapacityBytes);
        Assert.True(Host.HasPattern(imported, 102, "0", "2M"));

        var exported = Path.Combine(_fixture.Scratch, "exported.raw");
        await foreach (var _ in Pool.ExportAsync("imported", exported, VolumeFormat.Raw, ct))
        {
        }

        Assert.Contains("\"format\": \"raw\"", Host.Run("qemu-img", "info", "--output", "json", exported), StringComparison.Ordinal);
        Assert.DoesNotContain("Pattern verification failed", Host.Run("qemu-io", "-f", "raw", "-c", "read -P 102 0 2M", exported), StringComparison.Ordinal);
        await Assert.ThrowsAsync<StorageException>(async () => { await foreach (var _ in Pool.ImportAsync("/no/such/file.qcow2", new VolumeSpec("missing", 0), ct)) { } });
        Assert.DoesNotContain(await Pool.ListVolumesAsync(ct), volume => volume.Id.Name == "missing");
    }

    [Fact(Timeout = 120_000)]
    public async Task Bad_names_unknown_pools_and_in_use_volumes_are_refused_and_nothing_is_lost()
    {
        var ct = TestContext.Current.CancellationToken;
        await Pool.CreateVolumeAsync(new VolumeSpec("keep", 16 * MiB), ct);
        foreach (var bad in new[] { "..", "a/b", "../keep", new string('x', 65), "", ".hidden" })
        {
            await Assert.ThrowsAsync<ArgumentException>(() => Pool.CreateVolumeAsync(new VolumeSpec(bad, 16 * MiB), ct));
        }

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Pool.CreateVolumeAsync(new VolumeSpec("odd", 1000), ct));
        await Assert.ThrowsAsync<VolumeStateException>(() => Pool.CreateVolumeAsync(new VolumeSpec("keep", 16 * MiB), ct));
        await Assert.ThrowsAsync<StoragePoolNotFoundException>(() => _fixture.Manager.GetPoolAsync("nowhere", ct));
        Assert.Throws<ArgumentException>(() => VolumeId.Parse("no-colon"));
        Assert.Throws<ArgumentException>(() => VolumeId.Parse("test:../etc"));

        var attachment = await _fixture.Manager.AcquireAsync(VolumeId.Parse("test:keep"), "vm:web-1", ct);
        Assert.True(attachment.Rbd is not null || File.Exists(attachment.Path));
        var inUse = await Assert.ThrowsAsync<VolumeStateException>(() => Pool.DeleteVolumeAsync("keep", ct));
        Assert.Contains("vm:web-1", inUse.Message, StringComparison.Ordinal);
        await _fixture.Manager.ReleaseAsync(attachment.Id, "vm:web-1", ct);
        await Pool.DeleteVolumeAsync("keep", ct);
        Assert.Empty(await Pool.ListVolumesAsync(ct));
    }

    [Fact(Timeout = 120_000)]
    public async Task A_volume_locked_by_someone_else_is_refused_at_the_deadline_naming_the_holder()
    {
        var ct = TestContext.Current.CancellationToken;
        await Pool.CreateVolumeAsync(new VolumeSpec("busy", 16 * MiB), ct);
        var locks = Path.Combine(Pool.Definition.Path, ".virt", "locks");
        await using (var held = new FileStream(Path.Combine(locks, "busy.lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))
        {
            await File.WriteAllTextAsync(Path.Combine(locks, "busy.holder"), "pid 4242: backup", ct);
            var error = await Assert.ThrowsAsync<VolumeStateException>(() => Pool.ResizeVolumeAsync("busy", 32 * MiB, cancellationToken: ct));
            Assert.Contains("pid 4242: backup", error.Message, StringComparison.Ordinal);
        }

        Assert.Equal(32 * MiB, (await Pool.ResizeVolumeAsync("busy", 32 * MiB, cancellationToken: ct)).CapacityBytes);
    }

    public void Dispose()
    {
        _fixture.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>The suite on a dir pool in the temp directory (ext4 here: clones are copies).</summary>
public sealed class DirPoolConformanceTests() : PoolConformanceTests("dir")
{
    [Fact]
    public void The_pool_sees_no_reflink_on_ext4() => Assert.False(Pool.Capabilities.HasFlag(StorageCapabilities.ReflinkClones));
}

/// <summary>The suite on a dir pool on xfs with reflink: full clones share blocks.</summary>
public sealed class XfsReflinkPoolConformanceTests() : PoolConformanceTests("xfs")
{
    [Fact]
    public void The_pool_detects_reflink() => Assert.True(Pool.Capabilities.HasFlag(StorageCapabilities.ReflinkClones));
}

/// <summary>The suite on a btrfs pool: subvolumes, read-only snapshots, snapshot clones.</summary>
public sealed class BtrfsPoolConformanceTests() : PoolConformanceTests("btrfs");

/// <summary>The suite on a Ceph RBD pool of a real single-node cluster (one Ceph pool per test).</summary>
public sealed class RbdPoolConformanceTests(CephCluster ceph) : PoolConformanceTests("rbd", ceph);

/// <summary>btrfs qgroup quotas: a volume's subvolume cannot grow past the volume's size.</summary>
public sealed class BtrfsQuotaTests : IDisposable
{
    private readonly LoopFilesystem _filesystem = LoopFilesystem.Create("btrfs", 2);
    private readonly string _state = Directory.CreateTempSubdirectory("vs-quota-").FullName;

    [Fact(Timeout = 120_000)]
    public async Task A_volume_cannot_take_more_than_its_size()
    {
        var ct = TestContext.Current.CancellationToken;
        var manager = new Virt.Storage.Pools.StorageManager(new Virt.Storage.Hosting.StorageOptions { StateDirectory = _state }, new System.IO.Abstractions.FileSystem(), new Virt.Processes.ProcessRunner());
        var pool = await manager.DefinePoolAsync(new BtrfsPoolDefinition("quota", Path.Combine(_filesystem.MountPoint, "pool")) { Quotas = true }, ct);
        Assert.True(pool.Capabilities.HasFlag(StorageCapabilities.Quotas));
        var volume = await pool.CreateVolumeAsync(new VolumeSpec("capped", 16L << 20), ct);
        Host.WritePattern(volume, 0x71, "0", "8M");

        // Another file in the same subvolume, past the 16 MiB the volume was given, is refused by the kernel.
        var overflow = Path.Combine(Path.GetDirectoryName(volume.Path)!, "overflow");
        var error = Assert.Throws<InvalidOperationException>(() => Host.Run("dd", "if=/dev/zero", $"of={overflow}", "bs=1M", "count=32", "conv=fsync"));
        Assert.Contains("quota", error.Message, StringComparison.OrdinalIgnoreCase);
        File.Delete(overflow);

        await pool.ResizeVolumeAsync("capped", 64L << 20, cancellationToken: ct);
        Host.Run("dd", "if=/dev/zero", $"of={overflow}", "bs=1M", "count=32", "conv=fsync");
        File.Delete(overflow);
        await pool.DeleteVolumeAsync("capped", ct);
    }

    public void Dispose()
    {
        _filesystem.Dispose();
        Directory.Delete(_state, recursive: true);
    }
}
