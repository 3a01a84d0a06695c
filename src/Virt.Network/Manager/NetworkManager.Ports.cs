using System.Globalization;
using Virt.Network.Definitions;
using Virt.Network.Host;
using Virt.Network.Planning;
using Virt.Networking;

namespace Virt.Network.Manager;

// INetworkPorts: what the VM and container backends call around a NIC's life.
public sealed partial class NetworkManager
{
    /// <inheritdoc />
    /// <remarks>
    /// A network that is defined but was never applied is refused rather than applied here: applying is the step where
    /// an operator sees the plan (bridges, NAT, dnsmasq), and a VM start should not change the host beyond its own port.
    /// </remarks>
    public async Task<NetworkPort> PrepareAsync(NetworkPortRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        RequireSafeName("port owner", nameof(request.Owner), request.Owner);
        RequireSafeName("NIC id", nameof(request.NicId), request.NicId);
        using var held = await LockAsync($"prepare port {request.Owner}/{request.NicId}", cancellationToken).ConfigureAwait(false);
        var state = await _store.ReadAsync(cancellationToken).ConfigureAwait(false);
        var (network, existing) = Checked(state, request, RecordedPorts(state));
        var record = new PortRecord(request, existing?.Connected ?? false);
        var target = state.WithPort(record);
        var dhcp = await DhcpChangesAsync(network.Name, DhcpPlanner.Desired(network, target.PortsOf(network.Name)), removeLeases: false, cancellationToken).ConfigureAwait(false);
        var before = FirewallPlanner.Build(state);
        var plan = await PreparePlanAsync(network.Name, before, FirewallPlanner.Build(target), existing is null ? request : null, dhcp, cancellationToken).ConfigureAwait(false);

        // The record first: a crash after it is finished by the next manager, which re-plans the network with the port.
        _store.WritePort(record);
        await RunOrRestoreAsync(plan, before, existing, record, cancellationToken).ConfigureAwait(false);
        Log.PortPrepared(_logger, request.Owner, request.NicId, request.Network, request.HostInterface);
        return PortOf(network, request, await PortMtuAsync(network, cancellationToken).ConfigureAwait(false));
    }

    /// <inheritdoc />
    /// <remarks>Read from the snapshot of the state directory, without the lock and without reading the host.</remarks>
    public async Task<int?> GetPortMtuAsync(string network, CancellationToken cancellationToken = default)
    {
        var state = await _store.ReadAsync(cancellationToken).ConfigureAwait(false);
        return state.Applied.TryGetValue(network, out var applied) ? NetworkAddressing.Mtu(applied) : null;
    }

    /// <inheritdoc />
    public async Task CheckAsync(NetworkPortRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        RequireSafeName("port owner", nameof(request.Owner), request.Owner);
        RequireSafeName("NIC id", nameof(request.NicId), request.NicId);

        // No lock: a read of the snapshot is consistent (every file is replaced atomically), and PrepareAsync checks again under it.
        var state = await _store.ReadAsync(cancellationToken).ConfigureAwait(false);
        _ = Checked(state, request, RecordedPorts(state));
    }

    /// <inheritdoc />
    public async Task ConnectAsync(string owner, string nicId, CancellationToken cancellationToken = default)
    {
        using var held = await LockAsync($"connect port {owner}/{nicId}", cancellationToken).ConfigureAwait(false);
        var state = await _store.ReadAsync(cancellationToken).ConfigureAwait(false);
        var existing = state.Ports.FirstOrDefault(p => NetworkState.SamePort(p, owner, nicId))
            ?? throw new NetworkException(VirtErrorKind.NotFound, $"port {owner}/{nicId} is not prepared: call INetworkPorts.PrepareAsync before ConnectAsync");
        var network = AppliedNetwork(state, existing.Request.Network);
        var host = await _links.ReadAsync(PlanningParts(state), cancellationToken).ConfigureAwait(false);
        var name = existing.Request.HostInterface;
        if (host.Link(name) is null && await MoveIntoManagedNamespaceAsync(name, cancellationToken).ConfigureAwait(false))
        {
            host = await _links.ReadAsync(PlanningParts(state), cancellationToken).ConfigureAwait(false);
        }

        if (host.Link(name) is null)
        {
            throw new NetworkException(VirtErrorKind.NotFound, $"port {owner}/{nicId}: host interface '{name}' does not exist: create the {existing.Request.Kind.ToString().ToLowerInvariant()} before connecting it");
        }

        var record = existing with { Connected = true };
        var operations = LinkPlanner.PortOperations(network, record, host).ToList();
        var plan = new HostPlan(network.Name, operations, [.. operations.Select(op => LinkInverses.Of(op, host))], FirewallRuleset.Empty, false, 0, []);
        _store.WritePort(record);
        await RunOrRestoreAsync(plan, FirewallPlanner.Build(state), existing, record, cancellationToken).ConfigureAwait(false);
        Log.PortConnected(_logger, owner, nicId, name, network.EffectiveBridgeName);
    }

