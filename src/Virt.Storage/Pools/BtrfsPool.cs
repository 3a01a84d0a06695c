using System.Runtime.CompilerServices;
using Virt.IO;
using Virt.Processes;

namespace Virt.Storage.Pools;

/// <summary>
/// A btrfs pool: each volume is a subvolume (<c>images/NAME/</c>) holding one sparse raw file
/// (<c>disk.raw</c>), as Proxmox lays it out. Snapshots are read-only subvolume snapshots
/// (<c>snapshots/NAME/SNAP</c>); a full clone is a writable subvolume snapshot, so it shares every
/// block and takes constant time whatever the size. btrfs has no backing files, so no linked clones.
/// </summary>
/// <remarks>
/// Every volume is raw, recorded so by the driver: the disk file is never described by its bytes, and an
/// export reads it as raw (<c>-f raw</c>) whatever header its guest wrote. Disk files are created 0600,
/// under 0700 <c>images/</c> and <c>snapshots/</c>.
/// </remarks>
internal sealed class BtrfsPool(BtrfsPoolDefinition definition, StorageContext context) : StoragePoolBase(definition, context)
{
    private const string DiskFile = "disk.raw";

    public override StorageCapabilities Capabilities => StorageCapabilities.Snapshots | StorageCapabilities.ReflinkClones | (definition.Quotas ? StorageCapabilities.Quotas : StorageCapabilities.None);

    private string SnapshotsDirectory => Path.Combine(Definition.Path, "snapshots");

