using System.Runtime.CompilerServices;
using Virt.Storage;

namespace Virt.Testing;

/// <summary>
/// An <see cref="IStoragePool"/> that keeps volume records in memory: sizes, formats, snapshots and
/// backing chains, but no data. It throws what the dir pool throws (<see cref="VolumeNotFoundException"/>,
/// <see cref="VolumeStateException"/>) for the same mistakes.
/// </summary>
public sealed class InMemoryStoragePool : IStoragePool
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, VolumeInfo> _volumes = new(StringComparer.Ordinal);
    private readonly long _capacityBytes;

    /// <summary>Creates an empty pool.</summary>
    /// <param name="name">The pool's name (the first part of each <see cref="VolumeId"/>).</param>
    /// <param name="capacityBytes">What <see cref="GetStatusAsync"/> reports as the pool's size.</param>
    public InMemoryStoragePool(string name = "memory", long capacityBytes = 1L << 40)
    {
        Definition = new DirPoolDefinition(name, $"/nonexistent/{name}");
        _capacityBytes = capacityBytes;
    }

    /// <inheritdoc/>
    public StoragePoolDefinition Definition { get; }

    /// <inheritdoc/>
    public StorageCapabilities Capabilities => StorageCapabilities.Snapshots | StorageCapabilities.LinkedClones;

    /// <inheritdoc/>
    public Task<VolumeInfo> CreateVolumeAsync(VolumeSpec spec, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(spec.SizeBytes);
        var volume = NewVolume(spec.Name, spec.Format ?? VolumeFormat.Qcow2, spec.SizeBytes, []);
        lock (_gate)
        {
            return _volumes.TryAdd(spec.Name, volume) ? Task.FromResult(volume) : throw Exists(spec.Name);
        }
    }

    /// <inheritdoc/>
    public Task<VolumeInfo> GetVolumeAsync(string name, CancellationToken cancellationToken = default) => Task.FromResult(Find(name));

    /// <inheritdoc/>
    public Task<IReadOnlyList<VolumeInfo>> ListVolumesAsync(CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            return Task.FromResult<IReadOnlyList<VolumeInfo>>([.. _volumes.Values.OrderBy(v => v.Id.Name, StringComparer.Ordinal)]);
        }
    }

    /// <inheritdoc/>
    public Task<VolumeInfo> ResizeVolumeAsync(string name, long newSizeBytes, bool allowShrink = false, CancellationToken cancellationToken = default)
    {
        var volume = Find(name);
        if (newSizeBytes < volume.CapacityBytes && !allowShrink)
        {
            throw new VolumeStateException(volume.Id, $"shrinking from {volume.CapacityBytes} to {newSizeBytes} bytes loses the data past the new end: pass allowShrink: true if that is intended");
        }

        if (newSizeBytes < volume.CapacityBytes && volume.Snapshots.Count > 0)
        {
            throw new VolumeStateException(volume.Id, "a qcow2 image with snapshots cannot shrink: delete its snapshots first");
        }

        return Task.FromResult(Replace(volume with { CapacityBytes = newSizeBytes }));
    }

    /// <inheritdoc/>
    public async IAsyncEnumerable<StorageProgress> CloneVolumeAsync(string source, string target, bool linked, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var original = Find(source);
        var clone = NewVolume(target, original.Format, original.CapacityBytes, linked ? [original.Id, .. original.BackingChain] : []);
        lock (_gate)
        {
            if (!_volumes.TryAdd(target, clone))
            {
                throw Exists(target);
            }
        }

        await Task.Yield();
        yield return new StorageProgress("clone", 100, Completed: true);
    }

    /// <inheritdoc/>
    public Task<VolumeInfo> FlattenVolumeAsync(string name, CancellationToken cancellationToken = default)
    {
        var volume = Find(name);
        return volume.Snapshots.Count > 0
            ? throw new VolumeStateException(volume.Id, "flattening rewrites the image, which would drop its internal snapshots: delete them first")
            : Task.FromResult(Replace(volume with { BackingChain = [] }));
    }

    /// <inheritdoc/>
    public Task CreateSnapshotAsync(string name, string snapshot, CancellationToken cancellationToken = default)
    {
        var volume = Find(name);
        if (volume.Snapshots.Contains(snapshot))
        {
            throw new VolumeStateException(volume.Id, $"snapshot '{snapshot}' already exists: choose another name");
        }

        Replace(volume with { Snapshots = [.. volume.Snapshots, snapshot] });
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public Task RollbackSnapshotAsync(string name, string snapshot, CancellationToken cancellationToken = default)
    {
        RequireSnapshot(Find(name), snapshot);
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public Task DeleteSnapshotAsync(string name, string snapshot, CancellationToken cancellationToken = default)
    {
        var volume = Find(name);
        RequireSnapshot(volume, snapshot);
        Replace(volume with { Snapshots = [.. volume.Snapshots.Where(s => s != snapshot)] });
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public Task DeleteVolumeAsync(string name, CancellationToken cancellationToken = default)
    {
        var volume = Find(name);
        lock (_gate)
        {
            var clones = _volumes.Values.Where(v => v.BackingChain.Contains(volume.Id)).Select(v => v.Id.Name).ToList();
            if (clones.Count > 0)
            {
                throw new VolumeStateException(volume.Id, $"it is the base of linked clones {string.Join(", ", clones)}: delete them (or flatten them) first");
            }

            _volumes.Remove(name);
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public Task<bool> SupportsAsync(string name, VolumeFeature feature, CancellationToken cancellationToken = default)
    {
        var volume = Find(name);
        return Task.FromResult(volume.Format == VolumeFormat.Qcow2 || feature is VolumeFeature.Clone or VolumeFeature.Resize);
    }

    /// <inheritdoc/>
    public IAsyncEnumerable<StorageProgress> ImportAsync(string sourcePath, VolumeSpec spec, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException($"pool '{Definition.Name}': the in-memory pool holds no data to import into; test imports against a dir pool");

    /// <inheritdoc/>
    public IAsyncEnumerable<StorageProgress> ExportAsync(string name, string targetPath, VolumeFormat format, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException($"pool '{Definition.Name}': the in-memory pool holds no data to export; test exports against a dir pool");

    /// <inheritdoc/>
    public Task<StoragePoolStatus> GetStatusAsync(CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            var provisioned = _volumes.Values.Sum(v => v.CapacityBytes);
            return Task.FromResult(new StoragePoolStatus(_capacityBytes, _capacityBytes, 0, provisioned));
        }
    }

    private static void RequireSnapshot(VolumeInfo volume, string snapshot)
    {
        if (!volume.Snapshots.Contains(snapshot))
        {
            throw new VolumeStateException(volume.Id, $"it has no snapshot '{snapshot}' (it has: {(volume.Snapshots.Count == 0 ? "none" : string.Join(", ", volume.Snapshots))})");
        }
    }

    private VolumeInfo NewVolume(string name, VolumeFormat format, long capacityBytes, IReadOnlyList<VolumeId> backingChain) =>
        new(new VolumeId(Definition.Name, name), format, capacityBytes, 0, $"{Definition.Path}/{name}", backingChain, []);

    private VolumeInfo Find(string name)
    {
        lock (_gate)
        {
            return _volumes.TryGetValue(name, out var volume) ? volume : throw new VolumeNotFoundException(new VolumeId(Definition.Name, name));
        }
    }

    private VolumeInfo Replace(VolumeInfo volume)
    {
        lock (_gate)
        {
            _volumes[volume.Id.Name] = volume;
        }

        return volume;
    }

    private VolumeStateException Exists(string name) =>
        new(new VolumeId(Definition.Name, name), "it already exists: choose another name, or delete it first");
}
