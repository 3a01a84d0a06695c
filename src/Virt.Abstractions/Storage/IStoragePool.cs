namespace Virt.Storage;

/// <summary>
/// Defines and finds storage pools. Definitions are persisted atomically in the manager's state
/// directory, so a restarted application finds its pools again.
/// </summary>
public interface IStorageManager
{
    /// <summary>Checks and records a pool; its directory is created if missing.</summary>
    /// <param name="definition">The pool.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The pool.</returns>
    /// <exception cref="StorageException">The name is taken or invalid, the driver is unknown, or the path does not suit the driver.</exception>
    Task<IStoragePool> DefinePoolAsync(StoragePoolDefinition definition, CancellationToken cancellationToken = default);

    /// <summary>Finds a pool.</summary>
    /// <param name="name">Its name.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The pool.</returns>
    /// <exception cref="StoragePoolNotFoundException">No such pool.</exception>
    Task<IStoragePool> GetPoolAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Lists the pools.</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The pools, by name.</returns>
    Task<IReadOnlyList<IStoragePool>> ListPoolsAsync(CancellationToken cancellationToken = default);

    /// <summary>Forgets a pool's definition; its volumes stay on disk.</summary>
    /// <param name="name">Its name.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task that completes when forgotten.</returns>
    Task RemovePoolAsync(string name, CancellationToken cancellationToken = default);
}

/// <summary>
/// One pool of volumes. Every change takes a per-volume lock that holds across processes (a file lock
/// with a deadline; the error names the holder), and builds new files under temporary names renamed
/// into place at the end, so a crash never leaves a half volume listed as valid.
/// </summary>
public interface IStoragePool
{
    /// <summary>The definition.</summary>
    StoragePoolDefinition Definition { get; }

    /// <summary>What the driver can do.</summary>
    StorageCapabilities Capabilities { get; }

    /// <summary>Creates a volume.</summary>
    /// <param name="spec">The volume.</param>
    /// <param name="cancellationToken">Cancels the call; nothing is left.</param>
    /// <returns>The volume.</returns>
    Task<VolumeInfo> CreateVolumeAsync(VolumeSpec spec, CancellationToken cancellationToken = default);

    /// <summary>The volume now.</summary>
    /// <param name="name">Its name.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The volume.</returns>
    /// <exception cref="VolumeNotFoundException">No such volume.</exception>
    Task<VolumeInfo> GetVolumeAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>The pool's complete volumes (never half-built ones).</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The volumes, by name.</returns>
    Task<IReadOnlyList<VolumeInfo>> ListVolumesAsync(CancellationToken cancellationToken = default);

    /// <summary>Changes a volume's size. Shrinking loses data, so it needs <paramref name="allowShrink"/>.</summary>
    /// <param name="name">The volume.</param>
    /// <param name="newSizeBytes">The new virtual size.</param>
    /// <param name="allowShrink">Consent to shrink.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The volume.</returns>
    Task<VolumeInfo> ResizeVolumeAsync(string name, long newSizeBytes, bool allowShrink = false, CancellationToken cancellationToken = default);

    /// <summary>
    /// Clones a volume: linked (sharing the source as a base) or full (a reflink or subvolume snapshot where
    /// the file system allows, a copy otherwise), reporting progress while a full copy runs (a reflink,
    /// snapshot or linked clone reports only its end). Read the new volume with <see cref="GetVolumeAsync"/>.
    /// </summary>
    /// <param name="source">The volume to clone.</param>
    /// <param name="target">The new volume's name.</param>
    /// <param name="linked">A linked clone.</param>
    /// <param name="cancellationToken">Cancels the clone; nothing is left.</param>
    /// <returns>Progress reports; the last one is completed, once the new volume exists.</returns>
    IAsyncEnumerable<StorageProgress> CloneVolumeAsync(string source, string target, bool linked, CancellationToken cancellationToken = default);

    /// <summary>Makes a linked clone stand alone: its base's data is copied in and the link dropped (a no-op for a volume without a base).</summary>
    /// <param name="name">The volume.</param>
    /// <param name="cancellationToken">Cancels the call; the volume stays linked.</param>
    /// <returns>The volume.</returns>
    Task<VolumeInfo> FlattenVolumeAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Takes a snapshot.</summary>
    /// <param name="name">The volume.</param>
    /// <param name="snapshot">The snapshot's name.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task that completes when taken.</returns>
    Task CreateSnapshotAsync(string name, string snapshot, CancellationToken cancellationToken = default);

    /// <summary>Rolls a volume back to a snapshot (everything written since is lost).</summary>
    /// <param name="name">The volume.</param>
    /// <param name="snapshot">The snapshot.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task that completes when rolled back.</returns>
    Task RollbackSnapshotAsync(string name, string snapshot, CancellationToken cancellationToken = default);

    /// <summary>Deletes a snapshot.</summary>
    /// <param name="name">The volume.</param>
    /// <param name="snapshot">The snapshot.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task that completes when deleted.</returns>
    Task DeleteSnapshotAsync(string name, string snapshot, CancellationToken cancellationToken = default);

    /// <summary>Deletes a volume; refused while it is in use or is the base of linked clones.</summary>
    /// <param name="name">The volume.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task that completes when deleted.</returns>
    Task DeleteVolumeAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Whether a volume, in its current state and format, allows an operation.</summary>
    /// <param name="name">The volume.</param>
    /// <param name="feature">The operation.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>Whether it does.</returns>
    Task<bool> SupportsAsync(string name, VolumeFeature feature, CancellationToken cancellationToken = default);

