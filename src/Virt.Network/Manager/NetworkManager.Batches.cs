using Virt.Network.Definitions;
using Virt.Network.Host;
using Virt.Network.Planning;
using Virt.Networking;

namespace Virt.Network.Manager;

// Many ports in one change, and every network applied at once: one lock, one journal, one link batch, one firewall
// transaction, instead of one of each per port or per network.
public sealed partial class NetworkManager
{
    /// <summary>The journal's network name for a change that spans networks: recovery re-applies every applied network.</summary>
    internal const string AllNetworks = "*";

    // The last snapshot and host read whose links were found to match every definition (see UnchangedAsync).
    // A class, so that another thread reads both halves of one pair or none.
    private LinksMatch? _linksMatched;

    /// <inheritdoc />
    public async Task<IReadOnlyList<NetworkPort>> PrepareManyAsync(IReadOnlyList<NetworkPortRequest> requests, CancellationToken cancellationToken = default)
    {
        RequireDistinctPorts(requests, r => r?.Owner, r => r?.NicId, "requests");
        if (requests.Count == 0)
        {
            return [];
        }

        using var held = await LockAsync($"prepare {requests.Count} ports", cancellationToken).ConfigureAwait(false);
        var state = await _store.ReadAsync(cancellationToken).ConfigureAwait(false);

        // Each request is checked against the recorded ports and the ones accepted before it in the batch.
        var recorded = RecordedPorts(state);
        var records = new List<PortRecord>(requests.Count);
        var previous = new List<PortRecord>();
        var ports = new List<NetworkPort>(requests.Count);
        foreach (var request in requests)
        {
            var (network, existing) = Checked(state, request, recorded);
            var record = new PortRecord(request, existing?.Connected ?? false);
            records.Add(record);
            if (existing is not null)
            {
                previous.Add(existing);
            }

            var port = PortOf(network, request, NetworkAddressing.Mtu(network) ?? 1500);
            recorded.RemoveAll(p => p.Request.Owner == request.Owner && p.Request.NicId == request.NicId);
            recorded.Add(port);
            ports.Add(port);
        }

        var target = state.WithPorts(records);
        var dhcp = new List<DhcpChange>();
        foreach (var name in records.Select(r => r.Request.Network).Distinct(StringComparer.Ordinal))
        {
            dhcp.AddRange(await DhcpChangesAsync(name, DhcpPlanner.Desired(target.Applied[name], target.PortsOf(name)), removeLeases: false, cancellationToken).ConfigureAwait(false));
        }

        var before = FirewallPlanner.Build(state);
        var plan = await CompletePlanAsync(AllNetworks, [], EmptyHost, FirewallPlanner.Build(target), dhcp, cancellationToken).ConfigureAwait(false);

        // The records first, as for one port: a crash after them is finished by the next manager.
        _store.WritePorts(records);
        var hadRecord = previous.Select(p => NetworkState.Key(p.Request.Owner, p.Request.NicId)).ToHashSet(StringComparer.Ordinal);
        await RunOrRestoreAsync(plan, before, previous, [.. records.Where(r => !hadRecord.Contains(NetworkState.Key(r.Request.Owner, r.Request.NicId)))], cancellationToken).ConfigureAwait(false);
        Log.PortsPrepared(_logger, records.Count, string.Join(", ", records.Select(r => r.Request.Network).Distinct(StringComparer.Ordinal)));

        // The MTU of a network without one is the bridge's: one read for all of them.
        if (ports.Any(p => NetworkAddressing.Mtu(state.Applied[p.Request.Network]) is null))
        {
            var host = await _links.ReadAsync(HostLinkParts.Links, cancellationToken).ConfigureAwait(false);
            ports = [.. ports.Select(p => NetworkAddressing.Mtu(state.Applied[p.Request.Network]) is null ? p with { Mtu = host.Link(p.Bridge)?.Mtu ?? 1500 } : p)];
        }

        return ports;
    }

