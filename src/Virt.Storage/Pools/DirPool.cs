using System.Runtime.CompilerServices;
using Virt.Storage.Interop;
using Virt.Storage.Tools;

namespace Virt.Storage.Pools;

/// <summary>
/// A directory of image files (<c>images/NAME.qcow2</c> or <c>.raw</c>) driven through qemu-img: thin
/// qcow2 and sparse raw volumes, internal qcow2 snapshots, linked clones as qcow2 overlays whose backing
/// file is named relative to the pool (so the pool can move), full clones as reflinks where the file
/// system shares blocks (xfs with reflink, btrfs) and as sparse copies elsewhere.
/// </summary>
internal sealed class DirPool(StoragePoolDefinition definition, StorageContext context) : StoragePoolBase(definition, context)
{
    private bool? _reflink;

    public override StorageCapabilities Capabilities =>
        StorageCapabilities.Snapshots | StorageCapabilities.LinkedClones | (SupportsReflink() ? StorageCapabilities.ReflinkClones : StorageCapabilities.None);

    public override async Task<VolumeInfo> CreateVolumeAsync(VolumeSpec spec, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var name = CheckName(spec.Name);
        CheckSize(spec.SizeBytes, IdOf(name));
        var format = spec.Format ?? VolumeFormat.Qcow2;
        using var held = await LockAsync(name, "create", cancellationToken).ConfigureAwait(false);
        RefuseIfExists(name);
        var temporary = TemporaryPath(ImagesDirectory, name, Extension(format));
        await BuildAsync(temporary, name, format, ct => Context.QemuImg.CreateAsync(temporary, format, spec.SizeBytes, null, null, ct), cancellationToken).ConfigureAwait(false);
        return await GetVolumeAsync(name, cancellationToken).ConfigureAwait(false);
    }

    public override async Task<VolumeInfo> GetVolumeAsync(string name, CancellationToken cancellationToken = default)
    {
        var path = FindVolume(CheckName(name)) ?? throw new VolumeNotFoundException(IdOf(name));
        return await DescribeAsync(name, path, cancellationToken).ConfigureAwait(false);
    }

    public override async Task<IReadOnlyList<VolumeInfo>> ListVolumesAsync(CancellationToken cancellationToken = default)
    {
        Directory.CreateDirectory(ImagesDirectory);
        var volumes = new List<VolumeInfo>();
        foreach (var file in Directory.GetFiles(ImagesDirectory).Order(StringComparer.Ordinal))
        {
            if (IsTemporary(file))
            {
                // Half-built by a process that is gone: never listed, and swept.
                if (IsAbandoned(file))
                {
                    File.Delete(file);
                }

                continue;
            }

            var name = Path.GetFileNameWithoutExtension(file);
            if (FormatOf(file) is not null && VolumeId.IsValidName(name))
            {
                volumes.Add(await DescribeAsync(name, file, cancellationToken).ConfigureAwait(false));
            }
        }

        return volumes;
    }

    public override async Task<VolumeInfo> ResizeVolumeAsync(string name, long newSizeBytes, bool allowShrink = false, CancellationToken cancellationToken = default)
    {
        CheckSize(newSizeBytes, IdOf(CheckName(name)));
        using var held = await LockAsync(name, "resize", cancellationToken).ConfigureAwait(false);
        var volume = await GetVolumeAsync(name, cancellationToken).ConfigureAwait(false);
        RefuseShrinkWithoutConsent(volume, newSizeBytes, allowShrink);

        if (newSizeBytes < volume.CapacityBytes && volume.Snapshots.Count > 0)
        {
            throw new VolumeStateException(volume.Id, "a qcow2 image with snapshots cannot shrink: delete its snapshots first");
        }

        await Context.QemuImg.ResizeAsync(volume.Path, volume.Format, newSizeBytes, newSizeBytes < volume.CapacityBytes, cancellationToken).ConfigureAwait(false);
        return await GetVolumeAsync(name, cancellationToken).ConfigureAwait(false);
    }

    public override async Task<VolumeInfo> CloneVolumeAsync(string source, string target, bool linked, IProgress<StorageProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        CheckName(source);
        CheckName(target);
        using var sourceLock = await LockAsync(source, "clone", cancellationToken).ConfigureAwait(false);
        using var targetLock = await LockAsync(target, "create", cancellationToken).ConfigureAwait(false);
        var origin = await GetVolumeAsync(source, cancellationToken).ConfigureAwait(false);
        RefuseIfExists(target);
        if (linked)
        {
            // The overlay names its base relative to itself (both in images/), so the pool can be moved or mounted elsewhere.
            var overlay = TemporaryPath(ImagesDirectory, target, ".qcow2");
            await BuildAsync(overlay, target, VolumeFormat.Qcow2, ct => Context.QemuImg.CreateAsync(overlay, VolumeFormat.Qcow2, 0, Path.GetFileName(origin.Path), origin.Format, ct), cancellationToken).ConfigureAwait(false);
            progress?.Report(new StorageProgress("clone", 100, true));
            return await GetVolumeAsync(target, cancellationToken).ConfigureAwait(false);
        }

        var copy = TemporaryPath(ImagesDirectory, target, Extension(origin.Format));
        await BuildAsync(copy, target, origin.Format, async ct =>
        {
            // A reflink shares every block at once; a volume with a backing chain is flattened instead, so the clone stands alone.
            if (origin.BackingChain.Count == 0 && SupportsReflink() && Reflink.TryClone(origin.Path, copy))
            {
                return;
            }

            await foreach (var percent in Context.QemuImg.ConvertAsync(origin.Path, QemuImg.Name(origin.Format), copy, origin.Format, ct).ConfigureAwait(false))
            {
                progress?.Report(new StorageProgress("clone", percent, false));
            }
        }, cancellationToken).ConfigureAwait(false);
        progress?.Report(new StorageProgress("clone", 100, true));
        return await GetVolumeAsync(target, cancellationToken).ConfigureAwait(false);
    }