    public override async Task<VolumeInfo> CreateVolumeAsync(VolumeSpec spec, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var name = CheckName(spec.Name);
        CheckSize(spec.SizeBytes, IdOf(name));
        RequireRaw(spec.Format, name, "btrfs");
        using var held = await LockAsync(name, "create", cancellationToken).ConfigureAwait(false);
        RefuseIfExists(name);
        await BuildSubvolumeAsync(name, async temporary =>
        {
            await BtrfsAsync(["subvolume", "create", temporary], cancellationToken).ConfigureAwait(false);
            CloseSubvolume(temporary);
            using (var disk = OwnerOnly.Open(Files, Path.Combine(temporary, DiskFile), FileMode.CreateNew, FileAccess.Write))
            {
                disk.SetLength(spec.SizeBytes);
            }

            await LimitAsync(temporary, spec.SizeBytes, cancellationToken).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
        return await GetVolumeAsync(name, cancellationToken).ConfigureAwait(false);
    }

    public override async Task<VolumeInfo> GetVolumeAsync(string name, CancellationToken cancellationToken = default)
    {
        var directory = Path.Combine(ImagesDirectory, CheckName(name));
        if (!Files.File.Exists(Path.Combine(directory, DiskFile)))
        {
            throw new VolumeNotFoundException(IdOf(name));
        }

        return await DescribeAsync(name, cancellationToken).ConfigureAwait(false);
    }

    public override async Task<IReadOnlyList<VolumeInfo>> ListVolumesAsync(CancellationToken cancellationToken = default)
    {
        CreatePrivateDirectory(ImagesDirectory);
        CreatePrivateDirectory(SnapshotsDirectory);
        var volumes = new List<VolumeInfo>();
        foreach (var directory in Files.Directory.GetDirectories(ImagesDirectory).Order(StringComparer.Ordinal))
        {
            if (IsTemporary(directory))
            {
                if (IsAbandoned(directory))
                {
                    await DeleteSubvolumeAsync(directory, cancellationToken).ConfigureAwait(false);
                }

                continue;
            }

            var name = Path.GetFileName(directory);
            if (VolumeId.IsValidName(name) && Files.File.Exists(Path.Combine(directory, DiskFile)))
            {
                volumes.Add(await DescribeAsync(name, cancellationToken).ConfigureAwait(false));
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

        using (var disk = Files.FileStream.New(volume.Path, FileMode.Open, FileAccess.Write))
        {
            disk.SetLength(newSizeBytes);
        }

        await LimitAsync(Path.Combine(ImagesDirectory, name), newSizeBytes, cancellationToken).ConfigureAwait(false);

        return await GetVolumeAsync(name, cancellationToken).ConfigureAwait(false);
    }

    public override async IAsyncEnumerable<StorageProgress> CloneVolumeAsync(string source, string target, bool linked, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        CheckName(source);
        CheckName(target);
        if (linked)
        {
            throw new StorageException(VirtErrorKind.Refused, $"pool '{Definition.Name}' (btrfs) has no linked clones: clone with linked: false, which is a subvolume snapshot and shares every block just the same");
        }

        using var sourceLock = await LockAsync(source, "clone", cancellationToken).ConfigureAwait(false);
        using var targetLock = await LockAsync(target, "create", cancellationToken).ConfigureAwait(false);
        await GetVolumeAsync(source, cancellationToken).ConfigureAwait(false);
        RefuseIfExists(target);
        await BuildSubvolumeAsync(target, temporary => BtrfsAsync(["subvolume", "snapshot", Path.Combine(ImagesDirectory, source), temporary], cancellationToken), cancellationToken).ConfigureAwait(false);
        yield return new StorageProgress("clone", 100, true);
    }

    /// <summary>btrfs volumes never have a base: a clone is a subvolume snapshot that stands alone already.</summary>
    public override Task<VolumeInfo> FlattenVolumeAsync(string name, CancellationToken cancellationToken = default) => GetVolumeAsync(name, cancellationToken);

    public override async Task CreateSnapshotAsync(string name, string snapshot, CancellationToken cancellationToken = default)
    {
        CheckName(snapshot, "snapshot");
        using var held = await LockAsync(CheckName(name), "snapshot", cancellationToken).ConfigureAwait(false);
        await GetVolumeAsync(name, cancellationToken).ConfigureAwait(false);
        var path = Path.Combine(SnapshotsDirectory, name, snapshot);
        if (Files.Directory.Exists(path))
        {
            throw new VolumeStateException(IdOf(name), $"snapshot '{snapshot}' already exists: choose another name");
        }

        CreatePrivateDirectory(Path.Combine(SnapshotsDirectory, name));
        await BtrfsAsync(["subvolume", "snapshot", "-r", Path.Combine(ImagesDirectory, name), path], cancellationToken).ConfigureAwait(false);
    }

    public override async Task RollbackSnapshotAsync(string name, string snapshot, CancellationToken cancellationToken = default)
    {
        CheckName(snapshot, "snapshot");
        using var held = await LockAsync(CheckName(name), "roll back", cancellationToken).ConfigureAwait(false);
        var volume = await GetVolumeAsync(name, cancellationToken).ConfigureAwait(false);
        RefuseIfInUse(name, "roll back");
        RequireSnapshot(volume, snapshot);

        // A writable copy of the snapshot first; the live subvolume is set aside only once that exists, then removed.
        var current = Path.Combine(ImagesDirectory, name);
        var restored = TemporaryPath(ImagesDirectory, name);
        await BtrfsAsync(["subvolume", "snapshot", Path.Combine(SnapshotsDirectory, name, snapshot), restored], cancellationToken).ConfigureAwait(false);
        var old = TemporaryPath(ImagesDirectory, name, ".old");
        Files.Directory.Move(current, old);
        Files.Directory.Move(restored, current);
        await DeleteSubvolumeAsync(old, CancellationToken.None).ConfigureAwait(false);
    }

    public override async Task DeleteSnapshotAsync(string name, string snapshot, CancellationToken cancellationToken = default)
    {
        CheckName(snapshot, "snapshot");
        using var held = await LockAsync(CheckName(name), "delete a snapshot", cancellationToken).ConfigureAwait(false);
        var volume = await GetVolumeAsync(name, cancellationToken).ConfigureAwait(false);
        RequireSnapshot(volume, snapshot);
        await DeleteSubvolumeAsync(Path.Combine(SnapshotsDirectory, name, snapshot), cancellationToken).ConfigureAwait(false);
    }

    public override async Task DeleteVolumeAsync(string name, CancellationToken cancellationToken = default)
    {
        using var held = await LockAsync(CheckName(name), "delete", cancellationToken).ConfigureAwait(false);
        var volume = await GetVolumeAsync(name, cancellationToken).ConfigureAwait(false);
        RefuseIfInUse(name, "delete");
        foreach (var snapshot in volume.Snapshots)
        {
            await DeleteSubvolumeAsync(Path.Combine(SnapshotsDirectory, name, snapshot), cancellationToken).ConfigureAwait(false);
        }

        if (Files.Directory.Exists(Path.Combine(SnapshotsDirectory, name)))
        {
            Files.Directory.Delete(Path.Combine(SnapshotsDirectory, name));
        }

        await DeleteSubvolumeAsync(Path.Combine(ImagesDirectory, name), cancellationToken).ConfigureAwait(false);
        ForgetInUse(name);
    }

    public override async Task<bool> SupportsAsync(string name, VolumeFeature feature, CancellationToken cancellationToken = default)
    {
        await GetVolumeAsync(name, cancellationToken).ConfigureAwait(false);
        return feature != VolumeFeature.LinkedClone;
    }

    public override async IAsyncEnumerable<StorageProgress> ImportAsync(string sourcePath, VolumeSpec spec, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var name = CheckName(spec.Name);
        RequireRaw(spec.Format, name, "btrfs");
        RequireImportSource(sourcePath, name);

        using var held = await LockAsync(name, "import", cancellationToken).ConfigureAwait(false);
        RefuseIfExists(name);
        var sourceFormat = await ProbeImportSourceAsync(sourcePath, name, cancellationToken).ConfigureAwait(false);
        CreatePrivateDirectory(ImagesDirectory);
        var temporary = TemporaryPath(ImagesDirectory, name);
        var done = false;
        try
        {
            await BtrfsAsync(["subvolume", "create", temporary], cancellationToken).ConfigureAwait(false);
            CloseSubvolume(temporary);
            var disk = CreatePrivateFile(Path.Combine(temporary, DiskFile));
            await foreach (var percent in Context.QemuImg.ConvertForeignAsync(sourcePath, sourceFormat, disk, VolumeFormat.Raw, cancellationToken).ConfigureAwait(false))
            {
                yield return new StorageProgress("import", percent, false);
            }

            if (spec.SizeBytes > Files.FileInfo.New(disk).Length)
            {
                using var file = Files.FileStream.New(disk, FileMode.Open, FileAccess.Write);
                file.SetLength(spec.SizeBytes);
            }

            Files.Directory.Move(temporary, Path.Combine(ImagesDirectory, name));
            done = true;
        }
        finally
        {
            if (!done && Files.Directory.Exists(temporary))
            {
                await DeleteSubvolumeAsync(temporary, CancellationToken.None).ConfigureAwait(false);
            }
        }

        yield return new StorageProgress("import", 100, true);
    }

    /// <summary>With <see cref="BtrfsPoolDefinition.Quotas"/>: qgroups on (idempotent) and the subvolume's referenced data capped at the volume's size.</summary>
    private async Task LimitAsync(string subvolume, long sizeBytes, CancellationToken cancellationToken)
    {
        if (!definition.Quotas)
        {
            return;
        }

        await BtrfsAsync(["quota", "enable", Definition.Path], cancellationToken).ConfigureAwait(false);
        await BtrfsAsync(["qgroup", "limit", sizeBytes.ToString(System.Globalization.CultureInfo.InvariantCulture), subvolume], cancellationToken).ConfigureAwait(false);
    }

    private async Task BuildSubvolumeAsync(string name, Func<string, Task> build, CancellationToken cancellationToken)
    {
        CreatePrivateDirectory(ImagesDirectory);
        var temporary = TemporaryPath(ImagesDirectory, name);
        try
        {
            await build(temporary).ConfigureAwait(false);
            Files.Directory.Move(temporary, Path.Combine(ImagesDirectory, name));
        }
        catch
        {
            if (Files.Directory.Exists(temporary))
            {
                await DeleteSubvolumeAsync(temporary, CancellationToken.None).ConfigureAwait(false);
            }

            throw;
        }
    }

    private Task<VolumeInfo> DescribeAsync(string name, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var path = Path.Combine(ImagesDirectory, name, DiskFile);
        var (size, allocated) = Interop.FileStatus.Of(Files, path);
        var snapshotDirectory = Path.Combine(SnapshotsDirectory, name);
        var snapshots = Files.Directory.Exists(snapshotDirectory)
            ? Files.Directory.GetDirectories(snapshotDirectory).OrderBy(Files.Directory.GetCreationTimeUtc).Select(Path.GetFileName).OfType<string>().ToList()
            : [];
        return Task.FromResult(new VolumeInfo(IdOf(name), VolumeFormat.Raw, size, allocated, path, [], snapshots));
    }

    /// <summary>
    /// btrfs makes a new subvolume's directory 0755; it is made 0700 while it still has its temporary name
    /// inside the 0700 images/, where no one else can reach it (clones and snapshots keep the mode).
    /// </summary>
    private void CloseSubvolume(string path) => Files.File.SetUnixFileMode(path, OwnerOnly.DirectoryMode);

    private async Task DeleteSubvolumeAsync(string path, CancellationToken cancellationToken) =>
        await BtrfsAsync(["subvolume", "delete", path], cancellationToken).ConfigureAwait(false);

    private async Task BtrfsAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        var result = await Context.Processes.RunAsync(new ProcessSpec(Context.Options.BtrfsPath, arguments) { Timeout = TimeSpan.FromMinutes(2) }, cancellationToken).ConfigureAwait(false);
        if (result.ExitCode != 0)
        {
            var error = result.StandardError.Trim();
            throw new StorageException($"{Subject(arguments)}: '{result.Spec.CommandLine}' failed (exit {result.ExitCode}): {error}; {Fix(error)}");
        }
    }

    /// <summary>What a failed btrfs command was for: the volume its path belongs to (temporary names mapped back), or the pool.</summary>
    private string Subject(IReadOnlyList<string> arguments)
    {
        // The last path named is the subvolume being made or changed (a snapshot names its source first).
        foreach (var argument in arguments.Reverse())
        {
            foreach (var directory in new[] { ImagesDirectory, SnapshotsDirectory })
            {
                if (argument.StartsWith(directory + "/", StringComparison.Ordinal))
                {
                    var name = VolumeNameOf(argument[(directory.Length + 1)..].Split('/')[0]);
                    name = name.EndsWith(".old", StringComparison.Ordinal) ? name[..^4] : name;
                    return $"volume '{IdOf(name)}' (btrfs)";
                }
            }
        }

        return $"pool '{Definition.Name}' (btrfs)";
    }

    private string Fix(string error) => error switch
    {
        _ when error.Contains("No space left", StringComparison.Ordinal) => $"free space on the file system under '{Definition.Path}' (btrfs filesystem usage {Definition.Path}), for example by deleting snapshots",
        _ when error.Contains("quota", StringComparison.OrdinalIgnoreCase) => "the volume reached its qgroup limit or quotas are off: resize the volume, or check 'btrfs qgroup show' on the pool",
        _ when error.Contains("Operation not permitted", StringComparison.Ordinal) || error.Contains("Permission denied", StringComparison.Ordinal) => "subvolumes are made and deleted as root: run the SDK as root",
        _ when error.Contains("not a btrfs", StringComparison.OrdinalIgnoreCase) || error.Contains("Not a Btrfs", StringComparison.Ordinal) => $"'{Definition.Path}' is no longer on btrfs: mount the pool's file system there again",
        _ => $"check the file system ('btrfs device stats {Definition.Path}', the kernel log) and try again",
    };

    private void RefuseIfExists(string name)
    {
        if (Files.Directory.Exists(Path.Combine(ImagesDirectory, name)))
        {
            throw new VolumeStateException(IdOf(name), "it already exists: choose another name, or delete it first");
        }
    }
}
