using System.Collections.Concurrent;
using Virt.VirtualMachines;

namespace Virt.Testing;

/// <summary>
/// An <see cref="IVirtualMachineManager"/> that keeps its VMs in memory. It validates specs and throws
/// the exceptions the QEMU backend throws (<see cref="VmAlreadyExistsException"/>,
/// <see cref="VmNotFoundException"/>, <see cref="VmStateException"/>), so code under test sees the same
/// contract without QEMU.
/// </summary>
public sealed class InMemoryVirtualMachineManager : IVirtualMachineManager
{
    /// <summary>What <see cref="VmNotFoundException"/> names as the state directory.</summary>
    public const string StateDirectory = "(in memory)";

    private readonly ConcurrentDictionary<string, InMemoryVirtualMachine> _vms = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;
    private readonly ManagedNicPorts _networkPorts;

    /// <summary>Creates an empty manager.</summary>
    /// <param name="time">The clock for event times and uptimes; <see langword="null"/> for the system clock.</param>
    /// <param name="networkPorts">
    /// Puts NICs on managed networks (<see cref="VmNic.Network"/>) as the QEMU backend does — prepared and connected at start
    /// and attach, released at stop, crash, detach and delete — e.g. an <see cref="InMemoryNetworkPorts"/>. Optional: without
    /// it a VM with such a NIC does not start, as without <c>AddNetwork()</c>.
    /// </param>
    public InMemoryVirtualMachineManager(TimeProvider? time = null, Virt.Networking.INetworkPorts? networkPorts = null)
    {
        _time = time ?? TimeProvider.System;
        _networkPorts = new ManagedNicPorts(networkPorts);
    }

    /// <inheritdoc/>
    public Task<IVirtualMachine> CreateAsync(VmSpec spec, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        VmSpecValidator.Validate(spec);
        var vm = new InMemoryVirtualMachine(spec, _time, _networkPorts);
        return _vms.TryAdd(spec.Name, vm)
            ? Task.FromResult<IVirtualMachine>(vm)
            : throw new VmAlreadyExistsException(spec.Name);
    }

    /// <inheritdoc/>
    public Task<IVirtualMachine> GetAsync(string name, CancellationToken cancellationToken = default) =>
        Task.FromResult<IVirtualMachine>(Find(name));

    /// <inheritdoc/>
    public Task<IReadOnlyList<IVirtualMachine>> ListAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<IVirtualMachine>>([.. _vms.Values.OrderBy(vm => vm.Name, StringComparer.Ordinal)]);

    /// <inheritdoc />
    /// <remarks>
    /// The VM is listed as <see cref="VmState.Incoming"/> until the ticket expires (then it is removed, as the QEMU backend
    /// removes one that never arrived) or it is deleted. No stream is listened for: an in-memory VM cannot migrate, so
    /// it never arrives. Host devices are refused as by the QEMU backend.
    /// </remarks>
    public Task<MigrationTicket> PrepareIncomingAsync(VmSpec spec, IncomingMigrationOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(options);
        VmSpecValidator.Validate(spec);
        if (!System.Net.IPAddress.TryParse(options.ListenAddress, out var address))
        {
            throw new ArgumentException($"VM '{spec.Name}': ListenAddress '{options.ListenAddress}' is not an IP address", nameof(options));
        }

        if (spec.HostDevices.Count > 0)
        {
            throw new VmMigrationException(spec.Name, "it has host devices, whose state cannot move between hosts; detach them on the source before migrating");
        }

        var vm = new InMemoryVirtualMachine(spec, _time, _networkPorts);
        vm.MarkIncoming(options.SourceHost);
        if (!_vms.TryAdd(spec.Name, vm))
        {
            throw new VmAlreadyExistsException(spec.Name);
        }

        var expiresAt = _time.GetUtcNow() + options.TicketLifetime;
        vm.IncomingExpiry = _time.CreateTimer(_ => RemoveIfStillIncoming(vm), null, options.TicketLifetime, Timeout.InfiniteTimeSpan);
        return Task.FromResult(new MigrationTicket
        {
            VmName = spec.Name,
            DestinationHost = "in-memory",
            Address = new System.Net.IPEndPoint(address, options.Port).ToString(),
            Token = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)),
            ExpiresAt = expiresAt,
            MachineType = spec.Machine.ToString().ToLowerInvariant(),
            CpuModel = spec.Cpu.Model ?? "qemu64",
            QemuVersion = "0.0.0",
            Security = options.Security,
            Disks = spec.Disks.Select(disk => new MigrationDiskPlan(disk.Id, MigrationDiskTransfer.Shared)).ToList(),
        });
    }

    /// <inheritdoc/>
    public async Task DeleteAsync(string name, bool force = false, CancellationToken cancellationToken = default)
    {
        var vm = Find(name);
        var state = vm.State;
        if (state != VmState.Stopped && state != VmState.Crashed && state != VmState.Incoming)
        {
            if (!force)
            {
                throw new VmStateException(name, "delete", state, "shut it down first, or pass force: true to kill it");
            }

            await vm.KillAsync(cancellationToken).ConfigureAwait(false);
        }

        await _networkPorts.ReleaseAsync("vm:" + name).ConfigureAwait(false);
        vm.IncomingExpiry?.Dispose();
        _vms.TryRemove(name, out _);
        vm.Complete();
    }

    /// <summary>A ticket expired: the VM that never arrived goes, as the QEMU backend removes it.</summary>
    private void RemoveIfStillIncoming(InMemoryVirtualMachine vm)
    {
        vm.IncomingExpiry?.Dispose();
        if (vm.State == VmState.Incoming && _vms.TryRemove(new KeyValuePair<string, InMemoryVirtualMachine>(vm.Name, vm)))
        {
            vm.Complete();
        }
    }

    private InMemoryVirtualMachine Find(string name) =>
        _vms.TryGetValue(name, out var vm) ? vm : throw new VmNotFoundException(name, StateDirectory);
}