    public override async Task<VolumeInfo> FlattenVolumeAsync(string name, CancellationToken cancellationToken = default)
    {
        using var held = await LockAsync(CheckName(name), "flatten", cancellationToken).ConfigureAwait(false);
        var volume = await GetVolumeAsync(name, cancellationToken).ConfigureAwait(false);
        if (volume.BackingChain.Count == 0)
        {
            return volume;
        }

        RefuseIfInUse(name, "flatten");
        if (volume.Snapshots.Count > 0)
        {
            throw new VolumeStateException(volume.Id, "flattening rewrites the image, which would drop its internal snapshots: delete them first");
        }

        // A stand-alone copy of the whole chain, then renamed over the overlay.
        var flat = TemporaryPath(ImagesDirectory, name, Extension(volume.Format));
        try
        {
            await foreach (var _ in Context.QemuImg.ConvertAsync(volume.Path, QemuImg.Name(volume.Format), flat, volume.Format, cancellationToken).ConfigureAwait(false))
            {
            }

            File.Move(flat, volume.Path, overwrite: true);
        }
        finally
        {
            File.Delete(flat);
        }

        return await GetVolumeAsync(name, cancellationToken).ConfigureAwait(false);
    }

    public override async Task CreateSnapshotAsync(string name, string snapshot, CancellationToken cancellationToken = default)
    {
        var volume = await RequireQcow2Async(name, snapshot, "snapshot", cancellationToken).ConfigureAwait(false);
        using var held = await LockAsync(name, "snapshot", cancellationToken).ConfigureAwait(false);
        if (volume.Snapshots.Contains(snapshot))
        {
            throw new VolumeStateException(volume.Id, $"snapshot '{snapshot}' already exists: choose another name");
        }

        await Context.QemuImg.SnapshotAsync("-c", volume.Path, snapshot, cancellationToken).ConfigureAwait(false);
    }

    public override async Task RollbackSnapshotAsync(string name, string snapshot, CancellationToken cancellationToken = default)
    {
        var volume = await RequireQcow2Async(name, snapshot, "roll back", cancellationToken).ConfigureAwait(false);
        using var held = await LockAsync(name, "roll back", cancellationToken).ConfigureAwait(false);
        RefuseIfInUse(name, "roll back");
        RequireSnapshot(volume, snapshot);
        await Context.QemuImg.SnapshotAsync("-a", volume.Path, snapshot, cancellationToken).ConfigureAwait(false);
    }

    public override async Task DeleteSnapshotAsync(string name, string snapshot, CancellationToken cancellationToken = default)
    {
        var volume = await RequireQcow2Async(name, snapshot, "delete a snapshot of", cancellationToken).ConfigureAwait(false);
        using var held = await LockAsync(name, "delete a snapshot", cancellationToken).ConfigureAwait(false);
        RequireSnapshot(volume, snapshot);
        await Context.QemuImg.SnapshotAsync("-d", volume.Path, snapshot, cancellationToken).ConfigureAwait(false);
    }

    public override async Task DeleteVolumeAsync(string name, CancellationToken cancellationToken = default)
    {
        using var held = await LockAsync(CheckName(name), "delete", cancellationToken).ConfigureAwait(false);
        var volume = await GetVolumeAsync(name, cancellationToken).ConfigureAwait(false);
        RefuseIfInUse(name, "delete");
        var clones = (await ListVolumesAsync(cancellationToken).ConfigureAwait(false)).Where(other => other.BackingChain.Contains(volume.Id)).Select(other => other.Id.ToString()).ToList();
        if (clones.Count > 0)
        {
            throw new VolumeStateException(volume.Id, $"it is the base of linked clones {string.Join(", ", clones)}: delete them (or make them full clones) first");
        }

        File.Delete(volume.Path);
        ForgetInUse(name);
    }

