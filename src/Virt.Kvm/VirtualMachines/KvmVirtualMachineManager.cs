using System.Collections.Concurrent;
using System.IO.Abstractions;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Virt.IO;
using Virt.Kvm.Host;
using Virt.Kvm.Hosting;
using Virt.Processes;
using Virt.VirtualMachines;

namespace Virt.Kvm.VirtualMachines;

/// <summary>
/// The QEMU/KVM <see cref="IVirtualMachineManager"/>. Each VM lives in a 0700 directory under
/// <see cref="KvmOptions.StateDirectory"/>; QEMU runs in its own session and outlives the
/// application, and a new manager re-attaches to it. Disposing the manager lets go of the VMs
/// without stopping them.
/// </summary>
public sealed class KvmVirtualMachineManager : IVirtualMachineManager, IAsyncDisposable
{
    private readonly VmEnvironment _environment;
    private readonly ConcurrentDictionary<string, KvmVirtualMachine> _machines = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _catalog = new(1, 1);

    /// <summary>Creates a manager.</summary>
    /// <param name="options">Where VMs live, which QEMU to run, deadlines.</param>
    /// <param name="processRunner">Runs QEMU probes and iproute2.</param>
    /// <param name="capabilities">The QEMU capability cache.</param>
    /// <param name="accelerators">Decides KVM or TCG.</param>
    /// <param name="timeProvider">The clock.</param>
    /// <param name="loggerFactory">Logging; optional.</param>
    /// <param name="volumes">Resolves disks named <c>pool:volume</c>; registered by <c>AddStorage()</c>. Optional.</param>
    /// <param name="hostDevices">Binds and releases VFIO host devices; registered by <c>AddPassthrough()</c>. Optional.</param>
    /// <param name="fileSystem">Where the VMs' files are read and written (registered by <c>AddVirt()</c>); the host's file system when null.</param>
    /// <param name="networkPorts">Puts NICs on managed networks (<see cref="VmNic.Network"/>); registered by <c>AddNetwork()</c>. Optional: without it a VM with such a NIC does not start.</param>
    /// <param name="hostIdentity">This host's name, for migrations between hosts (<c>UseHostName()</c>); the machine's name when null.</param>
    /// <param name="startGate">Asked before every start (<c>AddCluster()</c> registers the cluster's: a clustered VM starts only on its owner node). Optional.</param>
    public KvmVirtualMachineManager(KvmOptions options, IProcessRunner processRunner, QemuCapabilityProbe capabilities, AcceleratorProbe accelerators, TimeProvider timeProvider, ILoggerFactory? loggerFactory = null, Virt.Storage.IVolumeResolver? volumes = null, Virt.Passthrough.IHostDeviceBinder? hostDevices = null, IFileSystem? fileSystem = null, Virt.Networking.INetworkPorts? networkPorts = null, Virt.Hosting.VirtHostIdentity? hostIdentity = null, Virt.Clustering.IGuestStartGate? startGate = null)
        : this(options, processRunner, capabilities, accelerators, timeProvider, loggerFactory, volumes, hostDevices, fileSystem ?? new FileSystem(), QemuHost.Real, networkPorts, hostIdentity, startGate)
    {
    }

    /// <summary>Creates a manager whose QEMU processes run through <paramref name="qemu"/> (a fake in unit tests).</summary>
    internal KvmVirtualMachineManager(KvmOptions options, IProcessRunner processRunner, QemuCapabilityProbe capabilities, AcceleratorProbe accelerators, TimeProvider timeProvider, ILoggerFactory? loggerFactory, Virt.Storage.IVolumeResolver? volumes, Virt.Passthrough.IHostDeviceBinder? hostDevices, IFileSystem fileSystem, IQemuHost qemu, Virt.Networking.INetworkPorts? networkPorts = null, Virt.Hosting.VirtHostIdentity? hostIdentity = null, Virt.Clustering.IGuestStartGate? startGate = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(processRunner);
        KvmOptionsValidator.ThrowIfInvalid(options);

        ArgumentNullException.ThrowIfNull(fileSystem);
        _environment = new VmEnvironment(options, capabilities, accelerators, new TapDevices(processRunner, fileSystem, networkPorts), timeProvider, loggerFactory ?? NullLoggerFactory.Instance, processRunner, volumes, hostDevices, networkPorts)
        {
            FileSystem = fileSystem,
            Qemu = qemu,
            HostName = (hostIdentity ?? Virt.Hosting.VirtHostIdentity.FromMachine()).Name,
            StartGate = startGate,
            Forget = ForgetAsync,
        };
    }

