using Virt.Storage.IntegrationTests.Infrastructure;

namespace Virt.Storage.IntegrationTests.Security;

/// <summary>
/// Issue 15, code-reading item: the volume lock must not outlive a failed acquire, and marking a volume
/// in use (a VM or container start) must take the volume's lock, so that a delete or a rollback cannot
/// slip between the start's look at the volume and its marker.
/// </summary>
public sealed class VolumeLockTests : IDisposable
{
    private const long MiB = 1024 * 1024;
    private readonly PoolFixture _fixture = PoolFixture.Create("dir");

    private string Locks => Path.Combine(_fixture.Pool.Definition.Path, ".virt", "locks");

    [Fact(Timeout = 120_000)]
    public async Task A_holder_note_that_cannot_be_written_leaves_the_operation_working_and_the_lock_free()
    {
        var ct = TestContext.Current.CancellationToken;
        await _fixture.Pool.CreateVolumeAsync(new VolumeSpec("v", 16 * MiB), ct);

        // A real fault: where the note goes there is a directory, so writing it fails (EISDIR).
        Directory.CreateDirectory(Path.Combine(Locks, "v.holder"));
        Assert.Equal(32 * MiB, (await _fixture.Pool.ResizeVolumeAsync("v", 32 * MiB, cancellationToken: ct)).CapacityBytes);
        AssertUnlocked("v");
        Assert.Equal(48 * MiB, (await _fixture.Pool.ResizeVolumeAsync("v", 48 * MiB, cancellationToken: ct)).CapacityBytes);
        AssertUnlocked("v");
    }

    [Fact(Timeout = 120_000)]
    public async Task An_operation_cancelled_while_taking_the_lock_leaves_it_free()
    {
        var ct = TestContext.Current.CancellationToken;
        await _fixture.Pool.CreateVolumeAsync(new VolumeSpec("v", 16 * MiB), ct);
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => _fixture.Pool.ResizeVolumeAsync("v", 32 * MiB, cancellationToken: cancelled.Token));
        AssertUnlocked("v");
        Assert.Equal(32 * MiB, (await _fixture.Pool.ResizeVolumeAsync("v", 32 * MiB, cancellationToken: ct)).CapacityBytes);
    }

    [Fact(Timeout = 120_000)]
    public async Task A_start_that_waits_on_a_delete_finds_the_volume_gone_and_marks_nothing()
    {
        var ct = TestContext.Current.CancellationToken;
        var volume = await _fixture.Pool.CreateVolumeAsync(new VolumeSpec("v", 16 * MiB), ct);

        // Another manager (another process would do the same: the lock is a flock) starts a VM on the volume
        // while a delete holds the volume's lock and removes the file.
        var other = new Virt.Storage.Pools.StorageManager(new Virt.Storage.Hosting.StorageOptions { StateDirectory = _fixture.Options.StateDirectory, LockTimeout = TimeSpan.FromSeconds(60) }, new System.IO.Abstractions.FileSystem(), new Virt.Processes.ProcessRunner());
        Task<VolumeAttachment> start;
        await using (new FileStream(Path.Combine(Locks, "v.lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))
        {
            start = other.AcquireAsync(volume.Id, "vm:racer", ct);
            await Task.Delay(500, ct);
            File.Delete(volume.Path);
        }

        await Assert.ThrowsAsync<VolumeNotFoundException>(() => start);
        Assert.False(Directory.Exists(Path.Combine(_fixture.Pool.Definition.Path, ".virt", "inuse", "v")) && Directory.GetFiles(Path.Combine(_fixture.Pool.Definition.Path, ".virt", "inuse", "v")).Length > 0, "a marker was left for a volume that is gone");
    }

    [Fact(Timeout = 300_000)]
    public async Task A_delete_racing_a_start_either_deletes_a_volume_nobody_uses_or_is_refused()
    {
        var ct = TestContext.Current.CancellationToken;
        var options = new Virt.Storage.Hosting.StorageOptions { StateDirectory = _fixture.Options.StateDirectory, LockTimeout = TimeSpan.FromSeconds(60) };
        var starter = new Virt.Storage.Pools.StorageManager(options, new System.IO.Abstractions.FileSystem(), new Virt.Processes.ProcessRunner());
        var deleter = await new Virt.Storage.Pools.StorageManager(options, new System.IO.Abstractions.FileSystem(), new Virt.Processes.ProcessRunner()).GetPoolAsync("test", ct);
        for (var round = 0; round < 20; round++)
        {
            var volume = await _fixture.Pool.CreateVolumeAsync(new VolumeSpec("raced", 16 * MiB) { Format = VolumeFormat.Raw }, ct);
            var start = Task.Run(() => starter.AcquireAsync(volume.Id, "vm:racer", ct), ct);
            var delete = Task.Run(() => deleter.DeleteVolumeAsync("raced", ct), ct);
            var started = await Outcome(start);
            var deleted = await Outcome(delete);

            if (started is null)
            {
                // The start won: the volume is there, marked, and the delete was refused for it.
                Assert.IsType<VolumeStateException>(deleted);
                Assert.True(File.Exists(volume.Path), $"round {round}: the volume a VM holds was deleted");
                await starter.ReleaseAsync(volume.Id, "vm:racer", ct);
                await _fixture.Pool.DeleteVolumeAsync("raced", ct);
            }
            else
            {
                // The delete won: the start found no volume and left no marker.
                Assert.IsType<VolumeNotFoundException>(started);
                Assert.Null(deleted);
                Assert.False(File.Exists(volume.Path));
            }

            var markers = Path.Combine(_fixture.Pool.Definition.Path, ".virt", "inuse", "raced");
            Assert.False(Directory.Exists(markers) && Directory.GetFiles(markers).Length > 0, $"round {round}: a marker outlived its volume");
        }
    }

    public void Dispose() => _fixture.Dispose();

    private static async Task<Exception?> Outcome(Task task)
    {
        try
        {
            await task;
            return null;
        }
        catch (StorageException error)
        {
            return error;
        }
    }

    /// <summary>Nobody holds the volume's flock: an exclusive open of its lock file succeeds at once.</summary>
    private void AssertUnlocked(string name)
    {
        using var probe = new FileStream(Path.Combine(Locks, name + ".lock"), FileMode.Open, FileAccess.ReadWrite, FileShare.None);
    }
}
