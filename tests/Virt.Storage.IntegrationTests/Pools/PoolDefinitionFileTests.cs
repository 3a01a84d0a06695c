using Virt.Processes;
using Virt.Storage.Hosting;
using Virt.Storage.Pools;

namespace Virt.Storage.IntegrationTests.Pools;

/// <summary>
/// Pool definitions on disk: one record per driver, told apart by the "Driver" field that the single
/// record of earlier versions already wrote, so their files still load.
/// </summary>
public sealed class PoolDefinitionFileTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("virt-pooldef-").FullName;

    private string PoolsDirectory => Path.Combine(_root, "state", "pools");

    private StorageManager NewManager() => new(new StorageOptions { StateDirectory = Path.Combine(_root, "state") }, new System.IO.Abstractions.FileSystem(), new ProcessRunner());

    [Fact]
    public async Task Definitions_written_by_the_single_record_load_as_their_drivers_record()
    {
        var ct = TestContext.Current.CancellationToken;
        Directory.CreateDirectory(PoolsDirectory);
        // Exactly the shape the earlier StoragePoolDefinition(Name, Driver, Path) wrote: Driver second, every driver's field present.
        await File.WriteAllTextAsync(Path.Combine(PoolsDirectory, "old-dir.json"), Legacy("old-dir", "dir", "\"Content\": \"Images\"", "\"Quotas\": false", "\"CephConfig\": null", "\"RbdPool\": null", "\"CephUser\": null"), ct);
        await File.WriteAllTextAsync(Path.Combine(PoolsDirectory, "old-btrfs.json"), Legacy("old-btrfs", "btrfs", "\"Content\": \"Images, Rootdir\"", "\"Quotas\": true", "\"CephConfig\": null", "\"RbdPool\": null", "\"CephUser\": null"), ct);
        await File.WriteAllTextAsync(Path.Combine(PoolsDirectory, "old-rbd.json"), Legacy("old-rbd", "rbd", "\"Content\": \"Images, Rootdir\"", "\"Quotas\": false", "\"CephConfig\": \"/etc/ceph/test.conf\"", "\"RbdPool\": null", "\"CephUser\": \"virt\""), ct);
        var manager = NewManager();

        var dir = Assert.IsType<DirPoolDefinition>((await manager.GetPoolAsync("old-dir", ct)).Definition);
        Assert.Equal(("old-dir", Path.Combine(_root, "old-dir"), StorageContent.Images), (dir.Name, dir.Path, dir.Content));

        var btrfs = Assert.IsType<BtrfsPoolDefinition>((await manager.GetPoolAsync("old-btrfs", ct)).Definition);
        Assert.True(btrfs.Quotas);
        Assert.True((await manager.GetPoolAsync("old-btrfs", ct)).Capabilities.HasFlag(StorageCapabilities.Quotas));

        var rbd = Assert.IsType<RbdPoolDefinition>((await manager.GetPoolAsync("old-rbd", ct)).Definition);
        Assert.Equal(("/etc/ceph/test.conf", "rbd", "virt"), (rbd.CephConfig, rbd.RbdPool, rbd.CephUser));
    }

    [Fact]
    public async Task A_defined_pool_is_written_with_its_driver_first_and_only_its_own_fields_and_reads_back_equal()
    {
        var ct = TestContext.Current.CancellationToken;
        var definition = new DirPoolDefinition("fresh", Path.Combine(_root, "fresh")) { Content = StorageContent.Rootdir };
        await NewManager().DefinePoolAsync(definition, ct);

        var json = await File.ReadAllTextAsync(Path.Combine(PoolsDirectory, "fresh.json"), ct);
        Assert.StartsWith("{\n  \"Driver\": \"dir\",", json.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.DoesNotContain("Quotas", json, StringComparison.Ordinal);
        Assert.DoesNotContain("Ceph", json, StringComparison.Ordinal);
        Assert.Equal(definition, (await NewManager().GetPoolAsync("fresh", ct)).Definition);
    }

    [Fact]
    public async Task A_definition_naming_an_unknown_driver_is_refused_with_the_file_and_the_fix()
    {
        var ct = TestContext.Current.CancellationToken;
        Directory.CreateDirectory(PoolsDirectory);
        await File.WriteAllTextAsync(Path.Combine(PoolsDirectory, "odd.json"), Legacy("odd", "zfs"), ct);

        var error = await Assert.ThrowsAsync<StorageException>(() => NewManager().GetPoolAsync("odd", ct));
        Assert.Contains("odd.json", error.Message, StringComparison.Ordinal);
        Assert.Contains("dir, btrfs or rbd", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_rbd_definition_without_a_usable_ceph_config_or_with_a_blank_ceph_user_is_refused_before_anything_is_written()
    {
        var ct = TestContext.Current.CancellationToken;
        var missing = await Assert.ThrowsAsync<StorageException>(() => NewManager().DefinePoolAsync(new RbdPoolDefinition("ceph", Path.Combine(_root, "ceph"), Path.Combine(_root, "no.conf")), ct));
        Assert.Contains("needs CephConfig", missing.Message, StringComparison.Ordinal);

        var blank = await Assert.ThrowsAsync<StorageException>(() => NewManager().DefinePoolAsync(new RbdPoolDefinition("ceph", Path.Combine(_root, "ceph"), "/etc/hostname") { CephUser = " " }, ct));
        Assert.Contains("CephUser", blank.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(PoolsDirectory, "ceph.json")));
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string Legacy(string name, string driver, params string[] fields) =>
        "{\n  " + string.Join(",\n  ", new[] { $"\"Name\": \"{name}\"", $"\"Driver\": \"{driver}\"", $"\"Path\": \"{Path.Combine(_root, name)}\"" }.Concat(fields)) + "\n}";
}
