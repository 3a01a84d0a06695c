using System.Collections.Concurrent;
using System.IO.Abstractions;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Virt.Containers;
using Virt.IO;
using Virt.Lxc.CommandSocket;
using Virt.Lxc.Hosting;
using Virt.Lxc.Rootfs;
using Virt.Processes;

namespace Virt.Lxc.Containers;

/// <summary>
/// The LXC implementation of <see cref="IContainerManager"/>. Each container is a directory under
/// <see cref="LxcOptions.LxcPath"/> holding LXC's config (written by the SDK), its rootfs and the SDK's
/// record. A container exists once its record is written, which happens last: a crash while the rootfs
/// is being built leaves a directory without a record, which the next create, list or delete removes.
/// </summary>
public sealed class LxcContainerManager : IContainerManager
{
    private const UnixFileMode PrivateDirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode LxcPathMode = PrivateDirectoryMode | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
    private readonly LxcContext _context;
    private readonly Virt.Storage.IVolumeResolver? _volumes;
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _locks = new(StringComparer.Ordinal);

    /// <summary>Creates a manager.</summary>
    /// <param name="options">The backend's options.</param>
    /// <param name="fileSystem">The file system seam.</param>
    /// <param name="processes">Runs the lxc-* tools.</param>
    /// <param name="loggerFactory">Logging; optional.</param>
    /// <param name="timeProvider">The clock; optional.</param>
    /// <param name="volumes">Resolves rootfs volumes (<see cref="ContainerSpec.RootfsVolume"/>); registered by <c>AddStorage()</c>. Optional.</param>
    /// <param name="networkPorts">Puts NICs on managed networks (<see cref="ContainerNic.Network"/>); registered by <c>AddNetwork()</c>. Optional: without it a container with such a NIC does not start.</param>
    /// <param name="startGate">Asked before every start (<c>AddCluster()</c> registers the cluster's: a clustered container starts only on its owner node). Optional.</param>
    public LxcContainerManager(LxcOptions options, IFileSystem fileSystem, IProcessRunner processes, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null, Virt.Storage.IVolumeResolver? volumes = null, Virt.Networking.INetworkPorts? networkPorts = null, Virt.Clustering.IGuestStartGate? startGate = null)
    {
        _volumes = volumes;
        ArgumentNullException.ThrowIfNull(options);
        LxcOptionsValidator.ThrowIfInvalid(options);

        _context = new LxcContext(options, fileSystem, processes, (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<LxcContainerManager>(), timeProvider ?? TimeProvider.System, networkPorts) { StartGate = startGate };
    }

    /// <inheritdoc />
    public async Task<IContainer> CreateAsync(ContainerSpec spec, CancellationToken cancellationToken = default)
    {
        ContainerSpecValidator.Validate(spec);
        var gate = LockOf(spec.Name);
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var paths = _context.PathsOf(spec.Name);
            var fileSystem = _context.FileSystem;
            if (fileSystem.File.Exists(paths.Record))
            {
                throw new ContainerAlreadyExistsException(spec.Name);
            }

            if (await LxcCommandClient.GetStateAsync(_context.Options, spec.Name, cancellationToken).ConfigureAwait(false) != ContainerState.Stopped)
            {
                throw new ContainerAlreadyExistsException(spec.Name);
            }

            RemoveIncomplete(paths);
            CreateContainerDirectory(spec, paths);
            try
            {
                var record = await BuildRootfsAsync(spec, paths, cancellationToken).ConfigureAwait(false);
                await StateFile.WriteAsync(fileSystem, paths.Record, JsonSerializer.SerializeToUtf8Bytes(record, LxcJsonContext.Default.ContainerRecord), OwnerOnly.FileMode, cancellationToken).ConfigureAwait(false);
                Log.Created(_context.Logger, spec.Name, spec.Rootfs.Path ?? spec.Rootfs.Kind.ToString());
                return new LxcContainer(_context, record, gate);
            }
            catch
            {
                RootfsBuilder.TryDelete(_context.FileSystem, paths.Directory);
                if (spec.RootfsVolume is not null && _volumes is not null && fileSystem.File.Exists(paths.Record) is false)
                {
                    await _volumes.ReleaseAsync(Virt.Storage.VolumeId.Parse(spec.RootfsVolume), VolumeRootfs.UserOf(spec.Name), CancellationToken.None).ConfigureAwait(false);
                }

                throw;
            }
        }
        finally
        {
            gate.Release();
        }
    }

