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
/// <remarks>
/// A volume's format is recorded in its file name when it is made (<c>.qcow2</c> or <c>.raw</c>, chosen
/// by the pool, never by the bytes) and every qemu-img call names it; nothing here asks qemu-img to
/// guess. A raw volume is the guest's to write, header included, so a guest that writes a qcow2 header
/// naming <c>/etc/shadow</c> as its backing file still has a raw disk, cloned, exported and started as
/// raw. A qcow2 volume's header is the pool's (the guest sees only its data), and its backing file must
/// be another volume of the pool, named plainly and recorded with that volume's format — anything else
/// (a host path, <c>json:</c>, a format that differs, an external data file) is refused before any tool
/// opens it. Volumes of pools made before this rule have their format in their names already.
/// Volume files are created 0600 in a 0700 <c>images/</c>.
/// </remarks>
internal sealed class DirPool(DirPoolDefinition definition, StorageContext context) : StoragePoolBase(definition, context)
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
        CreatePrivateDirectory(ImagesDirectory);
        var volumes = new List<VolumeInfo>();
        foreach (var file in Files.Directory.GetFiles(ImagesDirectory).Order(StringComparer.Ordinal))
        {
            if (IsTemporary(file))
            {
                // Half-built by a process that is gone: never listed, and swept.
                if (IsAbandoned(file))
                {
                    Files.File.Delete(file);
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

    public override async IAsyncEnumerable<StorageProgress> CloneVolumeAsync(string source, string target, bool linked, [EnumeratorCancellation] CancellationToken cancellationToken = default)
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
            yield return new StorageProgress("clone", 100, true);
            yield break;
        }

        // Built inline rather than through BuildAsync: the copy's progress is yielded, which a callback cannot do.
        CreatePrivateDirectory(ImagesDirectory);
        var copy = CreatePrivateFile(TemporaryPath(ImagesDirectory, target, Extension(origin.Format)));
        var done = false;
        try
        {
            // A reflink shares every block at once; a volume with a backing chain is flattened instead, so the clone stands alone.
            if (origin.BackingChain.Count > 0 || !SupportsReflink() || !Reflink.TryClone(origin.Path, copy))
            {
                await foreach (var percent in Context.QemuImg.ConvertAsync(origin.Path, origin.Format, copy, origin.Format, cancellationToken).ConfigureAwait(false))
                {
                    yield return new StorageProgress("clone", percent, false);
                }
            }

            Files.File.Move(copy, Path.Combine(ImagesDirectory, target + Extension(origin.Format)));
            done = true;
        }
        finally
        {
            if (!done)
            {
                Files.File.Delete(copy);
            }
        }

        yield return new StorageProgress("clone", 100, true);
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
        var flat = CreatePrivateFile(TemporaryPath(ImagesDirectory, name, Extension(volume.Format)));
        try
        {
            await foreach (var _ in Context.QemuImg.ConvertAsync(volume.Path, volume.Format, flat, volume.Format, cancellationToken).ConfigureAwait(false))
            {
            }

            Files.File.Move(flat, volume.Path, overwrite: true);
        }
        finally
        {
            Files.File.Delete(flat);
        }

        return await GetVolumeAsync(name, cancellationToken).ConfigureAwait(false);
    }

    public override async Task CreateSnapshotAsync(string name, string snapshot, CancellationToken cancellationToken = default)
    {
        using var held = await LockAsync(CheckName(name), "snapshot", cancellationToken).ConfigureAwait(false);
        var volume = await RequireQcow2Async(name, snapshot, "snapshot", cancellationToken).ConfigureAwait(false);
        if (volume.Snapshots.Contains(snapshot))
        {
            throw new VolumeStateException(volume.Id, $"snapshot '{snapshot}' already exists: choose another name");
        }

        await Context.QemuImg.SnapshotAsync("-c", volume.Path, snapshot, cancellationToken).ConfigureAwait(false);
    }

    public override async Task RollbackSnapshotAsync(string name, string snapshot, CancellationToken cancellationToken = default)
    {
        using var held = await LockAsync(CheckName(name), "roll back", cancellationToken).ConfigureAwait(false);
        var volume = await RequireQcow2Async(name, snapshot, "roll back", cancellationToken).ConfigureAwait(false);
        RefuseIfInUse(name, "roll back");
        RequireSnapshot(volume, snapshot);
        await Context.QemuImg.SnapshotAsync("-a", volume.Path, snapshot, cancellationToken).ConfigureAwait(false);
    }

    public override async Task DeleteSnapshotAsync(string name, string snapshot, CancellationToken cancellationToken = default)
    {
        using var held = await LockAsync(CheckName(name), "delete a snapshot", cancellationToken).ConfigureAwait(false);
        var volume = await RequireQcow2Async(name, snapshot, "delete a snapshot of", cancellationToken).ConfigureAwait(false);
        RequireSnapshot(volume, snapshot);
        await Context.QemuImg.SnapshotAsync("-d", volume.Path, snapshot, cancellationToken).ConfigureAwait(false);
    }

    public override async Task DeleteVolumeAsync(string name, CancellationToken cancellationToken = default)
    {
        using var held = await LockAsync(CheckName(name), "delete", cancellationToken).ConfigureAwait(false);

        // Found by its file, not described: a volume whose header is refused (see the remarks) can still be deleted.
        var path = FindVolume(name) ?? throw new VolumeNotFoundException(IdOf(name));
        RefuseIfInUse(name, "delete");
        var clones = new List<string>();
        foreach (var overlay in Files.Directory.GetFiles(ImagesDirectory, "*.qcow2").Where(file => !IsTemporary(file) && file != path))
        {
            if ((await Context.QemuImg.InfoAsync(overlay, VolumeFormat.Qcow2, cancellationToken).ConfigureAwait(false)).BackingFile == Path.GetFileName(path))
            {
                clones.Add(IdOf(Path.GetFileNameWithoutExtension(overlay)).ToString());
            }
        }

        if (clones.Count > 0)
        {
            throw new VolumeStateException(IdOf(name), $"it is the base of linked clones {string.Join(", ", clones)}: delete them (or make them full clones) first");
        }

        Files.File.Delete(path);
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
        var sourceFormat = await ProbeImportSourceAsync(sourcePath, name, cancellationToken).ConfigureAwait(false);
        CreatePrivateDirectory(ImagesDirectory);
        var temporary = CreatePrivateFile(TemporaryPath(ImagesDirectory, name, Extension(format)));
        var done = false;
        try
        {
            await foreach (var percent in Context.QemuImg.ConvertForeignAsync(sourcePath, sourceFormat, temporary, format, cancellationToken).ConfigureAwait(false))
            {
                yield return new StorageProgress("import", percent, false);
            }

            var imported = await Context.QemuImg.InfoAsync(temporary, format, cancellationToken).ConfigureAwait(false);
            if (spec.SizeBytes > imported.VirtualSize)
            {
                await Context.QemuImg.ResizeAsync(temporary, format, spec.SizeBytes, false, cancellationToken).ConfigureAwait(false);
            }

            Files.File.Move(temporary, Path.Combine(ImagesDirectory, name + Extension(format)));
            done = true;
        }
        finally
        {
            if (!done)
            {
                Files.File.Delete(temporary);
            }
        }

        yield return new StorageProgress("import", 100, true);
    }

    /// <summary>Builds a volume under a temporary name and renames it into place; on any failure the temporary file is removed.</summary>
    private async Task BuildAsync(string temporary, string name, VolumeFormat format, Func<CancellationToken, Task> build, CancellationToken cancellationToken)
    {
        CreatePrivateDirectory(ImagesDirectory);
        try
        {
            // 0600 from the start: qemu-img and the reflink write into the file they find, keeping its mode.
            CreatePrivateFile(temporary);
            await build(cancellationToken).ConfigureAwait(false);
            Files.File.Move(temporary, Path.Combine(ImagesDirectory, name + Extension(format)));
        }
        catch
        {
            Files.File.Delete(temporary);
            throw;
        }
    }

    /// <summary>Describes a volume opened as its recorded format, refusing a header that names anything but the pool's own volumes (see the remarks).</summary>
    private async Task<VolumeInfo> DescribeAsync(string name, string path, CancellationToken cancellationToken)
    {
        var format = FormatOf(path) ?? throw new VolumeNotFoundException(IdOf(name));
        var info = await Context.QemuImg.InfoAsync(path, format, cancellationToken).ConfigureAwait(false);
        var chain = new List<VolumeId>();
        var current = info;
        while (true)
        {
            RefuseForeignFiles(name, current);
            if (current.BackingFile is null)
            {
                break;
            }

            if (chain.Count == 64)
            {
                throw new VolumeStateException(IdOf(name), "its chain of backing files is longer than 64 (or loops): flatten it with qemu-img convert");
            }

            var backing = Path.Combine(ImagesDirectory, current.BackingFile);
            chain.Add(IdOf(Path.GetFileNameWithoutExtension(current.BackingFile)));
            current = await Context.QemuImg.InfoAsync(backing, FormatOf(backing)!.Value, cancellationToken).ConfigureAwait(false);
        }

        return new VolumeInfo(IdOf(name), format, info.VirtualSize, info.ActualSize, path, chain, info.Snapshots);
    }

    /// <summary>
    /// Refuses an image (a volume, or one of its bases) whose header names a file that is not a volume of
    /// this pool in its recorded format: a host path, a <c>json:</c> or protocol name, a relative path that
    /// climbs out, a base recorded as another format, a base with no recorded format (qemu would guess it),
    /// or a qcow2 external data file.
    /// </summary>
    private void RefuseForeignFiles(string name, QemuImageInfo image)
    {
        if (image.DataFile is not null)
        {
            throw new VolumeStateException(IdOf(name), $"its qcow2 header names the external data file '{image.DataFile}', which the pool never makes: it will not be opened; delete the volume");
        }

        if (image.BackingFile is not { } backing)
        {
            return;
        }

        var baseFormat = FormatOf(backing);
        var plain = backing.Length > 0 && Path.GetFileName(backing) == backing && !backing.Contains(':', StringComparison.Ordinal)
            && baseFormat is not null && VolumeId.IsValidName(Path.GetFileNameWithoutExtension(backing)) && !IsTemporary(backing);
        if (!plain || !Files.File.Exists(Path.Combine(ImagesDirectory, backing)))
        {
            throw new VolumeStateException(IdOf(name), $"its qcow2 header names the backing file '{backing}', which is not a volume of pool '{Definition.Name}': it will not be opened (reading it would copy a file from outside the pool into the disk); delete the volume");
        }

        if (image.BackingFormat != QemuImg.Name(baseFormat!.Value))
        {
            throw new VolumeStateException(IdOf(name), $"its qcow2 header records its base '{backing}' as {image.BackingFormat ?? "no format (qemu would guess it from the base's bytes)"}, but that volume is {QemuImg.Name(baseFormat.Value)}: it will not be opened; if the base is right, record its format with qemu-img rebase -u -f qcow2 -F {QemuImg.Name(baseFormat.Value)} -b {backing} IMAGE");
        }
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
        new[] { VolumeFormat.Qcow2, VolumeFormat.Raw }.Select(format => Path.Combine(ImagesDirectory, name + Extension(format))).FirstOrDefault(Files.File.Exists);

    /// <summary>A volume file's recorded format: the extension the pool gave it when it made it.</summary>
    private static VolumeFormat? FormatOf(string path) => Path.GetExtension(path) switch
    {
        ".qcow2" => VolumeFormat.Qcow2,
        ".raw" => VolumeFormat.Raw,
        _ => null,
    };

    private static string Extension(VolumeFormat format) => format == VolumeFormat.Qcow2 ? ".qcow2" : ".raw";

    /// <summary>
    /// Whether the pool's file system shares blocks between files: tried once with two scratch files. Only the
    /// host's own file system can (the ioctl needs real files); any other one copies.
    /// </summary>
    private bool SupportsReflink()
    {
        if (_reflink is { } known)
        {
            return known;
        }

        if (!Context.FilesAreOnHost)
        {
            _reflink = false;
            return false;
        }

        CreatePrivateDirectory(ImagesDirectory);
        var probe = CreatePrivateFile(TemporaryPath(ImagesDirectory, "reflink-probe"));
        try
        {
            Files.File.WriteAllBytes(probe, new byte[4096]);
            var clone = CreatePrivateFile(probe + ".clone");
            var supported = Reflink.TryClone(probe, clone);
            Files.File.Delete(clone);
            _reflink = supported;
            return supported;
        }
        finally
        {
            Files.File.Delete(probe);
        }
    }
}
