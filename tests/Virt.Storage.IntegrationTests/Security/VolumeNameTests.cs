using Virt.Storage.IntegrationTests.Infrastructure;

namespace Virt.Storage.IntegrationTests.Security;

/// <summary>
/// Issue 15, item 3's class "paths built from names": a volume, snapshot, pool or user name that is a
/// path (<c>../x</c>, <c>/etc/x</c>, <c>a/b</c>) is refused by every entry point before it touches a path,
/// and no host file outside the pool is created or removed through one.
/// </summary>
public sealed class VolumeNameTests : IDisposable
{
    private const long MiB = 1024 * 1024;
    private static readonly string[] BadNames = ["..", ".", "../x", "../../etc", "/etc/passwd", "/tmp", "a/b", "x/../../y", "", ".hidden", "-dash", "x\ny", new string('x', 65)];
    private readonly PoolFixture _fixture = PoolFixture.Create("dir");
    private readonly string _victim = Directory.CreateTempSubdirectory("vs-victim-").FullName;

    [Fact(Timeout = 180_000)]
    public async Task Every_entry_point_refuses_a_name_that_is_a_path_and_no_host_file_changes()
    {
        var ct = TestContext.Current.CancellationToken;
        var pool = _fixture.Pool;
        await pool.CreateVolumeAsync(new VolumeSpec("good", 16 * MiB), ct);
        await pool.CreateSnapshotAsync("good", "s1", ct);
        var bait = Path.Combine(_victim, "bait");
        await File.WriteAllTextAsync(bait, "keep", ct);
        var source = Path.Combine(_fixture.Scratch, "source.qcow2");
        Host.Run("qemu-img", "create", "-q", "-f", "qcow2", source, "1M");
        var before = Snapshot();
        foreach (var bad in BadNames.Append(_victim).Append(Path.GetRelativePath(Path.Combine(pool.Definition.Path, "images"), _victim)))
        {
            await Assert.ThrowsAsync<ArgumentException>(() => pool.CreateVolumeAsync(new VolumeSpec(bad, 16 * MiB), ct));
            await Assert.ThrowsAsync<ArgumentException>(() => pool.GetVolumeAsync(bad, ct));
            await Assert.ThrowsAsync<ArgumentException>(() => pool.DeleteVolumeAsync(bad, ct));
            await Assert.ThrowsAsync<ArgumentException>(() => pool.ResizeVolumeAsync(bad, 32 * MiB, cancellationToken: ct));
            await Assert.ThrowsAsync<ArgumentException>(() => pool.CloneVolumeAsync(bad, "copy", linked: false, ct).LastAsync(ct).AsTask());
            await Assert.ThrowsAsync<ArgumentException>(() => pool.CloneVolumeAsync("good", bad, linked: false, ct).LastAsync(ct).AsTask());
            await Assert.ThrowsAsync<ArgumentException>(() => pool.CloneVolumeAsync("good", bad, linked: true, ct).LastAsync(ct).AsTask());
            await Assert.ThrowsAsync<ArgumentException>(() => pool.FlattenVolumeAsync(bad, ct));
            await Assert.ThrowsAsync<ArgumentException>(() => pool.CreateSnapshotAsync(bad, "s2", ct));
            await Assert.ThrowsAsync<ArgumentException>(() => pool.CreateSnapshotAsync("good", bad, ct));
            await Assert.ThrowsAsync<ArgumentException>(() => pool.RollbackSnapshotAsync("good", bad, ct));
            await Assert.ThrowsAsync<ArgumentException>(() => pool.DeleteSnapshotAsync("good", bad, ct));
            await Assert.ThrowsAsync<ArgumentException>(() => pool.SupportsAsync(bad, VolumeFeature.Clone, ct));
            await Assert.ThrowsAsync<ArgumentException>(async () =>
            {
                await foreach (var _ in pool.ImportAsync(source, new VolumeSpec(bad, 0), ct))
                {
                }
            });
            await Assert.ThrowsAsync<ArgumentException>(async () =>
            {
                await foreach (var _ in pool.ExportAsync(bad, Path.Combine(_fixture.Scratch, "out"), VolumeFormat.Raw, ct))
                {
                }
            });

            // The resolver: a VolumeId built without Parse, and a release that would delete <victim>/bait.
            await Assert.ThrowsAnyAsync<StorageException>(() => _fixture.Manager.GetPoolAsync(bad, ct));
            await Assert.ThrowsAsync<ArgumentException>(() => _fixture.Manager.AcquireAsync(new VolumeId("test", bad), "vm:x", ct));
            await Assert.ThrowsAsync<ArgumentException>(() => _fixture.Manager.ReleaseAsync(new VolumeId("test", bad), "bait", ct));
        }

        // A user name that is a path component.
        foreach (var user in new[] { "..", "." })
        {
            await Assert.ThrowsAsync<ArgumentException>(() => _fixture.Manager.AcquireAsync(new VolumeId("test", "good"), user, ct));
            await Assert.ThrowsAsync<ArgumentException>(() => _fixture.Manager.ReleaseAsync(new VolumeId("test", "good"), user, ct));
        }

        Assert.Equal(before, Snapshot());
        Assert.Equal(["good"], (await pool.ListVolumesAsync(ct)).Select(volume => volume.Id.Name));
        Assert.False(File.Exists(Path.Combine(_fixture.Scratch, "out")));
    }

    public void Dispose()
    {
        _fixture.Dispose();
        Directory.Delete(_victim, recursive: true);
    }

    /// <summary>Every entry under the victim directory and the scratch directory's parent level, with sizes.</summary>
    private string Snapshot() =>
        string.Join('\n', new[] { _victim, Path.GetDirectoryName(_fixture.Pool.Definition.Path)! }
            .SelectMany(root => Directory.EnumerateFileSystemEntries(root, "*", SearchOption.AllDirectories))
            .Where(entry => !entry.Contains("/locks/", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .Select(entry => Directory.Exists(entry) ? entry + "/" : $"{entry} {new FileInfo(entry).Length}"));
}