    public override async Task<bool> SupportsAsync(string name, VolumeFeature feature, CancellationToken cancellationToken = default)
    {
        var volume = await GetVolumeAsync(name, cancellationToken).ConfigureAwait(false);
        return feature switch
        {
            VolumeFeature.Snapshot or VolumeFeature.Rollback => volume.Format == VolumeFormat.Qcow2,
            VolumeFeature.Resize => volume.Snapshots.Count == 0 || volume.Format == VolumeFormat.Qcow2,
            _ => true,
        };
    }

    public override async IAsyncEnumerable<StorageProgress> ImportAsync(string sourcePath, VolumeSpec spec, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var name = CheckName(spec.Name);
        RequireImportSource(sourcePath, name);

        var format = spec.Format ?? VolumeFormat.Qcow2;
        using var held = await LockAsync(name, "import", cancellationToken).ConfigureAwait(false);
        RefuseIfExists(name);
        Directory.CreateDirectory(ImagesDirectory);
        var temporary = TemporaryPath(ImagesDirectory, name, Extension(format));
        var done = false;
        try
        {
            await foreach (var percent in Context.QemuImg.ConvertAsync(sourcePath, null, temporary, format, cancellationToken).ConfigureAwait(false))
            {
                yield return new StorageProgress("import", percent, false);
            }

            var imported = await Context.QemuImg.InfoAsync(temporary, cancellationToken).ConfigureAwait(false);
            if (spec.SizeBytes > imported.VirtualSize)
            {
                await Context.QemuImg.ResizeAsync(temporary, format, spec.SizeBytes, false, cancellationToken).ConfigureAwait(false);
            }

            File.Move(temporary, Path.Combine(ImagesDirectory, name + Extension(format)));
            done = true;
        }
        finally
        {
            if (!done)
            {
                File.Delete(temporary);
            }
        }

        yield return new StorageProgress("import", 100, true);
    }

    /// <summary>Builds a volume under a temporary name and renames it into place; on any failure the temporary file is removed.</summary>
    private async Task BuildAsync(string temporary, string name, VolumeFormat format, Func<CancellationToken, Task> build, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(ImagesDirectory);
        try
        {
            await build(cancellationToken).ConfigureAwait(false);
            File.Move(temporary, Path.Combine(ImagesDirectory, name + Extension(format)));
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }

    private async Task<VolumeInfo> DescribeAsync(string name, string path, CancellationToken cancellationToken)
    {
        var info = await Context.QemuImg.InfoAsync(path, cancellationToken).ConfigureAwait(false);
        var chain = new List<VolumeId>();
        var backing = info.BackingFile;
        while (backing is not null && chain.Count < 64)
        {
            var backingPath = Path.Combine(ImagesDirectory, backing);
            chain.Add(IdOf(Path.GetFileNameWithoutExtension(backing)));
            backing = File.Exists(backingPath) ? (await Context.QemuImg.InfoAsync(backingPath, cancellationToken).ConfigureAwait(false)).BackingFile : null;
        }

        return new VolumeInfo(IdOf(name), info.Format == "qcow2" ? VolumeFormat.Qcow2 : VolumeFormat.Raw, info.VirtualSize, info.ActualSize, path, chain, info.Snapshots);
    }

    private async Task<VolumeInfo> RequireQcow2Async(string name, string snapshot, string operation, CancellationToken cancellationToken)
    {
        CheckName(snapshot, "snapshot");
        var volume = await GetVolumeAsync(name, cancellationToken).ConfigureAwait(false);
        if (volume.Format != VolumeFormat.Qcow2)
        {
            throw new VolumeStateException(volume.Id, $"cannot {operation} it: a raw file has no snapshots; use qcow2 in a dir pool, or a btrfs pool");
        }

        return volume;
    }

    private void RefuseIfExists(string name)
    {
        if (FindVolume(name) is not null)
        {
            throw new VolumeStateException(IdOf(name), "it already exists: choose another name, or delete it first");
        }
    }

    private string? FindVolume(string name) =>
        new[] { VolumeFormat.Qcow2, VolumeFormat.Raw }.Select(format => Path.Combine(ImagesDirectory, name + Extension(format))).FirstOrDefault(File.Exists);

    private static VolumeFormat? FormatOf(string path) => Path.GetExtension(path) switch
    {
        ".qcow2" => VolumeFormat.Qcow2,
        ".raw" => VolumeFormat.Raw,
        _ => null,
    };

    private static string Extension(VolumeFormat format) => format == VolumeFormat.Qcow2 ? ".qcow2" : ".raw";

    /// <summary>Whether the pool's file system shares blocks between files: tried once with two scratch files.</summary>
    private bool SupportsReflink()
    {
        if (_reflink is { } known)
        {
            return known;
        }

        Directory.CreateDirectory(ImagesDirectory);
        var probe = TemporaryPath(ImagesDirectory, "reflink-probe");
        File.WriteAllBytes(probe, new byte[4096]);
        try
        {
            var clone = probe + ".clone";
            var supported = Reflink.TryClone(probe, clone);
            File.Delete(clone);
            _reflink = supported;
            return supported;
        }
        finally
        {
            File.Delete(probe);
        }
    }
}
