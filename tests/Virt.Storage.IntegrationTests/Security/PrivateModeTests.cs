using Virt.Storage.IntegrationTests.Infrastructure;

namespace Virt.Storage.IntegrationTests.Security;

/// <summary>
/// Issue 15, item 4 (storage part): a volume is a whole guest disk, so every file the pools make —
/// volumes from create, clone, import, flatten and snapshot, exports, locks, in-use markers, pool
/// definitions — is 0600 and every directory 0700, and the unprivileged user <c>nobody</c> cannot read
/// a volume.
/// </summary>
public abstract class PrivateModeTests : IDisposable
{
    private const long MiB = 1024 * 1024;
    private const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode PrivateDirectory = Private | UnixFileMode.UserExecute;
    private readonly PoolFixture _fixture;

    protected PrivateModeTests(string kind) => _fixture = PoolFixture.Create(kind);

    [Fact(Timeout = 180_000)]
    public async Task Every_file_the_pool_makes_is_0600_every_directory_0700_and_nobody_cannot_read_a_volume()
    {
        var ct = TestContext.Current.CancellationToken;
        var pool = _fixture.Pool;
        var dir = pool.Definition.Driver == "dir";
        var raw = await pool.CreateVolumeAsync(new VolumeSpec("raw", 16 * MiB) { Format = VolumeFormat.Raw }, ct);
        Host.WritePattern(raw, 0x21);
        await pool.CloneVolumeAsync("raw", "full", linked: false, cancellationToken: ct).LastAsync(ct);
        await pool.CreateSnapshotAsync(dir ? await QcowAsync(pool, ct) : "raw", "s1", ct);
        if (pool.Capabilities.HasFlag(StorageCapabilities.LinkedClones))
        {
            await pool.CloneVolumeAsync("raw", "linked", linked: true, cancellationToken: ct).LastAsync(ct);
            await pool.FlattenVolumeAsync("linked", ct);
        }

        var source = Path.Combine(_fixture.Scratch, "appliance.qcow2");
        Host.Run("qemu-img", "create", "-q", "-f", "qcow2", source, "16M");
        await foreach (var _ in pool.ImportAsync(source, new VolumeSpec("imported", 0) { Format = VolumeFormat.Raw }, ct))
        {
        }

        var exported = Path.Combine(_fixture.Scratch, "exported.raw");
        await foreach (var _ in pool.ExportAsync("raw", exported, VolumeFormat.Raw, ct))
        {
        }

        var attachment = await _fixture.Manager.AcquireAsync(raw.Id, "vm:modes", ct);

        Assert.Equal(Private, File.GetUnixFileMode(exported));
        foreach (var root in new[] { pool.Definition.Path, _fixture.Options.StateDirectory })
        {
            Assert.Equal(PrivateDirectory, File.GetUnixFileMode(root));
            foreach (var entry in Directory.EnumerateFileSystemEntries(root, "*", SearchOption.AllDirectories))
            {
                var expected = Directory.Exists(entry) ? PrivateDirectory : Private;
                Assert.True(File.GetUnixFileMode(entry) == expected, $"{entry} is {File.GetUnixFileMode(entry)}, not {expected}");
            }
        }

        foreach (var volume in await pool.ListVolumesAsync(ct))
        {
            var denied = Assert.Throws<InvalidOperationException>(() => Host.Run("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "cat", volume.Path));
            Assert.Contains("Permission denied", denied.Message, StringComparison.Ordinal);
        }

        await _fixture.Manager.ReleaseAsync(attachment.Id, "vm:modes", ct);
    }

    public void Dispose()
    {
        _fixture.Dispose();
        GC.SuppressFinalize(this);
    }

    private static async Task<string> QcowAsync(IStoragePool pool, CancellationToken ct)
    {
        await pool.CreateVolumeAsync(new VolumeSpec("qcow", 16 * MiB) { Format = VolumeFormat.Qcow2 }, ct);
        return "qcow";
    }
}

/// <summary>Modes on a dir pool (qemu-img creates, converts and snapshots the files).</summary>
public sealed class DirPrivateModeTests() : PrivateModeTests("dir")
{
    [Fact(Timeout = 120_000)]
    public async Task A_pool_made_before_volumes_were_private_has_its_images_directory_closed()
    {
        // images/ 0755 with a 0644 volume, as pools made before this change have them.
        var ct = TestContext.Current.CancellationToken;
        var legacy = Path.Combine(Directory.CreateTempSubdirectory("vs-legacy-").FullName);
        try
        {
            var images = Directory.CreateDirectory(Path.Combine(legacy, "images")).FullName;
            File.SetUnixFileMode(legacy, PrivateDirectoryOpen);
            File.SetUnixFileMode(images, PrivateDirectoryOpen);
            var volume = Path.Combine(images, "old.raw");
            Host.Run("qemu-img", "create", "-q", "-f", "raw", volume, "1M");
            File.SetUnixFileMode(volume, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
            Host.Run("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "cat", volume);

            var manager = new Virt.Storage.Pools.StorageManager(new Virt.Storage.Hosting.StorageOptions { StateDirectory = Path.Combine(legacy, "state") }, new System.IO.Abstractions.FileSystem(), new Virt.Processes.ProcessRunner());
            var pool = await manager.DefinePoolAsync(new DirPoolDefinition("legacy", legacy), ct);
            Assert.Equal(["old"], (await pool.ListVolumesAsync(ct)).Select(v => v.Id.Name));

            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(images));
            var denied = Assert.Throws<InvalidOperationException>(() => Host.Run("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "cat", volume));
            Assert.Contains("Permission denied", denied.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(legacy, recursive: true);
        }
    }

    private const UnixFileMode PrivateDirectoryOpen = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;
}

/// <summary>Modes on a btrfs pool (subvolumes, read-only snapshots, imports into a subvolume).</summary>
public sealed class BtrfsPrivateModeTests() : PrivateModeTests("btrfs");
