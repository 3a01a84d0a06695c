using System.Diagnostics;
using System.IO.Abstractions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Virt.Hosting;
using Virt.IO;
using Virt.Processes;
using Virt.Storage.Hosting;

namespace Virt.Storage.Pools;

/// <summary>
/// The storage backend's <see cref="IStorageManager"/>, <see cref="IVolumeResolver"/> and <see cref="IVolumeLocks"/>:
/// pool definitions persisted atomically under <see cref="StorageOptions.StateDirectory"/>, one driver per pool ("dir",
/// "btrfs", "rbd"), in-use markers that make the pools refuse to delete or roll back a volume a VM or
/// container holds, and for RBD volumes a cross-host lock that keeps a second host from writing to them.
/// </summary>
public sealed partial class StorageManager : IStorageManager, IVolumeResolver, IVolumeLocks, IDisposable
{
    private readonly StorageContext _context;
    private readonly VirtHostIdentity _host;

    /// <summary>Creates the manager.</summary>
    /// <param name="options">The backend's options.</param>
    /// <param name="fileSystem">
    /// Every file the pools touch: definitions, images, markers, locks (the host's <see cref="FileSystem"/>; a test
    /// may give an in-memory one, with a process runner whose tools write into it).
    /// </param>
    /// <param name="processes">Runs qemu-img, btrfs, rbd and ceph.</param>
    /// <param name="logger">Where each change to a pool or volume is logged (<see cref="StorageEventIds"/>); optional.</param>
    /// <param name="host">This host's name, which names it as the holder of a cross-host (RBD) lock; default the machine's name.</param>
    public StorageManager(StorageOptions options, IFileSystem fileSystem, IProcessRunner processes, ILogger<StorageManager>? logger = null, VirtHostIdentity? host = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(fileSystem);
        ArgumentNullException.ThrowIfNull(processes);
        StorageOptionsValidator.ThrowIfInvalid(options);
        _context = new StorageContext(options, fileSystem, processes, (ILogger?)logger ?? NullLogger.Instance);
        _host = host ?? VirtHostIdentity.FromMachine();
    }

    private IFileSystem Files => _context.Files;

    private string PoolsDirectory => Path.Combine(_context.Options.StateDirectory, "pools");

    /// <inheritdoc />
    public async Task<IStoragePool> DefinePoolAsync(StoragePoolDefinition definition, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(definition);
        if (!VolumeId.IsValidName(definition.Name))
        {
            throw new StorageException(VirtErrorKind.InvalidInput, $"'{definition.Name}' is not a pool name: use 1-64 of a-z A-Z 0-9 . _ - starting with a letter or digit");
        }

        if (string.IsNullOrEmpty(definition.Path) || !definition.Path.StartsWith('/') || definition.Path.Any(char.IsControl))
        {
            throw new StorageException(VirtErrorKind.InvalidInput, $"pool '{definition.Name}': path '{definition.Path}' must be an absolute host path");
        }

        var file = Path.Combine(PoolsDirectory, definition.Name + ".json");
        using var held = await PoolLockAsync(definition.Name, "define", cancellationToken).ConfigureAwait(false);
        if (Files.File.Exists(file))
        {
            throw new StorageException(VirtErrorKind.Conflict, $"pool '{definition.Name}' is already defined: remove it first, or choose another name");
        }

        if (!Files.Directory.Exists(definition.Path))
        {
            OwnerOnly.CreateDirectory(Files, definition.Path);
        }

        switch (definition)
        {
            case BtrfsPoolDefinition:
                await CheckBtrfsAsync(definition, cancellationToken).ConfigureAwait(false);
                break;
            case RbdPoolDefinition rbd:
                await CheckRbdAsync(rbd, cancellationToken).ConfigureAwait(false);
                break;
        }

        OwnerOnly.CreateDirectory(Files, PoolsDirectory);
        await StateFile.WriteAsync(Files, file, System.Text.Encoding.UTF8.GetBytes(PoolDefinitionJson.Serialize(definition)), OwnerOnly.FileMode, cancellationToken).ConfigureAwait(false);
        Log.PoolDefined(_context.Logger, definition.Name, definition.Driver, definition.Path);
        return Open(definition);
    }

    private async Task CheckBtrfsAsync(StoragePoolDefinition definition, CancellationToken cancellationToken)
    {
        var type = await _context.Processes.RunAsync(new ProcessSpec("stat", ["-f", "-c", "%T", definition.Path]), cancellationToken).ConfigureAwait(false);
        if (type.StandardOutput.Trim() != "btrfs")
        {
            throw new StorageException(VirtErrorKind.Refused, $"pool '{definition.Name}': '{definition.Path}' is on {type.StandardOutput.Trim()}, not btrfs: mount a btrfs file system there, or use the dir driver");
        }
    }

    private async Task CheckRbdAsync(RbdPoolDefinition definition, CancellationToken cancellationToken)
    {
        // The names go to rbd as arguments of their own; still, an empty or odd one is a mistake to name now rather than a Ceph error later.
        foreach (var (what, value) in new[] { ("RbdPool", definition.RbdPool), ("CephUser", definition.CephUser) })
        {
            if (string.IsNullOrWhiteSpace(value) || value.Any(c => char.IsControl(c) || char.IsWhiteSpace(c)))
            {
                throw new StorageException(VirtErrorKind.InvalidInput, $"pool '{definition.Name}' (rbd): {what} '{value}' is not a Ceph name: give one without spaces or control characters, or leave it to its default");
            }
        }

        if (string.IsNullOrEmpty(definition.CephConfig) || !Files.File.Exists(definition.CephConfig))
        {
            throw new StorageException(VirtErrorKind.InvalidInput, $"pool '{definition.Name}' (rbd) needs CephConfig: the path of an existing ceph.conf ('{definition.CephConfig}' does not exist)");
        }

        var probe = await _context.Processes.RunAsync(new ProcessSpec(_context.Options.RbdPath, ["-c", definition.CephConfig, "--id", definition.CephUser, "ls", definition.RbdPool]) { Timeout = TimeSpan.FromSeconds(30) }, cancellationToken).ConfigureAwait(false);
        if (probe.ExitCode != 0)
        {
            throw new StorageException($"pool '{definition.Name}': Ceph pool '{definition.RbdPool}' cannot be listed with {definition.CephConfig}: {probe.StandardError.Trim()}; check the cluster, the keyring and the pool name");
        }
    }

