using System.IO.Abstractions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Virt.Network.Definitions;
using Virt.Network.Host;
using Virt.Network.Hosting;
using Virt.Network.Journal;
using Virt.Network.Locking;
using Virt.Network.Planning;
using Virt.Networking;
using Virt.Processes;

namespace Virt.Network.Manager;

/// <summary>
/// The network backend's <see cref="INetworkManager"/> and <see cref="INetworkPorts"/>: definitions, security groups
/// and ports kept under <see cref="NetworkOptions.StateDirectory"/>; every change planned against what the host has
/// (links over rtnetlink, one nftables table, one dnsmasq per network), journaled, applied, and rolled back if a step
/// fails. Changes from every process on the host serialise on one lock over the state directory.
/// </summary>
/// <remarks>
/// <para>
/// Crash recovery rolls forward: a journal left by a process that died mid-change names the network it was changing,
/// and the next change (from any process) first re-plans that network from its definition and applies it — planning is
/// idempotent, so what the dead process finished is kept and what it did not is done — then removes the journal. A
/// network that was being deleted is torn down.
/// </para>
/// <para>
/// Once the journal is written, the host steps run to their end (or their rollback) even if the caller cancels:
/// cancelling does not leave a half-made network behind.
/// </para>
/// </remarks>
public sealed partial class NetworkManager : INetworkManager, INetworkPorts
{
    private readonly NetworkOptions _options;
    private readonly IFileSystem _files;
    private readonly ILinkHost _links;
    private readonly IFirewallHost _firewall;
    private readonly IDhcpHost _dhcp;
    private readonly INetworkValidation _validation;
    private readonly ILogger _logger;
    private readonly NetworkStore _store;
    private readonly ApplyJournalFile _journal;

    /// <summary>Creates the manager over the host's kernel networking, nftables and dnsmasq.</summary>
    /// <param name="options">The backend's options.</param>
    /// <param name="fileSystem">The state directory's files and dnsmasq's configuration (the host's <see cref="FileSystem"/>).</param>
    /// <param name="processes">Runs dnsmasq.</param>
    /// <param name="logger">Where each change is logged (<see cref="NetworkEventIds"/>); optional.</param>
    public NetworkManager(NetworkOptions options, IFileSystem fileSystem, IProcessRunner processes, ILogger<NetworkManager>? logger = null)
        : this(options, fileSystem, HostSeams.Create(Checked(options), fileSystem, processes, (ILogger?)logger ?? NullLogger.Instance), logger)
    {
        ProcessNamespaceLinks = options.NetworkNamespace is null ? null : new Netlink.NetlinkLinkHost((string?)null, logger);
    }

    /// <summary>
    /// The links of the process's own namespace, when the manager manages another one: a port's interface made here (a
    /// VM's tap, a container's veth end) is moved into the managed namespace when it is connected.
    /// </summary>
    internal ILinkHost? ProcessNamespaceLinks { get; init; }

    /// <summary>The managed namespace's switches (IP forwarding for NAT and routed networks); a fake in unit tests.</summary>
    internal ISysctl Sysctl { get; init; }

    internal NetworkManager(NetworkOptions options, IFileSystem fileSystem, (ILinkHost Links, IFirewallHost Firewall, IDhcpHost Dhcp, INetworkValidation Validation) seams, ILogger? logger)
    {
        ArgumentNullException.ThrowIfNull(fileSystem);
        _options = Checked(options);
        _files = fileSystem;
        (_links, _firewall, _dhcp, _validation) = seams;
        _logger = logger ?? NullLogger.Instance;
        _store = new NetworkStore(fileSystem, options.StateDirectory);
        _journal = new ApplyJournalFile(fileSystem, options.StateDirectory);
        Sysctl = new ProcSysctl(options.NetworkNamespace);
    }

    /// <summary>
    /// For crash tests: after the journal is written and this many link operations ran, the change stops as if the process
    /// had died (no rollback, the journal and the partial host state stay). <see langword="null"/> in normal use.
    /// </summary>
    internal int? CrashAfterLinkOperations { get; set; }

    /// <summary>
    /// For crash tests in another process: awaited where <see cref="CrashAfterLinkOperations"/> stops the change, with the
    /// journal written, the lock still held and the number of link operations done; a child process whose task never
    /// completes is then killed there for real (SIGKILL), so nothing unwinds. <see langword="null"/> in normal use.
    /// </summary>
    internal Func<int, Task>? AtSimulatedCrash { get; set; }

