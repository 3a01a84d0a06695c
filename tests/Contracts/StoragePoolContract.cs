using Virt.Storage;

namespace Virt.Tests.Contracts;

/// <summary>
/// What every <see cref="IStoragePool"/> promises, written once and run against the in-memory double
/// (tests/Virt.Testing.Tests) and a real dir pool (tests/Virt.Storage.IntegrationTests).
/// </summary>
public abstract class StoragePoolContract
{
    private const long MiB = 1024 * 1024;

    /// <summary>The pool under test; a fresh, empty one per test.</summary>
    protected abstract IStoragePool Pool { get; }

    [Fact]
    public async Task A_volume_is_created_listed_resized_and_deleted()
    {
        var ct = TestContext.Current.CancellationToken;
        var created = await Pool.CreateVolumeAsync(new VolumeSpec("disk", 16 * MiB) { Format = VolumeFormat.Qcow2 }, ct);
        Assert.Equal((new VolumeId(Pool.Definition.Name, "disk"), VolumeFormat.Qcow2, 16 * MiB), (created.Id, created.Format, created.CapacityBytes));
        Assert.Equal(created.Id, (await Pool.GetVolumeAsync("disk", ct)).Id);
        Assert.Contains(await Pool.ListVolumesAsync(ct), v => v.Id == created.Id);

        var grown = await Pool.ResizeVolumeAsync("disk", 32 * MiB, cancellationToken: ct);
        Assert.Equal(32 * MiB, grown.CapacityBytes);
        var shrink = await Assert.ThrowsAsync<VolumeStateException>(() => Pool.ResizeVolumeAsync("disk", 8 * MiB, cancellationToken: ct));
        Assert.Equal(VirtErrorKind.Conflict, shrink.ErrorKind);

        await Pool.DeleteVolumeAsync("disk", ct);
        Assert.DoesNotContain(await Pool.ListVolumesAsync(ct), v => v.Id == created.Id);
    }

    [Fact]
    public async Task Missing_volumes_are_not_found_and_duplicates_conflict()
    {
        var ct = TestContext.Current.CancellationToken;
        var missing = await Assert.ThrowsAsync<VolumeNotFoundException>(() => Pool.GetVolumeAsync("nothing", ct));
        Assert.Equal((VirtErrorKind.NotFound, new VolumeId(Pool.Definition.Name, "nothing")), (missing.ErrorKind, missing.Id));
        await Assert.ThrowsAsync<VolumeNotFoundException>(() => Pool.DeleteVolumeAsync("nothing", ct));

        await Pool.CreateVolumeAsync(new VolumeSpec("twice", 4 * MiB), ct);
        var duplicate = await Assert.ThrowsAnyAsync<StorageException>(() => Pool.CreateVolumeAsync(new VolumeSpec("twice", 4 * MiB), ct));
        Assert.Equal(VirtErrorKind.Conflict, duplicate.ErrorKind);
    }

    [Fact]
    public async Task Snapshots_are_listed_and_a_missing_one_is_refused()
    {
        var ct = TestContext.Current.CancellationToken;
        await Pool.CreateVolumeAsync(new VolumeSpec("snapped", 4 * MiB) { Format = VolumeFormat.Qcow2 }, ct);
        await Pool.CreateSnapshotAsync("snapped", "s1", ct);
        Assert.Equal(["s1"], (await Pool.GetVolumeAsync("snapped", ct)).Snapshots);
        var duplicate = await Assert.ThrowsAsync<VolumeStateException>(() => Pool.CreateSnapshotAsync("snapped", "s1", ct));
        Assert.Equal(VirtErrorKind.Conflict, duplicate.ErrorKind);
        await Pool.RollbackSnapshotAsync("snapped", "s1", ct);
        await Assert.ThrowsAsync<VolumeStateException>(() => Pool.RollbackSnapshotAsync("snapped", "nope", ct));
        await Pool.DeleteSnapshotAsync("snapped", "s1", ct);
        Assert.Empty((await Pool.GetVolumeAsync("snapped", ct)).Snapshots);
    }

    [Fact]
    public async Task A_linked_clone_keeps_its_base_from_deletion_until_flattened()
    {
        var ct = TestContext.Current.CancellationToken;
        var source = await Pool.CreateVolumeAsync(new VolumeSpec("base", 4 * MiB) { Format = VolumeFormat.Qcow2 }, ct);
        await foreach (var _ in Pool.CloneVolumeAsync("base", "linked", linked: true, ct))
        {
        }

        Assert.Contains(source.Id, (await Pool.GetVolumeAsync("linked", ct)).BackingChain);
        var inUse = await Assert.ThrowsAsync<VolumeStateException>(() => Pool.DeleteVolumeAsync("base", ct));
        Assert.Equal(VirtErrorKind.Conflict, inUse.ErrorKind);

        var flat = await Pool.FlattenVolumeAsync("linked", ct);
        Assert.Empty(flat.BackingChain);
        await Pool.DeleteVolumeAsync("base", ct);
    }
}
