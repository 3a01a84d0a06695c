using System.Globalization;
using System.Net;
using Virt.Networking;

namespace Virt.Testing;

/// <summary>The calls <see cref="InMemoryNetworkPorts"/> records.</summary>
public enum InMemoryNetworkPortOperation
{
    /// <summary><see cref="INetworkPorts.PrepareAsync"/> (each port of <see cref="INetworkPorts.PrepareManyAsync"/> too).</summary>
    Prepare,

    /// <summary><see cref="INetworkPorts.ConnectAsync"/> (each port of <see cref="INetworkPorts.ConnectManyAsync"/> too).</summary>
    Connect,

    /// <summary><see cref="INetworkPorts.ReleaseAsync"/>.</summary>
    Release,

    /// <summary><see cref="INetworkPorts.CheckAsync"/>.</summary>
    Check,
}

/// <summary>One call to <see cref="InMemoryNetworkPorts"/>, refused ones included.</summary>
/// <param name="Operation">Which call.</param>
/// <param name="Owner">The port's owner (<c>vm:NAME</c>, <c>ct:NAME</c>).</param>
/// <param name="NicId">The NIC's id; <see langword="null"/> for a release of every port of the owner.</param>
public sealed record InMemoryNetworkPortCall(InMemoryNetworkPortOperation Operation, string Owner, string? NicId);