    /// <inheritdoc />
    public async Task DefineAsync(NetworkDefinition definition, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(definition);
        RequireSafeName("network", nameof(definition.Name), definition.Name);
        using var held = await LockAsync("define network " + definition.Name, cancellationToken).ConfigureAwait(false);
        var state = await _store.ReadAsync(cancellationToken).ConfigureAwait(false);
        var others = state.Definitions.Values.Where(d => d.Name != definition.Name).ToList();
        var underlayMtu = definition is VxlanNetworkDefinition { UnderlayInterface: { } underlay }
            ? (await _links.ReadAsync(HostLinkParts.Links, cancellationToken).ConfigureAwait(false)).Link(underlay)?.Mtu
            : null;
        ThrowIfInvalid($"network '{definition.Name}'", _validation.ValidateDefinition(definition, others, underlayMtu));
        _store.WriteDefinition(definition);
        Log.NetworkDefined(_logger, definition.Name, definition.Kind, Path.Combine(_options.StateDirectory, "networks", definition.Name + ".json"));
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<NetworkInfo>> ListAsync(CancellationToken cancellationToken = default)
    {
        var state = await _store.ReadAsync(cancellationToken).ConfigureAwait(false);
        if (state.Definitions.Count == 0)
        {
            return [];
        }

        var host = await _links.ReadAsync(PlanningParts(state), cancellationToken).ConfigureAwait(false);
        var infos = new List<NetworkInfo>(state.Definitions.Count);
        foreach (var definition in state.Definitions.Values.OrderBy(d => d.Name, StringComparer.Ordinal))
        {
            infos.Add(await InfoAsync(definition, state, host, cancellationToken).ConfigureAwait(false));
        }

        return infos;
    }

    /// <inheritdoc />
    public async Task<NetworkInfo> GetAsync(string name, CancellationToken cancellationToken = default)
    {
        var state = await _store.ReadAsync(cancellationToken).ConfigureAwait(false);
        var definition = Defined(state, name);
        var host = await _links.ReadAsync(PlanningParts(state), cancellationToken).ConfigureAwait(false);
        return await InfoAsync(definition, state, host, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<DhcpLease>> GetLeasesAsync(string name, CancellationToken cancellationToken = default)
    {
        Defined(await _store.ReadAsync(cancellationToken).ConfigureAwait(false), name);
        return await _dhcp.ReadLeasesAsync(name, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<FirewallRuleCounter>> GetFirewallCountersAsync(string name, CancellationToken cancellationToken = default)
    {
        var state = await _store.ReadAsync(cancellationToken).ConfigureAwait(false);
        Defined(state, name);
        var scopes = state.PortsOf(name).Select(p => FirewallPlanner.PortScope(p.Request.Owner, p.Request.NicId)).ToList();
        var counters = await _firewall.ReadCountersAsync(cancellationToken).ConfigureAwait(false);
        return [.. counters.Where(c => c.Scope == "network:" + name || scopes.Any(s => c.Scope == s || c.Scope.EndsWith(" via " + s, StringComparison.Ordinal)))];
    }

    /// <inheritdoc />
    public async Task<HostNetworkInventory> GetHostInventoryAsync(CancellationToken cancellationToken = default) =>
        HostInventory.From(await _links.ReadAsync(HostLinkParts.All, cancellationToken).ConfigureAwait(false));

    /// <inheritdoc />
    public async Task DefineSecurityGroupAsync(SecurityGroup group, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(group);
        RequireSafeName("security group", nameof(group.Name), group.Name);
        ThrowIfInvalid($"security group '{group.Name}'", _validation.ValidateSecurityGroup(group));
        using var held = await LockAsync("define security group " + group.Name, cancellationToken).ConfigureAwait(false);
        var state = await _store.ReadAsync(cancellationToken).ConfigureAwait(false);
        var groups = new Dictionary<string, SecurityGroup>(state.Groups, StringComparer.Ordinal) { [group.Name] = group };
        var target = state with { Groups = groups };

        // Ports that use the group get its new rules now: the firewall follows the definition, as a port's does.
        var plan = await FirewallOnlyPlanAsync(group.Name, target, cancellationToken).ConfigureAwait(false);
        _store.WriteGroup(group);
        try
        {
            await ExecuteAsync(plan, FirewallPlanner.Build(state), "security group", cancellationToken).ConfigureAwait(false);
        }
        catch (NetworkException)
        {
            if (state.Groups.TryGetValue(group.Name, out var previous))
            {
                _store.WriteGroup(previous);
            }
            else
            {
                _store.DeleteGroup(group.Name);
            }

            throw;
        }

        Log.SecurityGroupDefined(_logger, group.Name, group.Rules.Count);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<SecurityGroup>> ListSecurityGroupsAsync(CancellationToken cancellationToken = default)
    {
        var state = await _store.ReadAsync(cancellationToken).ConfigureAwait(false);
        return [.. state.Groups.Values.OrderBy(g => g.Name, StringComparer.Ordinal)];
    }

    /// <inheritdoc />
    public async Task DeleteSecurityGroupAsync(string name, CancellationToken cancellationToken = default)
    {
        using var held = await LockAsync("delete security group " + name, cancellationToken).ConfigureAwait(false);
        var state = await _store.ReadAsync(cancellationToken).ConfigureAwait(false);
        if (!state.Groups.ContainsKey(name))
        {
            throw new NetworkException(VirtErrorKind.NotFound, $"security group '{name}' is not defined: define it with INetworkManager.DefineSecurityGroupAsync");
        }

        var users = state.Ports.Where(p => p.Request.Firewall?.SecurityGroups.Contains(name) == true).Select(p => $"{p.Request.Owner}/{p.Request.NicId}").ToList();
        if (users.Count > 0)
        {
            throw new NetworkException(VirtErrorKind.Conflict, $"security group '{name}' is used by the ports {string.Join(", ", users)}: release them (stop their VMs or containers) or take the group off their NICs first");
        }

        _store.DeleteGroup(name);
        Log.SecurityGroupDeleted(_logger, name);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<NetworkPort>> ListPortsAsync(string name, CancellationToken cancellationToken = default)
    {
        var state = await _store.ReadAsync(cancellationToken).ConfigureAwait(false);
        var definition = state.Applied.TryGetValue(name, out var applied) ? applied : Defined(state, name);
        var ports = state.PortsOf(name).ToList();
        if (ports.Count == 0)
        {
            return [];
        }

        var mtu = await PortMtuAsync(definition, cancellationToken).ConfigureAwait(false);
        return [.. ports.Select(p => PortOf(definition, p.Request, mtu))];
    }

    /// <summary>
    /// The dumps planning needs for the networks of <paramref name="state"/>: links, addresses and routes always; the
    /// bridge FDB only with a VXLAN network and the port VLANs only with a VLAN network (each is an entry per port and
    /// more, the largest part of a read of a host with a thousand ports).
    /// </summary>
    private static HostLinkParts PlanningParts(NetworkState state)
    {
        var parts = HostLinkParts.Addresses | HostLinkParts.Routes;
        foreach (var definition in state.Definitions.Values.Concat(state.Applied.Values))
        {
            parts |= definition switch
            {
                VxlanNetworkDefinition => HostLinkParts.Fdb,
                VlanNetworkDefinition => HostLinkParts.PortVlans,
                _ => HostLinkParts.Links,
            };
        }

        return parts;
    }

    private static NetworkOptions Checked(NetworkOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        NetworkOptionsValidator.ThrowIfInvalid(options);
        return options;
    }

    private static NetworkDefinition Defined(NetworkState state, string name) =>
        state.Definitions.TryGetValue(name, out var definition) ? definition : throw NotDefined(name);

    private static NetworkException NotDefined(string name) =>
        new(VirtErrorKind.NotFound, $"network '{name}' is not defined: define it with INetworkManager.DefineAsync and apply it");

    private static void RequireSafeName(string what, string field, string? name)
    {
        if (!NetworkStore.IsSafeName(name))
        {
            throw new NetworkException(VirtErrorKind.InvalidInput, $"{field}: '{name}' is not a {what} name: use 1-64 of a-z A-Z 0-9 . _ - : @, not starting with a dot");
        }
    }

    private static void ThrowIfInvalid(string what, IReadOnlyList<(string Field, string Message)> problems)
    {
        if (problems.Count > 0)
        {
            throw new NetworkException(VirtErrorKind.InvalidInput, $"{what} is not valid: {string.Join("; ", problems.Select(p => $"{p.Field}: {p.Message}"))}; nothing was changed");
        }
    }

    private async Task<NetworkInfo> InfoAsync(NetworkDefinition definition, NetworkState state, HostLinkState host, CancellationToken cancellationToken)
    {
        int pending;
        try
        {
            pending = (await PlanApplyAsync(definition, state, host, cancellationToken).ConfigureAwait(false)).ToPublic(_options.NftablesTable).Changes.Count;
        }
        catch (NetworkException)
        {
            // A plan the host refuses (an adoption without consent, a missing uplink) has no count: PlanAsync says why.
            pending = -1;
        }

        return new NetworkInfo(definition, state.Applied.ContainsKey(definition.Name), pending, state.PortsOf(definition.Name).Count());
    }

    private async Task<StateDirectoryLock> LockAsync(string operation, CancellationToken cancellationToken)
    {
        var held = await StateDirectoryLock.AcquireAsync(_files, _options.StateDirectory, operation, _options.LockTimeout, cancellationToken).ConfigureAwait(false);
        try
        {
            await RecoverAsync(cancellationToken).ConfigureAwait(false);
            return held;
        }
        catch
        {
            held.Dispose();
            throw;
        }
    }
}