    private async Task<ContainerRecord> BuildRootfsAsync(ContainerSpec spec, ContainerPaths paths, CancellationToken cancellationToken)
    {
        var options = _context.Options;
        if (spec.Rootfs.Kind == ContainerRootfsKind.Directory)
        {
            if (!_context.FileSystem.Directory.Exists(spec.Rootfs.Path!))
            {
                throw new ContainerRootfsException(spec.Name, spec.Rootfs.Path!, "the directory does not exist");
            }

            return new ContainerRecord(spec, spec.Rootfs.Path!, RootfsOwned: false, ImageInit: null);
        }

        var shift = spec.Unprivileged ? options.IdMapBase : 0;
        var limit = spec.Unprivileged ? options.IdMapSize : int.MaxValue - shift;
        if (spec.RootfsVolume is not null)
        {
            var (image, volumeInit) = await VolumeRootfs.BuildAsync(_context.FileSystem, spec, _volumes, paths.RootfsStaging, shift, limit, options.BusyboxPath, _context.Processes, cancellationToken).ConfigureAwait(false);
            return new ContainerRecord(spec, image, RootfsOwned: true, volumeInit) { RootfsIsImage = true };
        }

        var imageInit = await RootfsBuilder.BuildAsync(_context.FileSystem, spec, paths.RootfsStaging, shift, limit, options.BusyboxPath, _context.Processes, cancellationToken).ConfigureAwait(false);
        if (spec.Init is null && imageInit is not null && imageInit.Command.Any(argument => argument.Any(char.IsWhiteSpace) || argument.Any(char.IsControl)))
        {
            throw new ContainerRootfsException(spec.Name, spec.Rootfs.Path!, $"the image's entrypoint '{string.Join(' ', imageInit.Command)}' has an argument with whitespace, which lxc.init.cmd cannot carry: set ContainerSpec.Init to a command without (e.g. a script in the image)");
        }

        _context.FileSystem.Directory.Move(paths.RootfsStaging, paths.Rootfs);
        return new ContainerRecord(spec, paths.Rootfs, RootfsOwned: true, imageInit);
    }

    /// <summary>
    /// Creates the container's directory with its final mode (never widened by a chmod afterwards): 0700
    /// root's for a privileged container, so no other host user can reach its rootfs — whose set-uid files
    /// are root's on the host — nor read its config and record. An unprivileged container's processes reach
    /// their rootfs as the mapped root (<see cref="LxcOptions.IdMapBase"/>), which has no capability over
    /// root's files: its directory is 0710, owned by root with the mapped root's group, which lets the
    /// container traverse it (and only that: not list it, nor write to it). The LXC path, when the SDK
    /// creates it, is 0711: traversable for the mapped root, not listable by anyone but root.
    /// </summary>
    private void CreateContainerDirectory(ContainerSpec spec, ContainerPaths paths)
    {
        var fileSystem = _context.FileSystem;
        if (!fileSystem.Directory.Exists(_context.Options.LxcPath))
        {
            fileSystem.Directory.CreateDirectory(_context.Options.LxcPath, LxcPathMode);
        }

        if (!spec.Unprivileged)
        {
            fileSystem.Directory.CreateDirectory(paths.Directory, PrivateDirectoryMode);
            return;
        }

        fileSystem.Directory.CreateDirectory(paths.Directory, PrivateDirectoryMode | UnixFileMode.GroupExecute);
        if (Interop.LibC.LChown(paths.Directory, 0, _context.Options.IdMapBase) != 0)
        {
            var error = Interop.LibC.LastError();
            RootfsBuilder.TryDelete(_context.FileSystem, paths.Directory);
            throw new ContainerRootfsException(spec.Name, paths.Directory, $"cannot give the container directory to the mapped root's group {_context.Options.IdMapBase}: {error}");
        }
    }

