using System.Globalization;
using System.IO.Abstractions;
using System.Runtime.CompilerServices;
using Virt.IO;
using Virt.Storage.Interop;
using Virt.Storage.Locking;
using Virt.Storage.Tools;

namespace Virt.Storage.Pools;

/// <summary>
/// What every driver shares: names checked before they touch a path, a cross-process lock per volume,
/// in-use markers, temporary names (<c>.tmp-PID-…</c>) for anything being built — swept once their
/// process is gone — and the pool's status.
/// </summary>
internal abstract partial class StoragePoolBase : IStoragePool
{
    private const string TemporaryPrefix = ".tmp-";

    protected StoragePoolBase(StoragePoolDefinition definition, StorageContext context)
    {
        Definition = definition;
        Context = context;
    }

    public StoragePoolDefinition Definition { get; }

    public abstract StorageCapabilities Capabilities { get; }

    protected StorageContext Context { get; }

    /// <summary>The pool's files, through the manager's <see cref="IFileSystem"/>.</summary>
    protected IFileSystem Files => Context.Files;

    protected string ImagesDirectory => Path.Combine(Definition.Path, "images");

    private string MetadataDirectory => Path.Combine(Definition.Path, ".virt");

    public abstract Task<VolumeInfo> CreateVolumeAsync(VolumeSpec spec, CancellationToken cancellationToken = default);

    public abstract Task<VolumeInfo> GetVolumeAsync(string name, CancellationToken cancellationToken = default);

    public abstract Task<IReadOnlyList<VolumeInfo>> ListVolumesAsync(CancellationToken cancellationToken = default);

    public abstract Task<VolumeInfo> ResizeVolumeAsync(string name, long newSizeBytes, bool allowShrink = false, CancellationToken cancellationToken = default);

    public abstract IAsyncEnumerable<StorageProgress> CloneVolumeAsync(string source, string target, bool linked, CancellationToken cancellationToken = default);

    public abstract Task<VolumeInfo> FlattenVolumeAsync(string name, CancellationToken cancellationToken = default);

    public abstract Task CreateSnapshotAsync(string name, string snapshot, CancellationToken cancellationToken = default);

    public abstract Task RollbackSnapshotAsync(string name, string snapshot, CancellationToken cancellationToken = default);

    public abstract Task DeleteSnapshotAsync(string name, string snapshot, CancellationToken cancellationToken = default);

    public abstract Task DeleteVolumeAsync(string name, CancellationToken cancellationToken = default);

    public abstract Task<bool> SupportsAsync(string name, VolumeFeature feature, CancellationToken cancellationToken = default);

    public abstract IAsyncEnumerable<StorageProgress> ImportAsync(string sourcePath, VolumeSpec spec, CancellationToken cancellationToken = default);

    public async IAsyncEnumerable<StorageProgress> ExportAsync(string name, string targetPath, VolumeFormat format, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var volume = await GetVolumeAsync(name, cancellationToken).ConfigureAwait(false);
        if (string.IsNullOrEmpty(targetPath) || !targetPath.StartsWith('/') || Files.File.Exists(targetPath))
        {
            throw new StorageException(VirtErrorKind.InvalidInput, $"cannot export '{volume.Id}'' to '{targetPath}': give an absolute path that does not exist yet");
        }

        var temporary = Path.Combine(Path.GetDirectoryName(targetPath)!, $"{TemporaryPrefix}{Environment.ProcessId}-{Path.GetFileName(targetPath)}");
        using var held = await LockAsync(name, "export", cancellationToken).ConfigureAwait(false);
        var done = false;
        try
        {
            // The copy is the whole disk: created 0600 before qemu-img writes into it (qemu-img keeps the mode of a file it finds).
            CreatePrivateFile(temporary);
            await foreach (var percent in Context.QemuImg.ConvertAsync(ExportSource(volume), volume.Format, temporary, format, cancellationToken).ConfigureAwait(false))
            {
                yield return new StorageProgress("export", percent, false);
            }

            Files.File.Move(temporary, targetPath);
            done = true;
        }
        finally
        {
            if (!done)
            {
                Files.File.Delete(temporary);
            }
        }

        yield return new StorageProgress("export", 100, true);
    }

    public virtual async Task<StoragePoolStatus> GetStatusAsync(CancellationToken cancellationToken = default)
    {
        var drive = Files.DriveInfo.New(Definition.Path);
        var volumes = await ListVolumesAsync(cancellationToken).ConfigureAwait(false);
        return new StoragePoolStatus(drive.TotalSize, drive.AvailableFreeSpace, volumes.Sum(volume => volume.AllocationBytes), volumes.Sum(volume => volume.CapacityBytes));
    }

    protected VolumeId IdOf(string name) => new(Definition.Name, name);

    /// <summary>What qemu-img reads to export a volume: its file, or a driver-specific name.</summary>
    protected virtual string ExportSource(VolumeInfo volume) => volume.Path;

