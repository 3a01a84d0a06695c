using Virt.Networking;
using Virt.VirtualMachines;

namespace Virt.Kvm.VirtualMachines;

/// <summary>
/// NICs on managed networks (<see cref="VmNic.Network"/>): each one's port is prepared through <see cref="INetworkPorts"/>
/// (owner <c>vm:NAME</c>, the NIC's id) before QEMU is spawned or the NIC is plugged, so its firewall rules are in force
/// before the guest sends anything; <see cref="TapDevices"/> connects the tap once QEMU holds it; the ports are released when
/// QEMU is gone (stop, crash, failed start), when the NIC is unplugged and when the VM is deleted.
/// </summary>
internal sealed partial class KvmVirtualMachine
{
    /// <summary>
    /// The MTU of each NIC on a network that names one, by NIC id, for the command line's <c>host_mtu</c>. Asked of the
    /// network (<see cref="INetworkPorts.GetPortMtuAsync"/>) rather than taken from the prepared ports, so that the command
    /// line does not wait for the ports: it is built before they are prepared. A network that cannot tell leaves the NIC
    /// at the guest's default.
    /// </summary>
    private async Task<IReadOnlyDictionary<string, int>> NetworkMtusAsync(IEnumerable<VmNic> nics, CancellationToken cancellationToken)
    {
        var mtus = new Dictionary<string, int>(StringComparer.Ordinal);
        if (_environment.NetworkPorts is not { } ports)
        {
            return mtus;
        }

        foreach (var nic in nics.Where(nic => nic.Network is not null && nic.Model == VmNicModel.VirtioNet))
        {
            if (await ports.GetPortMtuAsync(nic.Network!, cancellationToken).ConfigureAwait(false) is { } mtu)
            {
                mtus[nic.Id] = mtu;
            }
        }

        return mtus;
    }

    /// <summary>Refuses, before anything is made, a NIC on a network when no network backend is registered.</summary>
    private void RequireNetworkBackend(IEnumerable<VmNic> nics, Func<string, Exception?, Exception> fail)
    {
        if (_environment.NetworkPorts is null && nics.FirstOrDefault(nic => nic.Network is not null) is { } managed)
        {
            throw fail(ManagedNics.NoBackend(managed), null);
        }
    }

    /// <summary>
    /// Prepares the port of each NIC on a network, in order. When one is refused (an unknown network, a bad tag, an
    /// address taken), the ports prepared for the NICs before it are released and <paramref name="fail"/>'s exception,
    /// naming the NIC, the network and what the network said, is thrown.
    /// </summary>
    private async Task<IReadOnlyList<NetworkPort>> PrepareNetworkPortsAsync(IEnumerable<VmNic> nics, Func<string, Exception?, Exception> fail, CancellationToken cancellationToken)
    {
        var managed = nics.Where(nic => nic.Network is not null).ToList();
        if (managed.Count == 0)
        {
            return [];
        }

        RequireNetworkBackend(managed, fail);
        var ports = _environment.NetworkPorts!;
        var attempted = new List<string>();
        var prepared = new List<NetworkPort>(managed.Count);
        foreach (var nic in managed)
        {
            attempted.Add(nic.Id);
            try
            {
                prepared.Add(await ports.PrepareAsync(ManagedNics.Request(Name, nic), cancellationToken).ConfigureAwait(false));
            }
            catch (Exception exception) when (exception is VirtException or TimeoutException or OperationCanceledException)
            {
                foreach (var id in attempted)
                {
                    await ReleaseNetworkPortsAsync(id).ConfigureAwait(false);
                }

                if (exception is OperationCanceledException)
                {
                    throw;
                }

                throw fail($"NIC '{nic.Id}' cannot join network '{nic.Network}': {exception.Message}", exception);
            }
        }

        return prepared;
    }

    /// <summary>
    /// Checks each NIC on a network against it without changing anything (an unknown network, a bad tag, an address
    /// taken): what would refuse the port refuses the start before a tap or QEMU exists, with <paramref name="fail"/>'s
    /// exception naming the NIC and the network.
    /// </summary>
    private async Task CheckNetworkPortsAsync(IEnumerable<VmNic> nics, Func<string, Exception?, Exception> fail, CancellationToken cancellationToken)
    {
        var managed = nics.Where(nic => nic.Network is not null).ToList();
        if (managed.Count == 0)
        {
            return;
        }

        RequireNetworkBackend(managed, fail);
        foreach (var nic in managed)
        {
            try
            {
                await _environment.NetworkPorts!.CheckAsync(ManagedNics.Request(Name, nic), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception exception) when (exception is VirtException or TimeoutException)
            {
                throw fail($"NIC '{nic.Id}' cannot join network '{nic.Network}': {exception.Message}", exception);
            }
        }
    }

    /// <summary>
    /// Prepares the ports of the NICs on networks (their firewall rules in force) and connects those whose tap stays in
    /// this namespace. Runs while QEMU builds its machine, and is awaited before <c>cont</c>: the guest never runs before
    /// its rules. Returns whether the taps still need <see cref="TapDevices.ConnectManagedAsync"/> once QEMU holds them
    /// (a network managed in another namespace moves the tap there, which must wait until QEMU has opened it).
    /// </summary>
    private async Task<bool> ReadyNetworkPortsAsync(IReadOnlyList<VmNic> nics, Func<string, Exception?, Exception> fail, CancellationToken cancellationToken)
    {
        var ports = await PrepareNetworkPortsAsync(nics, fail, cancellationToken).ConfigureAwait(false);
        if (ports.Count == 0 || ports.Any(port => port.ConnectMovesInterface))
        {
            return ports.Count > 0;
        }

        await _environment.Taps.ConnectManagedAsync(Name, nics, cancellationToken).ConfigureAwait(false);
        return false;
    }

    /// <summary>
    /// Releases the VM's ports on managed networks (one NIC's, or all of them). Idempotent (an unknown port is nothing to
    /// the network); never throws, since it runs on cleanup paths, but logs.
    /// </summary>
    internal async Task ReleaseNetworkPortsAsync(string? nicId = null)
    {
        if (_environment.NetworkPorts is not { } ports || (nicId is null && !Spec.Nics.Any(nic => nic.Network is not null)))
        {
            return;
        }

        try
        {
            await ports.ReleaseAsync(ManagedNics.Owner(Name), nicId, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is VirtException or TimeoutException)
        {
            Log.NetworkPortReleaseFailed(_logger, exception, Name);
        }
    }
}