    /// <summary>A directory without a record is what a crash during create left: remove it.</summary>
    private void RemoveIncomplete(ContainerPaths paths)
    {
        if (_context.FileSystem.Directory.Exists(paths.Directory) && !_context.FileSystem.File.Exists(paths.Record))
        {
            RootfsBuilder.TryDelete(_context.FileSystem, paths.Directory);
            Log.LeftoversRemoved(_context.Logger, paths.Name, "an incomplete container directory " + paths.Directory);
        }
    }

    /// <inheritdoc />
    public async Task<IContainer> GetAsync(string name, CancellationToken cancellationToken = default)
    {
        if (!ContainerSpecValidator.IsValidName(name) || !_context.FileSystem.File.Exists(_context.PathsOf(name).Record))
        {
            throw new ContainerNotFoundException(name, _context.Options.LxcPath);
        }

        var record = await LxcContainer.ReadRecordAsync(_context, name, cancellationToken).ConfigureAwait(false);
        return new LxcContainer(_context, record, LockOf(name));
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<IContainer>> ListAsync(CancellationToken cancellationToken = default)
    {
        var list = new List<IContainer>();
        if (!_context.FileSystem.Directory.Exists(_context.Options.LxcPath))
        {
            return list;
        }

        foreach (var directory in _context.FileSystem.Directory.GetDirectories(_context.Options.LxcPath).Order(StringComparer.Ordinal))
        {
            var name = Path.GetFileName(directory);
            if (ContainerSpecValidator.IsValidName(name) && _context.FileSystem.File.Exists(_context.PathsOf(name).Record))
            {
                list.Add(await GetAsync(name, cancellationToken).ConfigureAwait(false));
            }
        }

        return list;
    }

    /// <inheritdoc />
    public async Task DeleteAsync(string name, bool force = false, CancellationToken cancellationToken = default)
    {
        var container = await GetAsync(name, cancellationToken).ConfigureAwait(false);
        var state = (await container.GetStatusAsync(cancellationToken).ConfigureAwait(false)).State;
        if (state != ContainerState.Stopped)
        {
            if (!force)
            {
                throw new ContainerStateException(name, "delete", state, "stop it first, or pass force: true to kill it");
            }

            await container.KillAsync(cancellationToken).ConfigureAwait(false);
        }

        var gate = LockOf(name);
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await Leftovers.RemoveAsync(_context, container.Spec, TimeSpan.FromSeconds(3), thorough: true, cancellationToken).ConfigureAwait(false);
            await ManagedNics.ReleaseAsync(_context, container.Spec).ConfigureAwait(false);
            var paths = _context.PathsOf(name);

            // The record goes first: from then on the container does not exist, whatever a crash leaves.
            _context.FileSystem.File.Delete(paths.Record);
            RootfsBuilder.TryDelete(_context.FileSystem, paths.Directory);
            if (container.Spec.RootfsVolume is { } volume && _volumes is not null)
            {
                await _volumes.ReleaseAsync(Virt.Storage.VolumeId.Parse(volume), VolumeRootfs.UserOf(name), cancellationToken).ConfigureAwait(false);
            }
            Log.Deleted(_context.Logger, name);
        }
        finally
        {
            gate.Release();
        }
    }

    private SemaphoreSlim LockOf(string name) => _locks.GetOrAdd(name, _ => new SemaphoreSlim(1, 1));
}