    /// <summary>Refuses a name that is not a plain volume name (no '/', no '..', not too long).</summary>
    protected string CheckName(string name, string what = "volume")
    {
        if (!VolumeId.IsValidName(name) || name.StartsWith(TemporaryPrefix, StringComparison.Ordinal))
        {
            throw new ArgumentException($"'{name}' is not a valid {what} name in pool '{Definition.Name}': use 1-64 of a-z A-Z 0-9 . _ - starting with a letter or digit", nameof(name));
        }

        return name;
    }

    protected static void RefuseShrinkWithoutConsent(VolumeInfo volume, long newSizeBytes, bool allowShrink)
    {
        if (newSizeBytes < volume.CapacityBytes && !allowShrink)
        {
            throw new VolumeStateException(volume.Id, $"shrinking from {volume.CapacityBytes} to {newSizeBytes} bytes loses the data past the new end: pass allowShrink: true if that is meant");
        }
    }

    protected static void RequireSnapshot(VolumeInfo volume, string snapshot)
    {
        if (!volume.Snapshots.Contains(snapshot))
        {
            throw new VolumeStateException(volume.Id, $"it has no snapshot '{snapshot}' (it has: {(volume.Snapshots.Count == 0 ? "none" : string.Join(", ", volume.Snapshots))})");
        }
    }

    /// <summary>btrfs and RBD pools keep raw volumes only: their snapshots and clones are the storage's own.</summary>
    protected void RequireRaw(VolumeFormat? format, string name, string driver)
    {
        if (format is VolumeFormat.Qcow2)
        {
            throw new StorageException(VirtErrorKind.Refused, $"pool '{Definition.Name}' ({driver}) keeps raw volumes only ('{IdOf(name)}' asked for qcow2): snapshots and clones are the storage's own");
        }
    }

    protected void RequireImportSource(string sourcePath, string name)
    {
        if (string.IsNullOrEmpty(sourcePath) || !sourcePath.StartsWith('/') || !Files.File.Exists(sourcePath))
        {
            throw new StorageException(VirtErrorKind.InvalidInput, $"cannot import '{sourcePath}' into '{IdOf(name)}': give the absolute path of an existing image file");
        }
    }

    /// <summary>The formats an import may come in: single-file formats whose header cannot name another file, plus qcow2 and vmdk, checked below.</summary>
    private static readonly string[] ImportFormats = ["raw", "qcow2", "vmdk", "vdi", "vhdx", "vpc"];

    /// <summary>
    /// The format of an import's source, which comes from outside the pool (a download, an appliance):
    /// the one place qemu-img guesses a format. Refused when its header names any other file — a
    /// backing file (a qcow2 saying "read the rest from /etc/shadow"), a qcow2 external data file, a vmdk
    /// extent elsewhere — because the import would copy that file into the volume.
    /// </summary>
    protected async Task<string> ProbeImportSourceAsync(string sourcePath, string name, CancellationToken cancellationToken)
    {
        var probed = await Context.QemuImg.ProbeAsync(sourcePath, cancellationToken).ConfigureAwait(false);
        string? refusal = null;
        if (!ImportFormats.Contains(probed.Format))
        {
            refusal = $"its format is {probed.Format}, which may name other files; convert it to qcow2 or raw yourself first";
        }
        else if (probed.BackingFile is not null)
        {
            refusal = $"its header names the backing file '{probed.BackingFile}', which the import would copy in; if you trust that file, flatten the image first (qemu-img convert -O qcow2 SOURCE FLAT)";
        }
        else if (probed.DataFile is not null)
        {
            refusal = $"its header names the external data file '{probed.DataFile}'; convert it to a self-contained image first (qemu-img convert -O qcow2 SOURCE FLAT)";
        }
        else if (probed.Extents.Any(extent => Path.GetFullPath(extent, Path.GetDirectoryName(sourcePath)!) != Path.GetFullPath(sourcePath)))
        {
            refusal = $"its extents live in other files ({string.Join(", ", probed.Extents)}); convert it to a single-file image first";
        }

        return refusal is null ? probed.Format : throw new StorageException(VirtErrorKind.Refused, $"cannot import '{sourcePath}' into '{IdOf(name)}': {refusal}");
    }