    /// <inheritdoc />
    public async Task<IStoragePool> GetPoolAsync(string name, CancellationToken cancellationToken = default)
    {
        var file = Path.Combine(PoolsDirectory, (VolumeId.IsValidName(name) ? name : "-") + ".json");
        if (!Files.File.Exists(file))
        {
            throw new StoragePoolNotFoundException(name);
        }

        var definition = PoolDefinitionJson.Deserialize(await Files.File.ReadAllBytesAsync(file, cancellationToken).ConfigureAwait(false), name, file);
        return Open(definition);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<IStoragePool>> ListPoolsAsync(CancellationToken cancellationToken = default)
    {
        if (!Files.Directory.Exists(PoolsDirectory))
        {
            return [];
        }

        var pools = new List<IStoragePool>();
        foreach (var file in Files.Directory.GetFiles(PoolsDirectory, "*.json").Order(StringComparer.Ordinal))
        {
            pools.Add(await GetPoolAsync(Path.GetFileNameWithoutExtension(file), cancellationToken).ConfigureAwait(false));
        }

        return pools;
    }

    /// <inheritdoc />
    public async Task RemovePoolAsync(string name, CancellationToken cancellationToken = default)
    {
        var file = Path.Combine(PoolsDirectory, (VolumeId.IsValidName(name) ? name : "-") + ".json");
        if (!Files.File.Exists(file))
        {
            throw new StoragePoolNotFoundException(name);
        }

        using var held = await PoolLockAsync(name, "remove", cancellationToken).ConfigureAwait(false);
        Files.File.Delete(file);
        Log.PoolRemoved(_context.Logger, name);
    }

    /// <summary>The pool-wide lock (defining and removing a pool), held across processes like the volume locks.</summary>
    private Task<Locking.VolumeLock> PoolLockAsync(string name, string operation, CancellationToken cancellationToken) =>
        Locking.VolumeLock.AcquireAsync(Files, Path.Combine(_context.Options.StateDirectory, "locks"), "pool-" + name, operation, _context.Options.LockTimeout, message => new StorageException(VirtErrorKind.Conflict, $"cannot {operation} pool '{name}': {message}"), cancellationToken);

    /// <inheritdoc />
    public Task<VolumeAttachment> AcquireAsync(VolumeId id, string user, CancellationToken cancellationToken = default) =>
        AcquireAsync(id, user, new VolumeAcquireOptions(), cancellationToken);

    /// <inheritdoc />
    /// <remarks>
    /// An RBD volume is also locked across hosts (<see cref="IVolumeLocks"/>): held by <c>HOST/USER</c>, refused while
    /// another host or user holds it, joined with <see cref="VolumeAcquireOptions.AlongsideHolder"/> during a migration.
    /// </remarks>
    public async Task<VolumeAttachment> AcquireAsync(VolumeId id, string user, VolumeAcquireOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(user);
        ArgumentNullException.ThrowIfNull(options);
        var pool = (StoragePoolBase)await GetPoolAsync(id.Pool, cancellationToken).ConfigureAwait(false);
        var volume = await pool.MarkInUseAsync(id.Name, user, cancellationToken).ConfigureAwait(false);
        if (pool.Definition is not RbdPoolDefinition rbd)
        {
            return new VolumeAttachment(id, volume.Path, volume.Format);
        }

        if (HasHostLocks)
        {
            try
            {
                await TakeHostLockAsync(rbd, id, user, options.AlongsideHolder, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                pool.ClearInUse(id.Name, user);
                throw;
            }
        }

        return new VolumeAttachment(id, volume.Path, volume.Format) { Rbd = new RbdLocation(rbd.RbdPool, id.Name, rbd.CephConfig, rbd.CephUser) };
    }

    /// <inheritdoc />
    /// <remarks>An RBD volume's cross-host lock is released too; a failure to reach the cluster is logged, never thrown (this runs on cleanup paths).</remarks>
    public async Task ReleaseAsync(VolumeId id, string user, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(user);
        var pool = (StoragePoolBase)await GetPoolAsync(id.Pool, cancellationToken).ConfigureAwait(false);
        pool.ClearInUse(id.Name, user);
        if (pool.Definition is RbdPoolDefinition rbd && HasHostLocks)
        {
            await ReleaseHostLockAsync(rbd, id, user).ConfigureAwait(false);
        }
    }

    private StoragePoolBase Open(StoragePoolDefinition definition) => definition switch
    {
        DirPoolDefinition dir => new DirPool(dir, _context),
        BtrfsPoolDefinition btrfs => new BtrfsPool(btrfs, _context),
        RbdPoolDefinition rbd => new RbdPool(rbd, _context),
        _ => throw new UnreachableException($"pool '{definition.Name}': {definition.GetType()} is not a pool definition of this SDK"),
    };
}
