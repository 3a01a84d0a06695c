using Virt.Network.Definitions;
using Virt.Network.Host;
using Virt.Network.Journal;
using Virt.Network.Planning;
using Virt.Networking;

namespace Virt.Network.Manager;

// Plan, apply, delete and crash recovery: every change to the host goes through ExecuteAsync, under the journal.
public sealed partial class NetworkManager
{
    /// <inheritdoc />
    public async Task<NetworkPlan> PlanAsync(string name, CancellationToken cancellationToken = default)
    {
        var state = await _store.ReadAsync(cancellationToken).ConfigureAwait(false);
        var definition = Defined(state, name);
        var host = await _links.ReadAsync(PlanningParts(state), cancellationToken).ConfigureAwait(false);
        return (await PlanApplyAsync(definition, state, host, cancellationToken).ConfigureAwait(false)).ToPublic(_options.NftablesTable);
    }

    /// <inheritdoc />
    public async Task<NetworkPlan> ApplyAsync(string name, CancellationToken cancellationToken = default)
    {
        // An unchanged configuration is answered without the lock, which would write its holder note: no journal means
        // no change is under way or left half-done, and an empty plan with the definition already applied writes nothing.
        if (!_journal.Exists)
        {
            var state = await _store.ReadAsync(cancellationToken).ConfigureAwait(false);
            var definition = Defined(state, name);
            var plan = await PlanApplyAsync(definition, state, await _links.ReadAsync(PlanningParts(state), cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
            if (plan.IsEmpty && IsApplied(state, definition))
            {
                return plan.ToPublic(_options.NftablesTable);
            }
        }

        using var held = await LockAsync("apply network " + name, cancellationToken).ConfigureAwait(false);
        return await ApplyLockedAsync(name, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task DeleteAsync(string name, CancellationToken cancellationToken = default)
    {
        using var held = await LockAsync("delete network " + name, cancellationToken).ConfigureAwait(false);
        var state = await _store.ReadAsync(cancellationToken).ConfigureAwait(false);
        Defined(state, name);
        var ports = state.PortsOf(name).Select(p => $"{p.Request.Owner}/{p.Request.NicId}").ToList();
        if (ports.Count > 0)
        {
            throw new NetworkException(VirtErrorKind.Conflict, $"network '{name}' has ports {string.Join(", ", ports)}: stop or detach their VMs and containers (which releases the ports) before deleting it");
        }

        var plan = await PlanTeardownAsync(name, state, cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(plan, FirewallPlanner.Build(state), "delete", cancellationToken).ConfigureAwait(false);
        _store.DeleteDefinition(name);
        Log.NetworkDeleted(_logger, name, plan.ToPublic(_options.NftablesTable).Changes.Count);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<NetworkDrift>> CheckDriftAsync(CancellationToken cancellationToken = default)
    {
        var state = await _store.ReadAsync(cancellationToken).ConfigureAwait(false);
        if (state.Applied.Count == 0)
        {
            return [];
        }

        var host = await _links.ReadAsync(PlanningParts(state), cancellationToken).ConfigureAwait(false);
        var drift = new List<NetworkDrift>();
        foreach (var applied in state.Applied.Values.OrderBy(d => d.Name, StringComparer.Ordinal))
        {
            var ports = state.PortsOf(applied.Name).ToList();
            try
            {
                drift.AddRange(LinkPlanner.Plan(applied, applied, ports, host).Select(op => DriftReport.Of(applied.Name, op, host)));
            }
            catch (NetworkException refused)
            {
                drift.Add(new NetworkDrift(applied.Name, "bridge " + applied.EffectiveBridgeName, "as defined", refused.Message));
            }

            if (DhcpPlanner.Desired(applied, ports) is { } instance)
            {
                var status = await _dhcp.InspectAsync(instance, cancellationToken).ConfigureAwait(false);
                if (!status.Running)
                {
                    drift.Add(new NetworkDrift(applied.Name, "dnsmasq for " + applied.Name, "running", "not running"));
                }
                else if (!status.ConfigurationMatches)
                {
                    drift.Add(new NetworkDrift(applied.Name, "dnsmasq for " + applied.Name, "configuration as defined", "a different configuration"));
                }
            }
        }

        var ruleset = FirewallPlanner.Build(state);
        var expected = _firewall.Fingerprint(ruleset);
        var actual = await _firewall.ReadFingerprintAsync(cancellationToken).ConfigureAwait(false);
        if (FirewallDiffers(ruleset, expected, actual))
        {
            // The firewall is one table for every network: its drift is reported once, for all of them.
            drift.Add(new NetworkDrift("*", "table inet " + _options.NftablesTable, "fingerprint " + expected, actual is null ? "missing" : "fingerprint " + actual));
        }

        return drift;
    }

    /// <summary>A link marked as a network's that is no longer defined (left by a delete that did not finish).</summary>
    private static bool IsOrphan(LinkState link, NetworkState state) =>
        NetworkAddressing.NetworkOfAlias(link.Alias) is { } owner && !state.Definitions.ContainsKey(owner);

    private static bool FirewallDiffers(FirewallRuleset ruleset, string expected, string? actual) =>
        actual != expected && !(actual is null && ruleset.IsEmpty);

    private static bool IsApplied(NetworkState state, NetworkDefinition definition) =>
        state.Applied.TryGetValue(definition.Name, out var applied) && NetworkJson.Serialize(applied).AsSpan().SequenceEqual(NetworkJson.Serialize(definition));

    private async Task<NetworkPlan> ApplyLockedAsync(string name, CancellationToken cancellationToken)
    {
        var state = await _store.ReadAsync(cancellationToken).ConfigureAwait(false);
        var definition = Defined(state, name);
        var host = await _links.ReadAsync(PlanningParts(state), cancellationToken).ConfigureAwait(false);
        var plan = await PlanApplyAsync(definition, state, host, cancellationToken).ConfigureAwait(false);
        if (!plan.IsEmpty)
        {
            await EnsureForwardingAsync(definition, cancellationToken).ConfigureAwait(false);
        }

        await ExecuteAsync(plan, FirewallPlanner.Build(state), "apply", cancellationToken).ConfigureAwait(false);
        if (!IsApplied(state, definition))
        {
            _store.WriteApplied(definition);
        }

        return plan.ToPublic(_options.NftablesTable);
    }

    /// <summary>What applying <paramref name="definition"/> changes: its links (and leftovers of networks no longer defined), the whole firewall, its dnsmasq.</summary>
    private async Task<HostPlan> PlanApplyAsync(NetworkDefinition definition, NetworkState state, HostLinkState host, CancellationToken cancellationToken)
    {
        state.Applied.TryGetValue(definition.Name, out var applied);
        var ports = state.PortsOf(definition.Name).ToList();
        var operations = LinkPlanner.Plan(definition, applied, ports, host);
        var orphans = host.Links.Where(l => IsOrphan(l, state)).ToList();
        if (orphans.Count > 0)
        {
            operations = LinkPlanner.Ordered(operations.Concat(orphans.Select(l => new DeleteLink(l.Name))));
        }

        var dhcp = await DhcpChangesAsync(definition.Name, DhcpPlanner.Desired(definition, ports), removeLeases: false, cancellationToken).ConfigureAwait(false);
        return await CompletePlanAsync(definition.Name, operations, host, FirewallPlanner.Build(state.WithApplied(definition)), dhcp, cancellationToken).ConfigureAwait(false);
    }

    private async Task<HostPlan> PlanTeardownAsync(string name, NetworkState state, CancellationToken cancellationToken)
    {
        var host = await _links.ReadAsync(PlanningParts(state), cancellationToken).ConfigureAwait(false);
        state.Applied.TryGetValue(name, out var applied);
        var operations = LinkPlanner.Teardown(name, applied, host);
        var dhcp = await DhcpChangesAsync(name, null, removeLeases: true, cancellationToken).ConfigureAwait(false);
        return await CompletePlanAsync(name, operations, host, FirewallPlanner.Build(state.WithoutApplied(name)), dhcp, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A plan that only puts <paramref name="target"/>'s firewall in force (a security group changed).</summary>
    private Task<HostPlan> FirewallOnlyPlanAsync(string what, NetworkState target, CancellationToken cancellationToken) =>
        CompletePlanAsync(what, [], EmptyHost, FirewallPlanner.Build(target), [], cancellationToken);

    private static HostLinkState EmptyHost { get; } = new([], [], [], [], []);

    private async Task<IReadOnlyList<DhcpChange>> DhcpChangesAsync(string network, DhcpInstance? desired, bool removeLeases, CancellationToken cancellationToken)
    {
        if (desired is null)
        {
            return await _dhcp.IsRunningAsync(network, cancellationToken).ConfigureAwait(false) ? [new DhcpChange(network, "stop", null, removeLeases)] : [];
        }

        var status = await _dhcp.InspectAsync(desired, cancellationToken).ConfigureAwait(false);
        return !status.Running ? [new DhcpChange(network, "start", desired)]
            : !status.ConfigurationMatches ? [new DhcpChange(network, "reload", desired)]
            : [];
    }

    private async Task<HostPlan> CompletePlanAsync(string network, IReadOnlyList<LinkOperation> operations, HostLinkState host, FirewallRuleset ruleset, IReadOnlyList<DhcpChange> dhcp, CancellationToken cancellationToken)
    {
        var expected = _firewall.Fingerprint(ruleset);
        var actual = await _firewall.ReadFingerprintAsync(cancellationToken).ConfigureAwait(false);
        var firewallChanges = FirewallDiffers(ruleset, expected, actual);
        var inverses = operations.Select(op => LinkInverses.Of(op, host)).ToList();
        return new HostPlan(network, operations, inverses, ruleset, firewallChanges, firewallChanges ? _firewall.CommandCount(ruleset) : 0, dhcp);
    }

    /// <summary>
    /// Runs a plan under the journal: link operations in one batch, then the firewall's replace, then dnsmasq. A failing
    /// step undoes the ones before (link inverses newest first, the previous ruleset) and throws naming the step.
    /// </summary>
    private async Task ExecuteAsync(HostPlan plan, FirewallRuleset previousRuleset, string action, CancellationToken cancellationToken)
    {
        if (plan.IsEmpty)
        {
            return;
        }

        cancellationToken.ThrowIfCancellationRequested();
        var operations = plan.LinkOperations;
        var journal = new ApplyJournal(
            plan.Network,
            action,
            DateTimeOffset.UtcNow,
            Environment.ProcessId,
            [.. plan.ToPublic(_options.NftablesTable).Changes.Select(c => new JournalEntry($"{c.Layer} {c.Operation}", c.Object, c.Detail))],
            [.. LinkInverses.Rollback(plan.Inverses, operations.Count).Select(op => new JournalEntry(op.Operation, op.Object, op.Detail))],
            Completed: 0);
        _journal.Write(journal);

        // From here the host steps run to their end or their rollback whatever the caller's token says.
        var host = CancellationToken.None;
        var completed = 0;
        var firewallReplaced = false;
        string step = "link operations";
        try
        {
            if (CrashAfterLinkOperations is { } crashAfter)
            {
                await _links.ApplyAsync([.. operations.Take(crashAfter)], host).ConfigureAwait(false);
                var done = Math.Min(crashAfter, operations.Count);
                _journal.Write(journal with { Completed = done });
                if (AtSimulatedCrash is { } pause)
                {
                    await pause(done).ConfigureAwait(false);
                }

                throw new SimulatedCrashException();
            }

            if (operations.Count > 0)
            {
                await _links.ApplyAsync(operations, host).ConfigureAwait(false);
                completed = operations.Count;
                _journal.Write(journal with { Completed = completed });
            }

            await CrashIfAtAsync(ApplyCrashPoint.AfterLinks, completed).ConfigureAwait(false);
            if (plan.FirewallChanges)
            {
                step = $"the nftables replace of table inet {_options.NftablesTable}";
                await (plan.AddedPort is { } added ? _firewall.AddPortAsync(plan.Ruleset, added, host) : _firewall.ReplaceAsync(plan.Ruleset, host)).ConfigureAwait(false);
                firewallReplaced = true;
            }

            await CrashIfAtAsync(ApplyCrashPoint.AfterFirewall, completed).ConfigureAwait(false);
            foreach (var change in plan.Dhcp)
            {
                step = $"dnsmasq {change.Action} for network '{change.Network}'";
                await (change.Instance is null ? _dhcp.StopAsync(change.Network, change.RemoveLeases, host) : _dhcp.EnsureAsync(change.Instance, host)).ConfigureAwait(false);
            }

            await CrashIfAtAsync(ApplyCrashPoint.AfterDhcp, completed).ConfigureAwait(false);
        }
        catch (SimulatedCrashException)
        {
            throw;
        }
        catch (Exception failure) when (failure is not OutOfMemoryException)
        {
            if (failure is NetlinkOperationException netlink)
            {
                completed = netlink.Index;
                step = $"{netlink.FailedOperation.Operation} {netlink.FailedOperation.Object} ({netlink.FailedOperation.Detail})";
            }

            var rolledBack = await RollBackAsync(plan, completed, firewallReplaced ? previousRuleset : null, failure, step).ConfigureAwait(false);
            Log.ApplyRolledBack(_logger, failure, plan.Network, action, step, rolledBack);
            _journal.Delete();
            var kind = failure is VirtException virt ? virt.ErrorKind : VirtErrorKind.Failed;
            throw new NetworkException(kind, $"{Subject(plan)}: {action} failed at {step}: {failure.Message}; the {completed} link operations done before it were rolled back{(firewallReplaced ? " and the previous firewall ruleset restored" : string.Empty)}, so the host is as it was: fix the cause and apply again", failure);
        }

        _journal.Delete();
        Log.ChangesApplied(_logger, plan.Network, action, journal.Operations.Count);
    }

    private static string Subject(HostPlan plan) => plan.Network == AllNetworks ? "ports on several networks" : $"network '{plan.Network}'";

    /// <summary>Undoes the first <paramref name="completed"/> link operations and restores the previous ruleset; returns how many undo operations ran.</summary>
    private async Task<int> RollBackAsync(HostPlan plan, int completed, FirewallRuleset? previousRuleset, Exception failure, string step)
    {
        var rollback = LinkInverses.Rollback(plan.Inverses, completed);
        try
        {
            if (previousRuleset is not null)
            {
                await _firewall.ReplaceAsync(previousRuleset, CancellationToken.None).ConfigureAwait(false);
            }

            if (rollback.Count > 0)
            {
                await _links.ApplyAsync(rollback, CancellationToken.None).ConfigureAwait(false);
            }

            return rollback.Count;
        }
        catch (Exception undo) when (undo is not OutOfMemoryException)
        {
            // The journal stays: the next change re-plans this network from its definition and finishes the job.
            throw new NetworkException(VirtErrorKind.Failed, $"{Subject(plan)}: the change failed at {step} ({failure.Message}), and undoing it failed too ({undo.Message}); the journal {_journal.FilePath} stays, and the next change to any network re-applies {(plan.Network == AllNetworks ? "every applied network" : $"'{plan.Network}'")} from its definition", new AggregateException(failure, undo));
        }
    }

    /// <summary>
    /// Finishes what a dead process left in the journal (called with the lock held, so the journal's writer is gone): the
    /// network it named is re-planned and applied from its definition (from the applied one, for a port's change), or
    /// torn down if it was being deleted or is no longer defined.
    /// </summary>
    private async Task RecoverAsync(CancellationToken cancellationToken)
    {
        if (!_journal.Exists)
        {
            return;
        }

        var journal = _journal.Read();
        Log.JournalRecovered(_logger, journal.Network, journal.Action, journal.ProcessId, journal.Completed, journal.Operations.Count);
        var state = await _store.ReadAsync(cancellationToken).ConfigureAwait(false);
        var definitions = journal.Action == "apply" ? state.Definitions : state.Applied;
        if (journal.Network == AllNetworks)
        {
            // A change of ports on several networks at once: each applied network is re-planned with its recorded ports.
            foreach (var applied in state.Applied.Values.OrderBy(d => d.Name, StringComparer.Ordinal))
            {
                var host = await _links.ReadAsync(PlanningParts(state), cancellationToken).ConfigureAwait(false);
                var plan = await PlanApplyAsync(applied, state, host, cancellationToken).ConfigureAwait(false);
                await ExecuteAsync(plan, FirewallPlanner.Build(state), "recovery of " + journal.Action, cancellationToken).ConfigureAwait(false);
            }
        }
        else if (journal.Action != "delete" && definitions.TryGetValue(journal.Network, out var definition))
        {
            var host = await _links.ReadAsync(PlanningParts(state), cancellationToken).ConfigureAwait(false);
            var plan = await PlanApplyAsync(definition, state, host, cancellationToken).ConfigureAwait(false);
            await ExecuteAsync(plan, FirewallPlanner.Build(state), "recovery of " + journal.Action, cancellationToken).ConfigureAwait(false);
            if (!IsApplied(state, definition))
            {
                _store.WriteApplied(definition);
            }
        }
        else if (state.Definitions.ContainsKey(journal.Network) || state.Applied.ContainsKey(journal.Network) || journal.Action == "delete")
        {
            var plan = await PlanTeardownAsync(journal.Network, state, cancellationToken).ConfigureAwait(false);
            await ExecuteAsync(plan, FirewallPlanner.Build(state), "recovery of " + journal.Action, cancellationToken).ConfigureAwait(false);
            if (journal.Action == "delete")
            {
                _store.DeleteDefinition(journal.Network);
            }
        }

        _journal.Delete();
    }

    /// <summary>What <see cref="CrashAfterLinkOperations"/> and <see cref="CrashAt"/> throw: the process "dies" with its journal in place.</summary>
    internal sealed class SimulatedCrashException : Exception
    {
        public SimulatedCrashException()
            : base("simulated crash after the journal was written")
        {
        }

        public SimulatedCrashException(string message)
            : base(message)
        {
        }

        public SimulatedCrashException(string message, Exception innerException)
            : base(message, innerException)
        {
        }
    }
}