    protected static void CheckSize(long sizeBytes, VolumeId id)
    {
        if (sizeBytes <= 0 || sizeBytes % 512 != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(sizeBytes), sizeBytes, $"the size of '{id}' must be a positive multiple of 512 bytes");
        }
    }

    /// <summary>Takes the volume's lock (the name is checked first: the lock file's path is built from it).</summary>
    protected Task<VolumeLock> LockAsync(string name, string operation, CancellationToken cancellationToken) =>
        VolumeLock.AcquireAsync(Files, Path.Combine(MetadataDirectory, "locks"), CheckName(name), operation, Context.Options.LockTimeout, message => new VolumeStateException(IdOf(name), $"cannot {operation}: {message}"), cancellationToken);

    /// <summary>A temporary name in <paramref name="directory"/> for something being built for <paramref name="name"/>.</summary>
    protected static string TemporaryPath(string directory, string name, string suffix = "") =>
        Path.Combine(directory, $"{TemporaryPrefix}{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}-{Guid.NewGuid():N}-{name}{suffix}");

    protected static bool IsTemporary(string path) => Path.GetFileName(path).StartsWith(TemporaryPrefix, StringComparison.Ordinal);

    /// <summary>
    /// The volume a file or image name belongs to: the name itself, or for a temporary one
    /// (<c>.tmp-PID-GUID-NAME[suffix]</c>) the volume it is being built for, so an error names the volume the caller asked for.
    /// </summary>
    protected static string VolumeNameOf(string fileName)
    {
        if (!fileName.StartsWith(TemporaryPrefix, StringComparison.Ordinal))
        {
            return fileName;
        }

        var parts = fileName[TemporaryPrefix.Length..].Split('-', 3);
        return parts.Length == 3 ? parts[2] : fileName;
    }

    /// <summary>Whether a temporary entry's builder is gone (crashed, killed), so it can be swept.</summary>
    protected static bool IsAbandoned(string path)
    {
        var rest = Path.GetFileName(path)[TemporaryPrefix.Length..];
        var dash = rest.IndexOf('-', StringComparison.Ordinal);
        return dash > 0 && int.TryParse(rest[..dash], NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && ProcessTable.IsGone(pid);
    }

    // In-use markers: one file per user under .virt/inuse/<volume>/, written by IVolumeResolver.
    private string InUseDirectory(string name) => Path.Combine(MetadataDirectory, "inuse", CheckName(name));

    /// <summary>
    /// Marks a volume in use and describes it, under the volume's lock: a delete or rollback holding the
    /// lock either finishes first (and this finds no volume) or sees the marker and refuses.
    /// </summary>
    public async Task<VolumeInfo> MarkInUseAsync(string name, string user, CancellationToken cancellationToken)
    {
        var markerName = MarkerName(user);
        using var held = await LockAsync(name, "mark in use", cancellationToken).ConfigureAwait(false);
        var volume = await GetVolumeAsync(name, cancellationToken).ConfigureAwait(false);
        using (var marker = OwnerOnly.Open(Files, Path.Combine(CreatePrivateDirectory(InUseDirectory(name)), markerName), FileMode.Create, FileAccess.Write))
        {
            marker.Write(System.Text.Encoding.UTF8.GetBytes($"pid {Environment.ProcessId}"));
        }

        return volume;
    }

    public void ClearInUse(string name, string user)
    {
        var marker = Path.Combine(InUseDirectory(name), MarkerName(user));
        if (Files.File.Exists(marker))
        {
            Files.File.Delete(marker);
        }
    }

    /// <summary>A user's marker file name: escaped so that it is one plain name ('/' escaped; '.' and '..' refused).</summary>
    private static string MarkerName(string user)
    {
        var escaped = Uri.EscapeDataString(user);
        return escaped is "." or ".." ? throw new ArgumentException($"'{user}' is not a volume user name: use something like vm:NAME", nameof(user)) : escaped;
    }

    protected void RefuseIfInUse(string name, string operation)
    {
        var directory = InUseDirectory(name);
        var users = Files.Directory.Exists(directory) ? Files.Directory.GetFiles(directory).Select(file => Uri.UnescapeDataString(Path.GetFileName(file))).ToList() : [];
        if (users.Count > 0)
        {
            throw new VolumeStateException(IdOf(name), $"cannot {operation}: it is in use by {string.Join(", ", users)}; stop them (or release the volume) first");
        }
    }

    protected void ForgetInUse(string name)
    {
        if (Files.Directory.Exists(InUseDirectory(name)))
        {
            Files.Directory.Delete(InUseDirectory(name), recursive: true);
        }
    }

    /// <summary>
    /// Creates a directory (and its missing parents) 0700; one the SDK owns that already exists open to others
    /// (made before volumes were private) is closed to them (<see cref="OwnerOnly.CreateDirectory"/>).
    /// </summary>
    protected string CreatePrivateDirectory(string path) => OwnerOnly.CreateDirectory(Files, path);

    /// <summary>
    /// Creates an empty file 0600 that must not exist yet, for a tool (qemu-img, rbd) to write into: the tool
    /// keeps the mode of a file it finds, and a mode given at creation leaves no moment when others can open it.
    /// </summary>
    protected string CreatePrivateFile(string path)
    {
        using (OwnerOnly.Open(Files, path, FileMode.CreateNew, FileAccess.Write))
        {
        }

        return path;
    }
}
