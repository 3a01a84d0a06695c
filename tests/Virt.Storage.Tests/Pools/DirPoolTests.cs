using System.IO.Abstractions.TestingHelpers;
using Virt.Storage.Hosting;
using Virt.Storage.Pools;

namespace Virt.Storage.Tests.Pools;

/// <summary>
/// The dir pool's bookkeeping with qemu-img scripted: which files a create, resize, clone or delete leaves
/// in <c>images/</c>, and what a failing qemu-img leaves (nothing half-made, a message that names it).
/// The pool's files are in memory; the scripted qemu-img writes its images there too.
/// </summary>
public sealed class DirPoolTests : IAsyncLifetime
{
    private const long OneGiB = 1L << 30;
    private const string Root = "/virt";
    private readonly ModeKeepingFileSystem _files = new();
    private readonly ScriptedQemuImg _qemuImg;
    private IStoragePool _pool = null!;

    public DirPoolTests() => _qemuImg = new ScriptedQemuImg(_files);

    private static string Images => Path.Combine(Root, "pool", "images");

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        var manager = new StorageManager(new StorageOptions { StateDirectory = Path.Combine(Root, "state") }, _files, _qemuImg);
        _pool = await manager.DefinePoolAsync(new DirPoolDefinition("local", Path.Combine(Root, "pool")), Cancel);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    [Fact]
    public async Task Create_builds_the_image_under_a_temporary_name_and_reports_it()
    {
        var volume = await _pool.CreateVolumeAsync(new VolumeSpec("disk", OneGiB), Cancel);

        Assert.Equal("local:disk", volume.Id.ToString());
        Assert.Equal(VolumeFormat.Qcow2, volume.Format);
        Assert.Equal(OneGiB, volume.CapacityBytes);
        Assert.Equal([Path.Combine(Images, "disk.qcow2")], _files.Directory.GetFiles(Images));
        var create = Assert.Single(_qemuImg.Commands, command => command.StartsWith("qemu-img create", StringComparison.Ordinal));
        Assert.StartsWith("qemu-img create -q -f qcow2 ", create, StringComparison.Ordinal);
        Assert.DoesNotContain(Path.Combine(Images, "disk.qcow2"), create, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_failing_qemu_img_create_leaves_no_volume_and_says_why()
    {
        _qemuImg.FailWhen = arguments => arguments[0] == "create" ? "qemu-img: Could not create image: No space left on device" : null;

        var error = await Assert.ThrowsAsync<StorageException>(() => _pool.CreateVolumeAsync(new VolumeSpec("disk", OneGiB), Cancel));

        Assert.Contains("qemu-img create", error.Message, StringComparison.Ordinal);
        Assert.Contains("No space left on device", error.Message, StringComparison.Ordinal);
        Assert.Empty(_files.Directory.GetFiles(Images));
        Assert.Empty(await _pool.ListVolumesAsync(Cancel));

        // The name is free again.
        _qemuImg.FailWhen = _ => null;
        Assert.Equal(OneGiB, (await _pool.CreateVolumeAsync(new VolumeSpec("disk", OneGiB), Cancel)).CapacityBytes);
    }

    [Fact]
    public async Task Create_refuses_a_name_in_use_without_running_qemu_img()
    {
        await _pool.CreateVolumeAsync(new VolumeSpec("disk", OneGiB), Cancel);
        var commands = _qemuImg.Commands.Count;

        await Assert.ThrowsAsync<VolumeStateException>(() => _pool.CreateVolumeAsync(new VolumeSpec("disk", 2 * OneGiB), Cancel));

        Assert.Equal(commands, _qemuImg.Commands.Count);
        Assert.Equal(OneGiB, (await _pool.GetVolumeAsync("disk", Cancel)).CapacityBytes);
    }

    [Fact]
    public async Task Resize_grows_and_shrinks_only_with_consent()
    {
        await _pool.CreateVolumeAsync(new VolumeSpec("disk", OneGiB), Cancel);

        Assert.Equal(2 * OneGiB, (await _pool.ResizeVolumeAsync("disk", 2 * OneGiB, cancellationToken: Cancel)).CapacityBytes);
        var refused = await Assert.ThrowsAsync<VolumeStateException>(() => _pool.ResizeVolumeAsync("disk", OneGiB, cancellationToken: Cancel));
        Assert.Contains("allowShrink", refused.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(_qemuImg.Commands, command => command.Contains("--shrink", StringComparison.Ordinal));

        Assert.Equal(OneGiB, (await _pool.ResizeVolumeAsync("disk", OneGiB, allowShrink: true, Cancel)).CapacityBytes);
        Assert.Contains(_qemuImg.Commands, command => command.StartsWith("qemu-img resize -q -f qcow2 --shrink ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_failing_qemu_img_resize_keeps_the_volume_as_it_was()
    {
        await _pool.CreateVolumeAsync(new VolumeSpec("disk", OneGiB), Cancel);
        _qemuImg.FailWhen = arguments => arguments[0] == "resize" ? "qemu-img: Failed to grow: Permission denied" : null;

        var error = await Assert.ThrowsAsync<StorageException>(() => _pool.ResizeVolumeAsync("disk", 2 * OneGiB, cancellationToken: Cancel));

        Assert.Contains("Permission denied", error.Message, StringComparison.Ordinal);
        Assert.Equal(OneGiB, (await _pool.GetVolumeAsync("disk", Cancel)).CapacityBytes);
    }

    [Fact]
    public async Task Delete_removes_the_file_and_refuses_a_base_of_linked_clones()
    {
        await _pool.CreateVolumeAsync(new VolumeSpec("base", OneGiB), Cancel);
        await foreach (var unused in _pool.CloneVolumeAsync("base", "linked", linked: true, Cancel))
        {
        }

        var refused = await Assert.ThrowsAsync<VolumeStateException>(() => _pool.DeleteVolumeAsync("base", Cancel));
        Assert.Contains("local:linked", refused.Message, StringComparison.Ordinal);

        await _pool.DeleteVolumeAsync("linked", Cancel);
        await _pool.DeleteVolumeAsync("base", Cancel);

        Assert.Empty(_files.Directory.GetFiles(Images));
        await Assert.ThrowsAsync<VolumeNotFoundException>(() => _pool.GetVolumeAsync("base", Cancel));
    }

    [Fact]
    public async Task A_full_clone_reports_qemu_img_progress_and_stands_alone()
    {
        await _pool.CreateVolumeAsync(new VolumeSpec("base", OneGiB), Cancel);
        await foreach (var unused in _pool.CloneVolumeAsync("base", "linked", linked: true, Cancel))
        {
        }

        // A volume with a backing chain is always copied by qemu-img convert (never reflinked).
        var progress = new List<StorageProgress>();
        await foreach (var step in _pool.CloneVolumeAsync("linked", "copy", linked: false, Cancel))
        {
            progress.Add(step);
        }

        // How many of qemu-img's lines come through depends on how the pipe splits them; the last one always does.
        Assert.Contains(progress, step => !step.Completed);
        Assert.All(progress.Where(step => !step.Completed), step => Assert.Contains(step.Percent, new[] { 0.0, 50, 100 }));
        Assert.Equal(new StorageProgress("clone", 100, true), progress[^1]);
        Assert.Contains(_qemuImg.Commands, command => command.StartsWith("qemu-img convert -p -t none -O qcow2 -f qcow2 ", StringComparison.Ordinal));
        var copy = await _pool.GetVolumeAsync("copy", Cancel);
        Assert.Empty(copy.BackingChain);
        Assert.Equal(OneGiB, copy.CapacityBytes);
    }

    [Fact]
    public async Task A_failing_qemu_img_convert_leaves_no_half_made_clone()
    {
        await _pool.CreateVolumeAsync(new VolumeSpec("base", OneGiB), Cancel);
        await foreach (var unused in _pool.CloneVolumeAsync("base", "linked", linked: true, Cancel))
        {
        }

        _qemuImg.FailWhen = arguments => arguments[0] == "convert" ? "qemu-img: error while writing at byte 0: Input/output error" : null;

        var error = await Assert.ThrowsAsync<StorageException>(async () =>
        {
            await foreach (var unused in _pool.CloneVolumeAsync("linked", "copy", linked: false, Cancel))
            {
            }
        });

        Assert.Contains("Input/output error", error.Message, StringComparison.Ordinal);
        Assert.Equal(["base.qcow2", "linked.qcow2"], _files.Directory.GetFiles(Images).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        await Assert.ThrowsAsync<VolumeNotFoundException>(() => _pool.GetVolumeAsync("copy", Cancel));
    }
}