    /// <inheritdoc />
    public async Task ReleaseAsync(string owner, string? nicId = null, CancellationToken cancellationToken = default)
    {
        // A backend releases before every start (a port a dead start left behind): when the owner has no port, that is
        // answered from the snapshot, without the lock (whose holder note is a write) — no journal means nothing half-done.
        if (!_journal.Exists && !(await _store.ReadAsync(cancellationToken).ConfigureAwait(false)).Ports.Any(p => p.Request.Owner == owner && (nicId is null || p.Request.NicId == nicId)))
        {
            return;
        }

        using var held = await LockAsync($"release port {owner}/{nicId ?? "*"}", cancellationToken).ConfigureAwait(false);
        var state = await _store.ReadAsync(cancellationToken).ConfigureAwait(false);
        var releasing = state.Ports.Where(p => p.Request.Owner == owner && (nicId is null || p.Request.NicId == nicId)).ToList();
        if (releasing.Count == 0)
        {
            return;
        }

        var host = await _links.ReadAsync(PlanningParts(state), cancellationToken).ConfigureAwait(false);
        foreach (var group in releasing.GroupBy(p => p.Request.Network, StringComparer.Ordinal))
        {
            // The interface goes only if it is still there and still marked as this port: never a link someone else made.
            var operations = group.Where(p => host.Link(p.Request.HostInterface)?.Alias == p.Alias).Select(p => (LinkOperation)new DeleteLink(p.Request.HostInterface)).ToList();
            var target = state.WithoutPorts(group);
            if (target.Applied.TryGetValue(group.Key, out var releasedFrom) && releasedFrom is VlanNetworkDefinition vlan)
            {
                // A trunk VLAN only these ports used leaves the uplink with them, not at the next apply.
                operations.AddRange(LinkPlanner.UnusedTrunkVlans(vlan, target.PortsOf(group.Key), host));
            }

            IReadOnlyList<DhcpChange> dhcp = target.Applied.TryGetValue(group.Key, out var network)
                ? await DhcpChangesAsync(group.Key, DhcpPlanner.Desired(network, target.PortsOf(group.Key)), removeLeases: false, cancellationToken).ConfigureAwait(false)
                : [];
            var plan = await CompletePlanAsync(group.Key, operations, host, FirewallPlanner.Build(target), dhcp, cancellationToken).ConfigureAwait(false);
            await ExecuteAsync(plan, FirewallPlanner.Build(state), "port", cancellationToken).ConfigureAwait(false);
            foreach (var port in group)
            {
                _store.DeletePort(port.Request.Owner, port.Request.NicId);
                Log.PortReleased(_logger, port.Request.Owner, port.Request.NicId, group.Key);
            }

            state = target;
        }
    }

    /// <summary>
    /// When the manager manages another namespace than the process's and the port's interface is in the process's (QEMU and
    /// LXC made it there), moves it into the managed one. Returns whether it moved.
    /// </summary>
    private Task<bool> MoveIntoManagedNamespaceAsync(string name, CancellationToken cancellationToken) =>
        MoveIntoManagedNamespaceAsync([name], cancellationToken);

