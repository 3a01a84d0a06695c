using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;

namespace Virt.Storage.Pools;

/// <summary>
/// The log line of each change, written where a caller's request enters the pool (the interface), so that every
/// driver logs alike and a driver's own calls to its public methods (an import creating a volume) are not logged twice.
/// </summary>
internal abstract partial class StoragePoolBase
{
    private ILogger Logger => Context.Logger;

    async Task<VolumeInfo> IStoragePool.CreateVolumeAsync(VolumeSpec spec, CancellationToken cancellationToken)
    {
        var volume = await CreateVolumeAsync(spec, cancellationToken).ConfigureAwait(false);
        Log.VolumeCreated(Logger, volume.Id, volume.Format, volume.CapacityBytes);
        return volume;
    }

    async Task<VolumeInfo> IStoragePool.ResizeVolumeAsync(string name, long newSizeBytes, bool allowShrink, CancellationToken cancellationToken)
    {
        var volume = await ResizeVolumeAsync(name, newSizeBytes, allowShrink, cancellationToken).ConfigureAwait(false);
        Log.VolumeResized(Logger, volume.Id, volume.CapacityBytes);
        return volume;
    }

    async IAsyncEnumerable<StorageProgress> IStoragePool.CloneVolumeAsync(string source, string target, bool linked, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // Logged when the last step reports completion, before it is handed on, as for imports.
        await foreach (var progress in CloneVolumeAsync(source, target, linked, cancellationToken).ConfigureAwait(false))
        {
            if (progress.Completed)
            {
                Log.VolumeCloned(Logger, IdOf(source), IdOf(target), linked);
            }

            yield return progress;
        }
    }

    async Task<VolumeInfo> IStoragePool.FlattenVolumeAsync(string name, CancellationToken cancellationToken)
    {
        var volume = await FlattenVolumeAsync(name, cancellationToken).ConfigureAwait(false);
        Log.VolumeFlattened(Logger, volume.Id);
        return volume;
    }

    async Task IStoragePool.CreateSnapshotAsync(string name, string snapshot, CancellationToken cancellationToken)
    {
        await CreateSnapshotAsync(name, snapshot, cancellationToken).ConfigureAwait(false);
        Log.SnapshotCreated(Logger, IdOf(name), snapshot);
    }

    async Task IStoragePool.RollbackSnapshotAsync(string name, string snapshot, CancellationToken cancellationToken)
    {
        await RollbackSnapshotAsync(name, snapshot, cancellationToken).ConfigureAwait(false);
        Log.SnapshotRolledBack(Logger, IdOf(name), snapshot);
    }

    async Task IStoragePool.DeleteSnapshotAsync(string name, string snapshot, CancellationToken cancellationToken)
    {
        await DeleteSnapshotAsync(name, snapshot, cancellationToken).ConfigureAwait(false);
        Log.SnapshotDeleted(Logger, IdOf(name), snapshot);
    }

    async Task IStoragePool.DeleteVolumeAsync(string name, CancellationToken cancellationToken)
    {
        await DeleteVolumeAsync(name, cancellationToken).ConfigureAwait(false);
        Log.VolumeDeleted(Logger, IdOf(name));
    }

    async IAsyncEnumerable<StorageProgress> IStoragePool.ImportAsync(string sourcePath, VolumeSpec spec, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // Logged when the last step reports completion, before it is handed on: a caller may stop reading there.
        await foreach (var progress in ImportAsync(sourcePath, spec, cancellationToken).ConfigureAwait(false))
        {
            if (progress.Completed)
            {
                Log.VolumeImported(Logger, IdOf(spec.Name), sourcePath);
            }

            yield return progress;
        }
    }

    async IAsyncEnumerable<StorageProgress> IStoragePool.ExportAsync(string name, string targetPath, VolumeFormat format, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // Logged when the last step reports completion, before it is handed on: a caller may stop reading there.
        await foreach (var progress in ExportAsync(name, targetPath, format, cancellationToken).ConfigureAwait(false))
        {
            if (progress.Completed)
            {
                Log.VolumeExported(Logger, IdOf(name), targetPath, format);
            }

            yield return progress;
        }
    }
}