    /// <inheritdoc />
    public async Task<IVirtualMachine> CreateAsync(VmSpec spec, CancellationToken cancellationToken = default)
    {
        VmSpecValidator.Validate(spec);
        if (!_environment.Options.AllowResourcesBeyondHost)
        {
            HostResources.Read(_environment.FileSystem).Check(spec);
        }

        await _catalog.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var files = FilesOf(spec.Name);
            if (_machines.TryGetValue(spec.Name, out var known) && !StillDefined(known))
            {
                // Deleted, or migrated to another host, by another process.
                _machines.TryRemove(new KeyValuePair<string, KvmVirtualMachine>(spec.Name, known));
            }

            if (_environment.FileSystem.File.Exists(files.Spec) || _machines.ContainsKey(spec.Name))
            {
                throw new VmAlreadyExistsException(spec.Name);
            }

            ClearLeftovers(files);

            // The state directory is made on first use, not by the constructor: making a manager touches nothing on the host.
            OwnerOnly.CreateDirectory(_environment.FileSystem, files.Directory);
            try
            {
                await StateFile.WriteAsync(_environment.FileSystem, files.Spec, JsonSerializer.SerializeToUtf8Bytes(spec, KvmJsonContext.Default.VmSpec), OwnerOnly.FileMode, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                _environment.FileSystem.Directory.Delete(files.Directory, recursive: true);
                throw;
            }

            var machine = new KvmVirtualMachine(spec, files, _environment);
            _machines[spec.Name] = machine;
            return machine;
        }
        finally
        {
            _catalog.Release();
        }
    }

    /// <inheritdoc />
    public async Task<IVirtualMachine> GetAsync(string name, CancellationToken cancellationToken = default)
    {
        if (!VmSpecValidator.IsValidName(name))
        {
            throw new ArgumentException($"'{name}' is not a valid VM name", nameof(name));
        }

        if (_machines.TryGetValue(name, out var known) && StillDefined(known))
        {
            return known;
        }

        await _catalog.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_machines.TryGetValue(name, out known))
            {
                if (StillDefined(known))
                {
                    return known;
                }

                // Deleted, or migrated to another host, by another process: this one's view of it is over.
                _machines.TryRemove(new KeyValuePair<string, KvmVirtualMachine>(name, known));
            }

            var files = FilesOf(name);
            if (!_environment.FileSystem.File.Exists(files.Spec))
            {
                throw new VmNotFoundException(name, _environment.Options.StateDirectory);
            }

            KvmVirtualMachine machine;
            try
            {
                var spec = JsonSerializer.Deserialize(await _environment.FileSystem.File.ReadAllBytesAsync(files.Spec, cancellationToken).ConfigureAwait(false), KvmJsonContext.Default.VmSpec)
                    ?? throw new VmException(VirtErrorKind.Failed, $"the spec of VM '{name}' in '{files.Spec}' is empty: restore it or delete the VM's directory");
                machine = new KvmVirtualMachine(spec, files, _environment);
                await machine.ReattachAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception error) when (error is FileNotFoundException or DirectoryNotFoundException)
            {
                // Removed by another process between the look and the read (a delete, or a discarded receive).
                throw new VmNotFoundException(name, _environment.Options.StateDirectory);
            }

            if (!StillDefined(machine))
            {
                // Its QEMU had been migrated to another host; the cleanup after it, just done, undefined the VM here.
                throw new VmNotFoundException(name, _environment.Options.StateDirectory);
            }

