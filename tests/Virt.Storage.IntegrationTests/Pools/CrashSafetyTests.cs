using System.Diagnostics;
using Virt.Storage.IntegrationTests.Infrastructure;

namespace Virt.Storage.IntegrationTests.Pools;

/// <summary>A process killed with SIGKILL in the middle of a clone or an import leaves no half volume listed, and its temporary file is swept.</summary>
public sealed class CrashSafetyTests : IDisposable
{
    private const long MiB = 1024 * 1024;
    private readonly PoolFixture _fixture = PoolFixture.Create("dir");

    [Theory(Timeout = 180_000)]
    [InlineData("clone")]
    [InlineData("import")]
    public async Task Killing_the_process_midway_leaves_no_half_volume(string operation)
    {
        var ct = TestContext.Current.CancellationToken;
        var pool = _fixture.Pool;

        // 1 GiB of real data (not sparse), so that copying it takes long enough to be interrupted.
        var source = await pool.CreateVolumeAsync(new VolumeSpec("big", 1024 * MiB) { Format = VolumeFormat.Raw }, ct);
        Host.WritePattern(source, 0x5a, "0", "1G");
        var argument = operation == "clone" ? "big" : source.Path;

        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var part in new[] { Path.Combine(AppContext.BaseDirectory, "Virt.Tests.ChildManager.dll"), "storage", _fixture.Options.StateDirectory, "test", operation, argument, "half" })
        {
            start.ArgumentList.Add(part);
        }

        // Killed as soon as the kernel reports its temporary file (inotify), i.e. midway through the copy.
        var images = Path.Combine(pool.Definition.Path, "images");
        var building = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var watcher = new FileSystemWatcher(images) { EnableRaisingEvents = true };
        watcher.Created += (_, created) =>
        {
            if (created.Name is { } name && name.StartsWith(".tmp-", StringComparison.Ordinal) && (name.EndsWith("half.raw", StringComparison.Ordinal) || name.EndsWith("half.qcow2", StringComparison.Ordinal)))
            {
                building.TrySetResult();
            }
        };
        using var child = Process.Start(start)!;
        var marker = $".tmp-{child.Id}-";
        await building.Task.WaitAsync(TimeSpan.FromSeconds(60), ct);
        await Task.Delay(50, ct);
        Assert.False(child.HasExited, "the child finished before it could be killed");
        child.Kill(entireProcessTree: true);
        await child.WaitForExitAsync(ct);

        Assert.Contains(Directory.GetFiles(images), file => Path.GetFileName(file).StartsWith(marker, StringComparison.Ordinal));
        var listed = await pool.ListVolumesAsync(ct);
        Assert.Equal(["big"], listed.Select(volume => volume.Id.Name));
        Assert.DoesNotContain(Directory.GetFiles(images), file => Path.GetFileName(file).StartsWith(".tmp-", StringComparison.Ordinal));

        // The name is free again: the same operation now completes.
        if (operation == "clone")
        {
            await pool.CloneVolumeAsync("big", "half", linked: false, ct).LastAsync(ct);
            var clone = await pool.GetVolumeAsync("half", ct);
            Assert.True(Host.HasPattern(clone, 0x5a, "1020M", "4M"));
        }
    }

    [Fact(Timeout = 180_000)]
    public async Task Cancelling_an_import_or_a_copying_clone_midway_leaves_nothing()
    {
        var ct = TestContext.Current.CancellationToken;
        var pool = _fixture.Pool;
        var source = await pool.CreateVolumeAsync(new VolumeSpec("big", 1024 * MiB) { Format = VolumeFormat.Raw }, ct);
        Host.WritePattern(source, 0x3c, "0", "1G");
        var images = Path.Combine(pool.Definition.Path, "images");

        using (var cancel = CancellationTokenSource.CreateLinkedTokenSource(ct))
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
            {
                await foreach (var report in pool.ImportAsync(source.Path, new VolumeSpec("imported", 0), cancel.Token))
                {
                    // The first report of a copy under way: cancel it there.
                    await cancel.CancelAsync();
                }
            });
        }

        using (var cancel = CancellationTokenSource.CreateLinkedTokenSource(ct))
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
            {
                await foreach (var report in pool.CloneVolumeAsync("big", "copy", linked: false, cancel.Token))
                {
                    // The first report of a copy under way: cancel it there.
                    await cancel.CancelAsync();
                }
            });
        }

        Assert.Equal(["big"], (await pool.ListVolumesAsync(ct)).Select(volume => volume.Id.Name));
        Assert.DoesNotContain(Directory.GetFiles(images), file => Path.GetFileName(file).StartsWith(".tmp-", StringComparison.Ordinal));
    }

    public void Dispose() => _fixture.Dispose();
}
