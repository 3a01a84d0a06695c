using Virt.Storage.IntegrationTests.Infrastructure;

namespace Virt.Storage.IntegrationTests.Pools;

/// <summary>Incremental transfer between RBD volumes: a full diff, then only what changed between two snapshots.</summary>
public sealed class RbdIncrementalTests(CephCluster ceph) : IDisposable
{
    private readonly PoolFixture _fixture = PoolFixture.Create("rbd", ceph);

    [Fact(Timeout = 180_000)]
    public async Task A_replica_follows_its_source_through_export_diff_and_import_diff()
    {
        var ct = TestContext.Current.CancellationToken;
        var pool = Assert.IsAssignableFrom<IIncrementalStoragePool>(_fixture.Pool);
        var source = await pool.CreateVolumeAsync(new VolumeSpec("source", 32L << 20), ct);
        var replica = await pool.CreateVolumeAsync(new VolumeSpec("replica", 32L << 20), ct);

        Host.WritePattern(source, 0x61, "0", "1M");
        await pool.CreateSnapshotAsync("source", "s1", ct);
        var full = Path.Combine(_fixture.Scratch, "s1.diff");
        await pool.ExportDiffAsync("source", null, "s1", full, ct);
        await pool.ImportDiffAsync("replica", full, ct);

        Host.WritePattern(await pool.GetVolumeAsync("source", ct), 0x62, "4M", "1M");
        await pool.CreateSnapshotAsync("source", "s2", ct);
        var incremental = Path.Combine(_fixture.Scratch, "s1-s2.diff");
        await pool.ExportDiffAsync("source", "s1", "s2", incremental, ct);
        Assert.True(new FileInfo(incremental).Length < new FileInfo(full).Length + (2 << 20), "the incremental diff carries only the second write");
        await pool.ImportDiffAsync("replica", incremental, ct);

        replica = await pool.GetVolumeAsync("replica", ct);
        Assert.Equal(["s1", "s2"], replica.Snapshots);
        Assert.True(Host.HasPattern(replica, 0x61, "0", "1M"));
        Assert.True(Host.HasPattern(replica, 0x62, "4M", "1M"));
        await Assert.ThrowsAsync<StorageException>(() => pool.ExportDiffAsync("source", null, "s2", full, ct));
    }

    public void Dispose() => _fixture.Dispose();
}