    /// <summary>
    /// Imports an image file (raw, qcow2, vmdk, vdi, vhdx, vpc) as a new volume, reporting progress. An
    /// image whose header names another file — a backing file, a qcow2 external data file, a vmdk extent
    /// elsewhere — is refused (the import would copy that file in): flatten it first if you trust it.
    /// </summary>
    /// <param name="sourcePath">The image on the host (an absolute path).</param>
    /// <param name="spec">The new volume (its size is taken from the image when 0).</param>
    /// <param name="cancellationToken">Cancels the import; nothing is left.</param>
    /// <returns>Progress reports; the last one is completed.</returns>
    IAsyncEnumerable<StorageProgress> ImportAsync(string sourcePath, VolumeSpec spec, CancellationToken cancellationToken = default);

    /// <summary>Exports a volume to an image file, reporting progress.</summary>
    /// <param name="name">The volume.</param>
    /// <param name="targetPath">The file to write (must not exist).</param>
    /// <param name="format">The file's format.</param>
    /// <param name="cancellationToken">Cancels the export; the partial file is removed.</param>
    /// <returns>Progress reports; the last one is completed.</returns>
    IAsyncEnumerable<StorageProgress> ExportAsync(string name, string targetPath, VolumeFormat format, CancellationToken cancellationToken = default);

    /// <summary>Space and thin-provisioning overcommit.</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The status.</returns>
    Task<StoragePoolStatus> GetStatusAsync(CancellationToken cancellationToken = default);
}

/// <summary>
/// How backends (a VM's disk, a container's rootfs) reach a volume by its <c>pool:name</c> id, and how the
/// storage layer learns which volumes are in use so that it refuses to delete them.
/// </summary>
public interface IVolumeResolver
{
    /// <summary>Finds the volume and marks it in use by <paramref name="user"/> (e.g. "vm:web-1") until released.</summary>
    /// <param name="id">The volume.</param>
    /// <param name="user">Who uses it; its process id is recorded too.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>How to open it.</returns>
    Task<VolumeAttachment> AcquireAsync(VolumeId id, string user, CancellationToken cancellationToken = default);

    /// <summary>
    /// Like <see cref="AcquireAsync(VolumeId, string, CancellationToken)"/>, with options: a live migration's
    /// destination joins the source's cross-host lock (<see cref="VolumeAcquireOptions.AlongsideHolder"/>).
    /// </summary>
    /// <param name="id">The volume.</param>
    /// <param name="user">Who uses it; its process id is recorded too.</param>
    /// <param name="options">How to acquire it.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>How to open it.</returns>
    Task<VolumeAttachment> AcquireAsync(VolumeId id, string user, VolumeAcquireOptions options, CancellationToken cancellationToken = default);

    /// <summary>Marks the volume no longer used by <paramref name="user"/>. Idempotent.</summary>
    /// <param name="id">The volume.</param>
    /// <param name="user">The user given to <see cref="AcquireAsync(VolumeId, string, CancellationToken)"/>.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task that completes when released.</returns>
    Task ReleaseAsync(VolumeId id, string user, CancellationToken cancellationToken = default);

    /// <summary>
    /// Says that <paramref name="user"/>'s process has opened the acquired volume and cannot write to it yet (a VM's
    /// QEMU, still paused before the guest's first instruction). A volume locked across hosts records that process's
    /// storage clients now, before they may write, so that fencing the holder later blocks them even when this host
    /// dies before it could record them otherwise. Volumes without such locks need nothing (the default does nothing).
    /// </summary>
    /// <param name="id">The volume.</param>
    /// <param name="user">The user given to <see cref="AcquireAsync(VolumeId, string, CancellationToken)"/>.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task that completes once the clients are recorded; it fails when they cannot be, and the process must then not write.</returns>
    Task ConfirmOpenedAsync(VolumeId id, string user, CancellationToken cancellationToken = default) => Task.CompletedTask;
}

/// <summary>
/// A pool that can move a volume between clusters incrementally: the changes between two snapshots as
/// a file (Ceph's export-diff format), applied to a copy elsewhere.
/// </summary>
public interface IIncrementalStoragePool : IStoragePool
{
    /// <summary>Writes what changed in a volume up to <paramref name="snapshot"/>, since <paramref name="fromSnapshot"/> (or since creation).</summary>
    /// <param name="name">The volume.</param>
    /// <param name="fromSnapshot">The snapshot the receiver already has, or <see langword="null"/> for everything.</param>
    /// <param name="snapshot">The snapshot to send.</param>
    /// <param name="targetPath">The diff file to write (must not exist).</param>
    /// <param name="cancellationToken">Cancels the export; the partial file is removed.</param>
    /// <returns>A task that completes when written.</returns>
    Task ExportDiffAsync(string name, string? fromSnapshot, string snapshot, string targetPath, CancellationToken cancellationToken = default);

    /// <summary>Applies a diff to a volume (which must hold the diff's starting snapshot, if any); the diff's end snapshot is created.</summary>
    /// <param name="name">The volume.</param>
    /// <param name="sourcePath">The diff file.</param>
    /// <param name="cancellationToken">Cancels the import.</param>
    /// <returns>A task that completes when applied.</returns>
    Task ImportDiffAsync(string name, string sourcePath, CancellationToken cancellationToken = default);
}
