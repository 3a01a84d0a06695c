using System.IO.Abstractions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Virt.Passthrough.Binding;
using Virt.Passthrough.Host;
using Virt.Passthrough.Hosting;
using Virt.Passthrough.Mdev;
using Virt.Passthrough.Readiness;
using Virt.Passthrough.Sriov;
using Virt.Passthrough.Sysfs;

namespace Virt.Passthrough;

/// <summary>
/// PCI passthrough on a Linux host through sysfs and procfs, all through <see cref="IFileSystem"/>: the
/// real one on a host, a <c>Virt.Passthrough.Testing.FakePciHost</c> in tests. Operations that change the
/// host run one at a time, across processes (a lock file in the state directory).
/// </summary>
public sealed class PassthroughManager : IPassthroughManager
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly PciSysfsReader _reader;
    private readonly HostReadinessChecker _readiness;
    private readonly PassthroughPlanner _planner;
    private readonly PassthroughJournal _journal;
    private readonly VfioBinder _binder;
    private readonly SriovController _sriov;
    private readonly MediatedDeviceController _mdev;
    private readonly HostLock _hostLock;

    /// <summary>Creates a manager.</summary>
    /// <param name="fileSystem">The file system.</param>
    /// <param name="options">Where sysfs, procfs, /dev and the journal are; deadlines.</param>
    /// <param name="logger">Where to log; null for none.</param>
    /// <param name="timeProvider">The clock for deadlines and polling (write, probe and lock timeouts); null for the system clock.</param>
    public PassthroughManager(IFileSystem fileSystem, PassthroughOptions options, ILogger<PassthroughManager>? logger = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(fileSystem);
        ArgumentNullException.ThrowIfNull(options);
        PassthroughOptionsValidator.ThrowIfInvalid(options);
        ILogger log = logger ?? NullLogger<PassthroughManager>.Instance;
        var time = timeProvider ?? TimeProvider.System;
        _reader = new PciSysfsReader(fileSystem, options.SysfsRoot, new PciIdDatabase(options.PciIdsPath));
        _readiness = new HostReadinessChecker(fileSystem, options);
        var scanner = new HostUsageScanner(fileSystem, options);
        _journal = new PassthroughJournal(fileSystem, options);
        _planner = new PassthroughPlanner(fileSystem, options, _reader, scanner, _journal);
        _binder = new VfioBinder(fileSystem, options, _reader, _planner, scanner, _journal, log, time);
        _sriov = new SriovController(fileSystem, options, _reader, _journal, time);
        _mdev = new MediatedDeviceController(fileSystem, options, _reader, time);
        _hostLock = new HostLock(fileSystem, options, time);
    }

    /// <summary>The name-based UUID a mediated device created for <paramref name="name"/> gets.</summary>
    /// <param name="name">The name given to <see cref="CreateMediatedDeviceAsync"/>.</param>
    /// <returns>The UUID (version 5).</returns>
    public static Guid MediatedDeviceUuid(string name) => MediatedDeviceController.UuidFor(name);

    /// <inheritdoc />
    public IReadOnlyList<PciDevice> ListDevices() => _reader.ListDevices();

    /// <inheritdoc />
    public PciDevice GetDevice(PciAddress address) => _reader.GetDevice(address);

    /// <inheritdoc />
    public IReadOnlyList<IommuGroup> ListIommuGroups() => _reader.ListIommuGroups();

    /// <inheritdoc />
    public ReadinessReport CheckReadiness() => _readiness.Check();

    /// <inheritdoc />
    public Task<PassthroughPlan> PlanAsync(IReadOnlyList<PciAddress> devices, PassthroughPlanOptions options, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return Task.FromResult(_planner.Plan(devices, options));
    }

    /// <inheritdoc />
    public Task<PassthroughBinding> ApplyAsync(PassthroughPlan plan, CancellationToken cancellationToken = default) =>
        ExclusiveAsync(() => _binder.ApplyAsync(plan, cancellationToken), cancellationToken);

    /// <inheritdoc />
    public Task<PassthroughBinding> AcquireAsync(string owner, IReadOnlyList<PciAddress> devices, bool allFunctions, CancellationToken cancellationToken = default) =>
        ExclusiveAsync(
            async () =>
            {
                var plan = _planner.Plan(devices, new PassthroughPlanOptions { Owner = owner, AllFunctions = allFunctions });
                return await _binder.ApplyAsync(plan, cancellationToken).ConfigureAwait(false);
            },
            cancellationToken);

    /// <inheritdoc />
    public Task ReleaseAsync(string owner, CancellationToken cancellationToken = default) =>
        ExclusiveAsync(() => _binder.ReleaseAsync(owner, cancellationToken), cancellationToken);

    /// <inheritdoc />
    public IReadOnlyList<PassthroughBinding> ListBindings() => _journal.ReadAll().Select(VfioBinder.ToBinding).ToList();

    /// <inheritdoc />
    public IReadOnlyList<PciDevice> ListVirtualFunctions(PciAddress physicalFunction) => _sriov.ListVirtualFunctions(physicalFunction);

    /// <inheritdoc />
    public Task<IReadOnlyList<PciDevice>> SetVirtualFunctionCountAsync(PciAddress physicalFunction, int count, bool autoprobe, CancellationToken cancellationToken = default) =>
        ExclusiveAsync(() => _sriov.SetCountAsync(physicalFunction, count, autoprobe, cancellationToken), cancellationToken);

    /// <inheritdoc />
    public IReadOnlyList<MdevType> ListMdevTypes(PciAddress parent) => _mdev.ListTypes(parent);

    /// <inheritdoc />
    public IReadOnlyList<MediatedDevice> ListMediatedDevices() => _mdev.ListDevices();

    /// <inheritdoc />
    public Task<MediatedDevice> CreateMediatedDeviceAsync(PciAddress parent, string type, string name, CancellationToken cancellationToken = default) =>
        ExclusiveAsync(() => _mdev.CreateAsync(parent, type, name, cancellationToken), cancellationToken);

    /// <inheritdoc />
    public Task RemoveMediatedDeviceAsync(Guid uuid, CancellationToken cancellationToken = default) =>
        ExclusiveAsync(() => _mdev.RemoveAsync(uuid, cancellationToken), cancellationToken);

    /// <inheritdoc />
    public NvidiaVgpuState GetNvidiaVgpuState(PciAddress virtualFunction) => _mdev.VgpuState(virtualFunction);

    /// <inheritdoc />
    public Task SetNvidiaVgpuTypeAsync(PciAddress virtualFunction, int typeId, CancellationToken cancellationToken = default) =>
        ExclusiveAsync(() => _mdev.SetVgpuTypeAsync(virtualFunction, typeId, cancellationToken), cancellationToken);

    private Task ExclusiveAsync(Func<Task> operation, CancellationToken cancellationToken) =>
        ExclusiveAsync(
            async () =>
            {
                await operation().ConfigureAwait(false);
                return true;
            },
            cancellationToken);

    private async Task<T> ExclusiveAsync<T>(Func<Task<T>> operation, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using var hostLock = await _hostLock.AcquireAsync(cancellationToken).ConfigureAwait(false);
            return await operation().ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }
}