            _machines[name] = machine;
            return machine;
        }
        finally
        {
            _catalog.Release();
        }
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<IVirtualMachine>> ListAsync(CancellationToken cancellationToken = default)
    {
        var machines = new List<IVirtualMachine>();
        if (!_environment.FileSystem.Directory.Exists(_environment.Options.StateDirectory))
        {
            return machines;
        }

        foreach (var directory in _environment.FileSystem.Directory.EnumerateDirectories(_environment.Options.StateDirectory).Order(StringComparer.Ordinal))
        {
            var name = Path.GetFileName(directory);
            if (VmSpecValidator.IsValidName(name) && _environment.FileSystem.File.Exists(FilesOf(name).Spec))
            {
                try
                {
                    machines.Add(await GetAsync(name, cancellationToken).ConfigureAwait(false));
                }
                catch (VmNotFoundException)
                {
                    // Undefined meanwhile: deleted by another process, or found migrated away or never arrived (see GetAsync).
                }
            }
        }

        return machines;
    }

    /// <inheritdoc />
    public async Task<MigrationTicket> PrepareIncomingAsync(VmSpec spec, IncomingMigrationOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        VmSpecValidator.Validate(spec);
        var listen = Migration.IncomingMigrationCheck.Validate(spec, options);
        var copies = Migration.CrossHostDiskCopy.Plan(spec, options);
        var tlsDirectory = options.Security == MigrationSecurity.Tls
            ? Migration.MigrationTls.RequireDirectory(_environment.FileSystem, spec.Name, options.TlsDirectory ?? _environment.Options.MigrationTlsDirectory, server: true)
            : null;

        // The VM is recorded (spec.json) like a created one, so a failure or restart finds and removes it.
        // Copied disks are recorded at their new images in the VM's directory, which the source's paths are not on this host.
        var machine = (KvmVirtualMachine)await CreateAsync(Migration.CrossHostDiskCopy.DestinationSpec(spec, copies, FilesOf(spec.Name).Directory), cancellationToken).ConfigureAwait(false);
        try
        {
            return await machine.ReceiveAsync(options, listen, tlsDirectory, copies, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await ForgetAsync(machine).ConfigureAwait(false);
            throw;
        }
    }

    /// <inheritdoc />
    public async Task DeleteAsync(string name, bool force = false, CancellationToken cancellationToken = default)
    {
        var machine = (KvmVirtualMachine)await GetAsync(name, cancellationToken).ConfigureAwait(false);
        if (machine.IsIncoming)
        {
            // Not a guest yet, only a QEMU waiting for one: taking it back needs no force.
            await machine.AbandonIncomingAsync().ConfigureAwait(false);
            return;
        }

        if (machine.IsRunning)
        {
            if (!force)
            {
                var status = await machine.GetStatusAsync(cancellationToken).ConfigureAwait(false);
                throw new VmStateException(name, "delete", status.State, "shut it down first, or pass force: true to kill it");
            }

            await machine.KillAsync(cancellationToken).ConfigureAwait(false);
        }

        // Stopping released them; a port a crashed start left behind goes with the VM too, and so do the volumes a receive
        // that never finished made here.
        await machine.ReleaseNetworkPortsAsync().ConfigureAwait(false);
        await machine.DeleteVolumesOfUnfinishedReceiveAsync().ConfigureAwait(false);
        await _catalog.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _environment.FileSystem.Directory.Delete(machine.Files.Directory, recursive: true);
            _machines.TryRemove(name, out _);
        }
        finally
        {
            _catalog.Release();
        }
    }

    /// <summary>Lets go of every VM without stopping them: their QEMU keeps running for the next manager.</summary>
    /// <returns>A task that completes when every monitor connection is closed.</returns>
    public async ValueTask DisposeAsync()
    {
        foreach (var machine in _machines.Values)
        {
            await machine.DetachAsync().ConfigureAwait(false);
        }

        _machines.Clear();
    }

    /// <summary>Removes a VM that lives on another host now, or never arrived here: its directory and catalog entry.</summary>
    private async Task ForgetAsync(KvmVirtualMachine machine)
    {
        await _catalog.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            try
            {
                _environment.FileSystem.Directory.Delete(machine.Files.Directory, recursive: true);
            }
            catch (DirectoryNotFoundException)
            {
                // Already gone (another process that managed the VM removed it as well).
            }

            _machines.TryRemove(new KeyValuePair<string, KvmVirtualMachine>(machine.Name, machine));
        }
        finally
        {
            _catalog.Release();
        }
    }

    /// <summary>
    /// What a VM of this name left when it stopped being defined here without its directory going too (the migrating
    /// process ended before it removed it): removed before the name is used again. A run still recorded there is the
    /// cleanup after a QEMU that migrated away, which must finish first.
    /// </summary>
    private void ClearLeftovers(VmFiles files)
    {
        if (!_environment.FileSystem.Directory.Exists(files.Directory))
        {
            return;
        }

        if (_environment.FileSystem.File.Exists(files.Runtime))
        {
            throw new VmException(VirtErrorKind.Conflict, $"VM '{Path.GetFileName(files.Directory)}' is no longer defined here, but the cleanup after its QEMU (runtime.json in '{files.Directory}') is still under way in another process; try again once it has finished");
        }

        _environment.FileSystem.Directory.Delete(files.Directory, recursive: true);
    }

    /// <summary>Whether a VM this manager knows is still defined on this host (another process may have deleted or migrated it away).</summary>
    private bool StillDefined(KvmVirtualMachine machine) => machine.IsRunning || _environment.FileSystem.File.Exists(machine.Files.Spec);

    private VmFiles FilesOf(string name) => new(Path.Combine(_environment.Options.StateDirectory, name));
}