/// <summary>
/// An <see cref="INetworkPorts"/> that keeps ports in memory, for tests of code that puts VMs and containers on managed
/// networks without a kernel: the test says which networks exist (<see cref="AddNetwork(NetworkDefinition)"/>), and the
/// double refuses the rest as the network manager does — an unknown network with a <see cref="NetworkException"/> of kind
/// <see cref="VirtErrorKind.NotFound"/>, a port already on another network as a <see cref="VirtErrorKind.Conflict"/>, a VLAN
/// tag off a VLAN network or a fixed address outside the subnet, on the gateway or taken as
/// <see cref="VirtErrorKind.InvalidInput"/>, a connect before a prepare as <see cref="VirtErrorKind.NotFound"/>. It records
/// every call in order (<see cref="Calls"/>) and the ports now held (<see cref="Ports"/>); nothing touches the host.
/// </summary>
public sealed class InMemoryNetworkPorts : INetworkPorts
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, NetworkDefinition> _networks = new(StringComparer.Ordinal);
    private readonly List<(NetworkPort Port, bool Connected)> _ports = [];
    private readonly List<InMemoryNetworkPortCall> _calls = [];
    private readonly Dictionary<InMemoryNetworkPortOperation, Exception> _failures = [];

    /// <summary>Creates the double with the given networks defined and applied.</summary>
    /// <param name="networks">The networks that exist; more can be added with <see cref="AddNetwork(NetworkDefinition)"/>.</param>
    public InMemoryNetworkPorts(params IEnumerable<NetworkDefinition> networks)
    {
        ArgumentNullException.ThrowIfNull(networks);
        foreach (var network in networks)
        {
            AddNetwork(network);
        }
    }

    /// <summary>Every call so far, in order, refused ones included.</summary>
    public IReadOnlyList<InMemoryNetworkPortCall> Calls
    {
        get
        {
            lock (_gate)
            {
                return [.. _calls];
            }
        }
    }

    /// <summary>The ports prepared and not released, in the order they were first prepared.</summary>
    public IReadOnlyList<NetworkPort> Ports
    {
        get
        {
            lock (_gate)
            {
                return [.. _ports.Select(entry => entry.Port)];
            }
        }
    }

    /// <summary>
    /// Whether the ports say that connecting moves their interface into another namespace
    /// (<see cref="NetworkPort.ConnectMovesInterface"/>), as a network manager for another namespace does; false by default.
    /// </summary>
    public bool ConnectMovesInterface { get; set; }

    /// <summary>Defines (or replaces) a network, as applied: NICs may join it from now on.</summary>
    /// <param name="network">The network; its bridge name, MTU (1500 when unset) and IPv4 subnet shape the ports.</param>
    public void AddNetwork(NetworkDefinition network)
    {
        ArgumentNullException.ThrowIfNull(network);
        lock (_gate)
        {
            _networks[network.Name] = network;
        }
    }

    /// <summary>Defines an isolated network (a bridge with no address) by name.</summary>
    /// <param name="name">The network's name.</param>
    public void AddNetwork(string name) => AddNetwork(new IsolatedNetworkDefinition(name));

    /// <summary>Whether the port is prepared and connected (its host interface on the network's bridge).</summary>
    /// <param name="owner">The port's owner.</param>
    /// <param name="nicId">The NIC's id.</param>
    /// <returns>True once <see cref="ConnectAsync"/> succeeded for it, until it is released.</returns>
    public bool IsConnected(string owner, string nicId)
    {
        lock (_gate)
        {
            return _ports.Any(entry => IsPort(entry.Port, owner, nicId) && entry.Connected);
        }
    }

    /// <summary>Makes the next call of <paramref name="operation"/> throw <paramref name="exception"/> (after recording it), e.g. a host failure on connect.</summary>
    /// <param name="operation">Which call fails.</param>
    /// <param name="exception">What it throws.</param>
    public void FailNext(InMemoryNetworkPortOperation operation, Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        lock (_gate)
        {
            _failures[operation] = exception;
        }
    }

    /// <inheritdoc/>
    public Task<NetworkPort> PrepareAsync(NetworkPortRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            Record(InMemoryNetworkPortOperation.Prepare, request.Owner, request.NicId);
            var (port, index) = Checked(request);
            if (index >= 0)
            {
                // Preparing the same port again replaces it, as the network manager does.
                _ports[index] = (port, _ports[index].Connected);
            }
            else
            {
                _ports.Add((port, false));
            }

            return Task.FromResult(port);
        }
    }

    /// <inheritdoc/>
    public Task CheckAsync(NetworkPortRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            Record(InMemoryNetworkPortOperation.Check, request.Owner, request.NicId);
            _ = Checked(request);
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<NetworkPort>> PrepareManyAsync(IReadOnlyList<NetworkPortRequest> requests, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(requests);

        // All or none, as the network manager: every request is checked before any is recorded.
        lock (_gate)
        {
            foreach (var request in requests)
            {
                ArgumentNullException.ThrowIfNull(request);
                _ = Checked(request);
            }
        }

        var ports = new List<NetworkPort>(requests.Count);
        foreach (var request in requests)
        {
            ports.Add(await PrepareAsync(request, cancellationToken).ConfigureAwait(false));
        }

        return ports;
    }

    /// <inheritdoc/>
    public async Task ConnectManyAsync(IReadOnlyList<NetworkPortId> ports, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ports);
        lock (_gate)
        {
            var unknown = ports.Where(id => !_ports.Any(entry => IsPort(entry.Port, id.Owner, id.NicId))).Select(id => $"{id.Owner}/{id.NicId}").ToList();
            if (unknown.Count > 0)
            {
                throw new NetworkException(VirtErrorKind.NotFound, $"ports {string.Join(", ", unknown)} are not prepared: call INetworkPorts.PrepareAsync (or PrepareManyAsync) before connecting them; nothing was connected");
            }
        }

        foreach (var id in ports)
        {
            await ConnectAsync(id.Owner, id.NicId, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc/>
    /// <remarks>The network's <see cref="NetworkDefinition.Mtu"/>, as the ports this fake prepares get it; not a recorded call.</remarks>
    public Task<int?> GetPortMtuAsync(string network, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            return Task.FromResult(_networks.TryGetValue(network, out var definition) ? definition.Mtu : null);
        }
    }

    /// <inheritdoc/>
    public Task ConnectAsync(string owner, string nicId, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            Record(InMemoryNetworkPortOperation.Connect, owner, nicId);
            var index = _ports.FindIndex(entry => IsPort(entry.Port, owner, nicId));
            if (index < 0)
            {
                throw new NetworkException(VirtErrorKind.NotFound, $"port {owner}/{nicId} is not prepared: call INetworkPorts.PrepareAsync before ConnectAsync");
            }

            _ports[index] = (_ports[index].Port, true);
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public Task ReleaseAsync(string owner, string? nicId = null, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            Record(InMemoryNetworkPortOperation.Release, owner, nicId);
            _ports.RemoveAll(entry => entry.Port.Request.Owner == owner && (nicId is null || entry.Port.Request.NicId == nicId));
        }

        return Task.CompletedTask;
    }

    private void Record(InMemoryNetworkPortOperation operation, string owner, string? nicId)
    {
        _calls.Add(new InMemoryNetworkPortCall(operation, owner, nicId));
        if (_failures.Remove(operation, out var failure))
        {
            throw failure;
        }
    }

    /// <summary>The port the request would get and the index of its current entry (or -1); throws what the manager refuses.</summary>
    private (NetworkPort Port, int Index) Checked(NetworkPortRequest request)
    {
        if (!_networks.TryGetValue(request.Network, out var network))
        {
            throw new NetworkException(VirtErrorKind.NotFound, $"network '{request.Network}' is not defined: define it with INetworkManager.DefineAsync and apply it");
        }

        var index = _ports.FindIndex(entry => IsPort(entry.Port, request.Owner, request.NicId));
        if (index >= 0 && _ports[index].Port.Request.Network != request.Network)
        {
            throw new NetworkException(VirtErrorKind.Conflict, $"port {request.Owner}/{request.NicId} is on network '{_ports[index].Port.Request.Network}': release it with INetworkPorts.ReleaseAsync before putting the NIC on '{request.Network}'");
        }

        return (PortOf(network, request), index);
    }

    private static bool IsPort(NetworkPort port, string owner, string nicId) => port.Request.Owner == owner && port.Request.NicId == nicId;

    /// <summary>The port as the network manager would give it: the bridge, the MTU, and the fixed (or reserved) address with the subnet's prefix and gateway.</summary>
    private NetworkPort PortOf(NetworkDefinition network, NetworkPortRequest request)
    {
        if (request.VlanTag is { } tag && network is not VlanNetworkDefinition)
        {
            throw Invalid(request, $"VlanTag {tag} is set but network '{network.Name}' is a {network.Kind} network: VLAN tags apply only on a vlan network; remove VlanTag or use a vlan network");
        }

        var subnet = network switch
        {
            NatNetworkDefinition nat => nat.Ipv4,
            RoutedNetworkDefinition routed => routed.Ipv4,
            VxlanNetworkDefinition vxlan => vxlan.Ipv4,
            _ => null,
        };
        var address = request.Ipv4Address ?? subnet?.Reservations.FirstOrDefault(reservation => string.Equals(reservation.MacAddress, request.MacAddress, StringComparison.OrdinalIgnoreCase))?.Address;
        string? withPrefix = null;
        if (address is not null)
        {
            if (subnet is null)
            {
                throw Invalid(request, $"Ipv4Address '{address}' is set but network '{network.Name}' has no IPv4 subnet: remove Ipv4Address or give the network an Ipv4 subnet");
            }

            var prefix = IPNetwork.Parse(subnet.Cidr);
            if (!IPAddress.TryParse(address, out var parsed) || !prefix.Contains(parsed) || address == subnet.Gateway)
            {
                throw Invalid(request, $"Ipv4Address '{address}' is not a free host address of {subnet.Cidr} (the gateway is {subnet.Gateway}): use another address in the subnet");
            }

            if (_ports.FirstOrDefault(entry => entry.Port.Request.Network == network.Name && !IsPort(entry.Port, request.Owner, request.NicId) && entry.Port.Ipv4Address?.Split('/')[0] == address).Port is { } other)
            {
                throw Invalid(request, $"Ipv4Address '{address}' is taken by port {other.Request.Owner}/{other.Request.NicId}: use a free address in {subnet.Cidr}");
            }

            withPrefix = address + "/" + prefix.PrefixLength.ToString(CultureInfo.InvariantCulture);
        }

        return new NetworkPort(request, network.EffectiveBridgeName, network.Mtu ?? 1500, withPrefix, subnet?.Gateway) { ConnectMovesInterface = ConnectMovesInterface };
    }

    private static NetworkException Invalid(NetworkPortRequest request, string problem) =>
        new(VirtErrorKind.InvalidInput, $"port {request.Owner}/{request.NicId} on network '{request.Network}': {problem}");
}
