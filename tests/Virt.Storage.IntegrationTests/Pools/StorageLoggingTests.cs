using Microsoft.Extensions.Logging;
using Virt.Processes;
using Virt.Storage.Hosting;
using Virt.Storage.IntegrationTests.Infrastructure;
using Virt.Storage.Pools;

namespace Virt.Storage.IntegrationTests.Pools;

/// <summary>Each change to a pool or a volume is logged once, with the event id published in <see cref="StorageEventIds"/>.</summary>
public sealed class StorageLoggingTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("vs-log-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact(Timeout = 60_000)]
    public async Task Every_change_to_a_dir_pool_logs_its_published_event_id_once()
    {
        HostRequirement.RequireTool("qemu-img", "qemu-utils");
        var ct = TestContext.Current.CancellationToken;
        var log = new RecordingLogger();
        var manager = new StorageManager(new StorageOptions { StateDirectory = Path.Combine(_root, "state") }, new System.IO.Abstractions.FileSystem(), new ProcessRunner(), log);

        var pool = await manager.DefinePoolAsync(new DirPoolDefinition("logged", Path.Combine(_root, "pool")), ct);
        await pool.CreateVolumeAsync(new VolumeSpec("disk0", 1 << 20), ct);
        await pool.ResizeVolumeAsync("disk0", 2 << 20, cancellationToken: ct);
        await pool.CreateSnapshotAsync("disk0", "before", ct);
        await pool.RollbackSnapshotAsync("disk0", "before", ct);
        await pool.DeleteSnapshotAsync("disk0", "before", ct);
        await pool.CloneVolumeAsync("disk0", "disk1", linked: false, ct).LastAsync(ct);
        var exported = Path.Combine(_root, "disk1.raw");
        await foreach (var _ in pool.ExportAsync("disk1", exported, VolumeFormat.Raw, ct))
        {
        }

        await foreach (var _ in pool.ImportAsync(exported, new VolumeSpec("disk2", 0), ct))
        {
        }

        await pool.DeleteVolumeAsync("disk0", ct);
        await manager.RemovePoolAsync("logged", ct);

        Assert.Equal(
            [StorageEventIds.PoolDefined, StorageEventIds.VolumeCreated, StorageEventIds.VolumeResized, StorageEventIds.SnapshotCreated, StorageEventIds.SnapshotRolledBack,
             StorageEventIds.SnapshotDeleted, StorageEventIds.VolumeCloned, StorageEventIds.VolumeExported, StorageEventIds.VolumeImported, StorageEventIds.VolumeDeleted, StorageEventIds.PoolRemoved],
            log.Entries.Select(entry => entry.Id).ToArray());
        Assert.Contains(log.Entries, entry => entry.Message == "volume logged:disk0 resized to 2097152 bytes");
        Assert.All(log.Entries, entry => Assert.Equal(LogLevel.Information, entry.Level));
    }

    private sealed class RecordingLogger : ILogger<StorageManager>
    {
        public List<(int Id, LogLevel Level, string Message)> Entries { get; } = [];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (Entries)
            {
                Entries.Add((eventId.Id, logLevel, formatter(state, exception)));
            }
        }
    }
}