    /// <inheritdoc />
    public async Task ConnectManyAsync(IReadOnlyList<NetworkPortId> ports, CancellationToken cancellationToken = default)
    {
        RequireDistinctPorts(ports, p => p?.Owner, p => p?.NicId, "ports");
        if (ports.Count == 0)
        {
            return;
        }

        using var held = await LockAsync($"connect {ports.Count} ports", cancellationToken).ConfigureAwait(false);
        var state = await _store.ReadAsync(cancellationToken).ConfigureAwait(false);
        var byKey = state.Ports.ToDictionary(p => NetworkState.Key(p.Request.Owner, p.Request.NicId), StringComparer.Ordinal);
        var unknown = ports.Where(p => !byKey.ContainsKey(NetworkState.Key(p.Owner, p.NicId))).Select(p => $"{p.Owner}/{p.NicId}").ToList();
        if (unknown.Count > 0)
        {
            throw new NetworkException(VirtErrorKind.NotFound, $"ports {string.Join(", ", unknown)} are not prepared: call INetworkPorts.PrepareAsync (or PrepareManyAsync) before connecting them; nothing was connected");
        }

        var existing = ports.Select(p => byKey[NetworkState.Key(p.Owner, p.NicId)]).ToList();
        var host = await _links.ReadAsync(PlanningParts(state), cancellationToken).ConfigureAwait(false);
        if (await MoveIntoManagedNamespaceAsync([.. existing.Select(p => p.Request.HostInterface).Where(name => host.Link(name) is null)], cancellationToken).ConfigureAwait(false))
        {
            host = await _links.ReadAsync(PlanningParts(state), cancellationToken).ConfigureAwait(false);
        }

        var missing = existing.Where(p => host.Link(p.Request.HostInterface) is null).Select(p => $"{p.Request.Owner}/{p.Request.NicId} ({p.Request.HostInterface})").ToList();
        if (missing.Count > 0)
        {
            throw new NetworkException(VirtErrorKind.NotFound, $"the host interfaces of ports {string.Join(", ", missing)} do not exist: create the taps or veths before connecting them; nothing was connected");
        }

        var records = existing.Select(p => p with { Connected = true }).ToList();
        var operations = records.SelectMany(r => LinkPlanner.PortOperations(AppliedNetwork(state, r.Request.Network), r, host)).ToList();
        var plan = new HostPlan(AllNetworks, operations, [.. operations.Select(op => LinkInverses.Of(op, host))], FirewallRuleset.Empty, false, 0, []);
        _store.WritePorts(records);
        await RunOrRestoreAsync(plan, FirewallPlanner.Build(state), existing, [], cancellationToken).ConfigureAwait(false);
        Log.PortsConnected(_logger, records.Count, operations.Count);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<NetworkPlan>> ApplyAllAsync(CancellationToken cancellationToken = default)
    {
        // The unchanged configuration is answered from one read of the host, without the lock (as ApplyAsync does).
        if (!_journal.Exists)
        {
            var state = await _store.ReadAsync(cancellationToken).ConfigureAwait(false);
            if (await UnchangedAsync(state, cancellationToken).ConfigureAwait(false) is { } unchanged)
            {
                return unchanged;
            }
        }

        using var held = await LockAsync("apply every network", cancellationToken).ConfigureAwait(false);
        var names = (await _store.ReadAsync(cancellationToken).ConfigureAwait(false)).Definitions.Keys.Order(StringComparer.Ordinal).ToList();
        var plans = new List<NetworkPlan>(names.Count);
        foreach (var name in names)
        {
            plans.Add(await ApplyLockedAsync(name, cancellationToken).ConfigureAwait(false));
        }

        return plans;
    }

    /// <summary>
    /// The empty plans of every network when each is applied as defined and the host matches all of them (links, the
    /// firewall's fingerprint, dnsmasq); <see langword="null"/> as soon as anything differs.
    /// </summary>
    private async Task<IReadOnlyList<NetworkPlan>?> UnchangedAsync(NetworkState state, CancellationToken cancellationToken)
    {
        var definitions = state.Definitions.Values.OrderBy(d => d.Name, StringComparer.Ordinal).ToList();
        if (!definitions.All(d => IsApplied(state, d)))
        {
            return null;
        }

        // With every definition applied as it is, the state is its own target: its ruleset (built and fingerprinted once
        // per snapshot) is what the firewall should hold.
        var ruleset = FirewallPlanner.Build(state);
        if (FirewallDiffers(ruleset, _firewall.Fingerprint(ruleset), await _firewall.ReadFingerprintAsync(cancellationToken).ConfigureAwait(false)))
        {
            return null;
        }

        var host = await _links.ReadAsync(PlanningParts(state), cancellationToken).ConfigureAwait(false);

        // The links as planned for this snapshot and this read of the host: when neither changed (the same objects: the
        // store and the link host each hand out the last one until something changes), the links still match.
        var linksChecked = Volatile.Read(ref _linksMatched) is { } matched && ReferenceEquals(matched.State, state) && ReferenceEquals(matched.Host, host);
        if (!linksChecked && host.Links.Any(l => IsOrphan(l, state)))
        {
            return null;
        }
        var portsByNetwork = state.Ports.ToLookup(p => p.Request.Network, StringComparer.Ordinal);
        var plans = new List<NetworkPlan>(definitions.Count);
        foreach (var definition in definitions)
        {
            var ports = portsByNetwork[definition.Name].ToList();
            if ((!linksChecked && LinkPlanner.Plan(definition, definition, ports, host).Count > 0)
                || (await DhcpChangesAsync(definition.Name, DhcpPlanner.Desired(definition, ports), removeLeases: false, cancellationToken).ConfigureAwait(false)).Count > 0)
            {
                return null;
            }

            plans.Add(new NetworkPlan(definition.Name, []));
        }

        Volatile.Write(ref _linksMatched, new LinksMatch(state, host));
        return plans;
    }

    /// <summary>Refuses a null list, a null entry, an unsafe name or the same owner/NIC twice, before anything is read.</summary>
    private static void RequireDistinctPorts<T>(IReadOnlyList<T> items, Func<T, string?> owner, Func<T, string?> nicId, string parameter)
    {
        ArgumentNullException.ThrowIfNull(items, parameter);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < items.Count; i++)
        {
            if (items[i] is null)
            {
                throw new NetworkException(VirtErrorKind.InvalidInput, $"{parameter}[{i}] is null: give every port; nothing was changed");
            }

            RequireSafeName("port owner", $"{parameter}[{i}].Owner", owner(items[i]));
            RequireSafeName("NIC id", $"{parameter}[{i}].NicId", nicId(items[i]));
            if (!seen.Add(NetworkState.Key(owner(items[i])!, nicId(items[i])!)))
            {
                throw new NetworkException(VirtErrorKind.InvalidInput, $"{parameter}[{i}]: port {owner(items[i])}/{nicId(items[i])} is named twice in one batch: give each owner/NIC once; nothing was changed");
            }
        }
    }

    private sealed record LinksMatch(NetworkState State, HostLinkState Host);
}