    /// <summary>The same for several interfaces, in one read and one batch; returns whether any moved.</summary>
    private async Task<bool> MoveIntoManagedNamespaceAsync(IReadOnlyList<string> names, CancellationToken cancellationToken)
    {
        if (names.Count == 0 || ProcessNamespaceLinks is not { } here || _options.NetworkNamespace is not { } managed)
        {
            return false;
        }

        var local = await here.ReadAsync(HostLinkParts.Links, cancellationToken).ConfigureAwait(false);
        var moving = names.Where(name => local.Link(name) is not null).Select(name => (LinkOperation)new MoveLinkToNamespace(name, managed)).ToList();
        if (moving.Count == 0)
        {
            return false;
        }

        await here.ApplyAsync(moving, cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>
    /// The network a request joins and the port's current record, once the request is found acceptable against
    /// <paramref name="recorded"/>; throws what <see cref="PrepareAsync"/> refuses.
    /// </summary>
    private (NetworkDefinition Network, PortRecord? Existing) Checked(NetworkState state, NetworkPortRequest request, IReadOnlyList<NetworkPort> recorded)
    {
        var network = AppliedNetwork(state, request.Network);
        var existing = state.Ports.FirstOrDefault(p => NetworkState.SamePort(p, request.Owner, request.NicId));
        if (existing is not null && existing.Request.Network != request.Network)
        {
            throw new NetworkException(VirtErrorKind.Conflict, $"port {request.Owner}/{request.NicId} is on network '{existing.Request.Network}': release it with INetworkPorts.ReleaseAsync before putting the NIC on '{request.Network}'");
        }

        ThrowIfInvalid($"port {request.Owner}/{request.NicId} on network '{request.Network}'", _validation.ValidatePort(request, network, recorded));
        return (network, existing);
    }

    /// <summary>Every network's recorded ports: a host interface name or a MAC is the host's, whichever network it is on.</summary>
    private List<NetworkPort> RecordedPorts(NetworkState state) =>
        [.. state.Ports
            .Where(p => state.Applied.ContainsKey(p.Request.Network))
            .Select(p => PortOf(state.Applied[p.Request.Network], p.Request, NetworkAddressing.Mtu(state.Applied[p.Request.Network]) ?? 1500))];

    private static NetworkDefinition AppliedNetwork(NetworkState state, string name)
    {
        if (state.Applied.TryGetValue(name, out var applied))
        {
            return applied;
        }

        throw state.Definitions.ContainsKey(name)
            ? new NetworkException(VirtErrorKind.Conflict, $"network '{name}' is defined but not applied: apply it with INetworkManager.ApplyAsync(\"{name}\") first (a NIC joins only a network that is in force on the host)")
            : NotDefined(name);
    }

    private NetworkPort PortOf(NetworkDefinition network, NetworkPortRequest request, int mtu) =>
        PortOf(network, request, mtu, _options.NetworkNamespace is not null);

    private static NetworkPort PortOf(NetworkDefinition network, NetworkPortRequest request, int mtu, bool movesInterface)
    {
        var subnet = NetworkAddressing.Ipv4Subnet(network);
        var address = NetworkAddressing.PortAddress(network, request);
        var withPrefix = address is null || subnet is null ? address : string.Create(CultureInfo.InvariantCulture, $"{address}/{NetworkAddressing.Subnet(network, subnet.Cidr).PrefixLength}");
        return new NetworkPort(request, network.EffectiveBridgeName, mtu, withPrefix, subnet?.Gateway) { ConnectMovesInterface = movesInterface };
    }

    /// <summary>The MTU a port gets: the network's, else the bridge's as the host has it (an adopted bridge's own), else 1500.</summary>
    private async Task<int> PortMtuAsync(NetworkDefinition network, CancellationToken cancellationToken) =>
        NetworkAddressing.Mtu(network) ?? (await _links.ReadAsync(HostLinkParts.Links, cancellationToken).ConfigureAwait(false)).Link(network.EffectiveBridgeName)?.Mtu ?? 1500;

    /// <summary>
    /// The plan of a prepare. A new port on a bridge that has ports already, with the host's table exactly the ruleset
    /// before it (its fingerprint says so), is added on its own (<see cref="HostPlan.AddedPort"/>): its chains, sets and
    /// map elements in one transaction, instead of a replace of the whole table whose cost grows with every port (1,000
    /// prepares were quadratic). Anything else — a changed port, the first port of a bridge (the inet table's bridge set
    /// changes), a table that drifted — replaces the table as before.
    /// </summary>
    private async Task<HostPlan> PreparePlanAsync(string network, FirewallRuleset before, FirewallRuleset after, NetworkPortRequest? added, IReadOnlyList<DhcpChange> dhcp, CancellationToken cancellationToken)
    {
        if (added is not null && after.Ports.Count == before.Ports.Count + 1
            && after.Ports.FirstOrDefault(p => p.Owner == added.Owner && p.NicId == added.NicId) is { } port
            && before.Ports.Any(p => p.Bridge == port.Bridge))
        {
            var actual = await _firewall.ReadFingerprintAsync(cancellationToken).ConfigureAwait(false);
            if (actual is not null && actual == _firewall.Fingerprint(before))
            {
                return new HostPlan(network, [], [], after, FirewallChanges: true, FirewallCommands: 0, dhcp, port);
            }
        }

        return await CompletePlanAsync(network, [], EmptyHost, after, dhcp, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Runs a port's plan; if it fails, the port's record goes back to what it was (or away).</summary>
    private Task RunOrRestoreAsync(HostPlan plan, FirewallRuleset before, PortRecord? previous, PortRecord record, CancellationToken cancellationToken) =>
        RunOrRestoreAsync(plan, before, previous is null ? [] : [previous], previous is null ? [record] : [], cancellationToken);

    /// <summary>Runs the plan of ports' change; if it fails, the <paramref name="previous"/> records are written back and the <paramref name="added"/> ones removed.</summary>
    private async Task RunOrRestoreAsync(HostPlan plan, FirewallRuleset before, IReadOnlyCollection<PortRecord> previous, IReadOnlyCollection<PortRecord> added, CancellationToken cancellationToken)
    {
        try
        {
            await ExecuteAsync(plan, before, "port", cancellationToken).ConfigureAwait(false);
        }
        catch (NetworkException)
        {
            if (previous.Count > 0)
            {
                _store.WritePorts(previous);
            }

            foreach (var record in added)
            {
                _store.DeletePort(record.Request.Owner, record.Request.NicId);
            }

            throw;
        }
    }
}
