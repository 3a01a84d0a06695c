namespace Virt.Networking;

/// <summary>
/// Manages networks on this host: definitions persisted atomically, each change planned (the exact netlink, nftables and
/// dnsmasq operations) and then applied under a journal, so that a crash half-way is finished or rolled back by the next
/// manager. Safe to use from several processes on one state directory.
/// </summary>
public interface INetworkManager
{
    /// <summary>Validates and stores a definition (new or replacing one of the same name). Nothing changes on the host until <see cref="ApplyAsync"/>.</summary>
    /// <param name="definition">The network.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>A task that completes when the definition is stored.</returns>
    /// <exception cref="NetworkException">Invalid (kind <see cref="VirtErrorKind.InvalidInput"/>, naming the field), or it conflicts with another network (overlapping subnet, same bridge or VNI).</exception>
    Task DefineAsync(NetworkDefinition definition, CancellationToken cancellationToken = default);

    /// <summary>The defined networks with their state on the host.</summary>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>One entry per definition, by name.</returns>
    Task<IReadOnlyList<NetworkInfo>> ListAsync(CancellationToken cancellationToken = default);

    /// <summary>One network and its state.</summary>
    /// <param name="name">The network's name.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The network.</returns>
    /// <exception cref="NetworkException">No such network (kind <see cref="VirtErrorKind.NotFound"/>).</exception>
    Task<NetworkInfo> GetAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>What <see cref="ApplyAsync"/> would do now: the host compared with the definition (and its attached ports). Changes nothing.</summary>
    /// <param name="name">The network's name.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The plan; empty when the host matches.</returns>
    Task<NetworkPlan> PlanAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Brings the host to the definition: plans, journals the plan, runs it. Does nothing when the host matches.</summary>
    /// <param name="name">The network's name.</param>
    /// <param name="cancellationToken">Cancels before the first operation; once operations run they finish or roll back.</param>
    /// <returns>The plan that was run.</returns>
    /// <exception cref="NetworkException">An operation failed; the changes made so far are rolled back and the message names the operation, the object and the kernel's error.</exception>
    Task<NetworkPlan> ApplyAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>
    /// Brings the host to every definition at once: each network's links and dnsmasq, and the one firewall ruleset for all
    /// of them. When the host already matches, this reads the host once (one set of link dumps, one look at the firewall's
    /// fingerprint) and changes nothing, without taking the state directory's lock: it is cheap enough to run as a periodic
    /// reconciliation.
    /// </summary>
    /// <param name="cancellationToken">Cancels before the first operation; once operations run they finish or roll back.</param>
    /// <returns>One plan per defined network, by name, each as it was run (empty for a network that matched).</returns>
    /// <exception cref="NetworkException">An operation failed; that network's changes are rolled back (networks applied before it stay applied) and the message names the operation, the object and the kernel's error.</exception>
    Task<IReadOnlyList<NetworkPlan>> ApplyAllAsync(CancellationToken cancellationToken = default);

    /// <summary>Removes the network from the host (bridge, addresses, rules, dnsmasq; an adopted bridge is kept) and its definition.</summary>
    /// <param name="name">The network's name.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>A task that completes when it is gone.</returns>
    /// <exception cref="NetworkException">Ports are still attached (kind <see cref="VirtErrorKind.Conflict"/>, naming them).</exception>
    Task DeleteAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Compares every applied network with the host and reports what differs (drift); <see cref="ApplyAsync"/> repairs it.</summary>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The differences; empty when the host matches.</returns>
    Task<IReadOnlyList<NetworkDrift>> CheckDriftAsync(CancellationToken cancellationToken = default);

    /// <summary>The DHCP leases dnsmasq holds for the network.</summary>
    /// <param name="name">The network's name.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The leases; empty for a network without DHCP.</returns>
    Task<IReadOnlyList<DhcpLease>> GetLeasesAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Stores a security group (new or replacing one of the same name) and re-applies the firewall of the ports using it.</summary>
    /// <param name="group">The group.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>A task that completes when it is stored and in force.</returns>
    Task DefineSecurityGroupAsync(SecurityGroup group, CancellationToken cancellationToken = default);

    /// <summary>The stored security groups.</summary>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The groups by name.</returns>
    Task<IReadOnlyList<SecurityGroup>> ListSecurityGroupsAsync(CancellationToken cancellationToken = default);

    /// <summary>Removes a security group.</summary>
    /// <param name="name">The group's name.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>A task that completes when it is removed.</returns>
    /// <exception cref="NetworkException">A NIC still uses it (kind <see cref="VirtErrorKind.Conflict"/>, naming the NIC).</exception>
    Task DeleteSecurityGroupAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>The hit counters of every firewall rule, default policy and anti-spoofing check of the network's ports.</summary>
    /// <param name="name">The network's name.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The counters.</returns>
    Task<IReadOnlyList<FirewallRuleCounter>> GetFirewallCountersAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>The ports attached to the network.</summary>
    /// <param name="name">The network's name.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The ports.</returns>
    Task<IReadOnlyList<NetworkPort>> ListPortsAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>A read-only view of the host's links, addresses, routes and bridges (all of them, not only the SDK's), for UIs.</summary>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The inventory.</returns>
    Task<HostNetworkInventory> GetHostInventoryAsync(CancellationToken cancellationToken = default);
}

/// <summary>A defined network and what is on the host for it.</summary>
/// <param name="Definition">The definition.</param>
/// <param name="Applied">Whether the host matched the definition when it was last compared (no pending changes).</param>
/// <param name="PendingChanges">How many operations an apply would run now.</param>
/// <param name="PortCount">Ports attached.</param>
public sealed record NetworkInfo(NetworkDefinition Definition, bool Applied, int PendingChanges, int PortCount);

/// <summary>A difference between a network's definition and the host.</summary>
/// <param name="Network">The network.</param>
/// <param name="Object">What differs (a link, an address, a route, an FDB entry, the firewall table, dnsmasq).</param>
/// <param name="Expected">What the definition wants.</param>
/// <param name="Actual">What the host has.</param>
public sealed record NetworkDrift(string Network, string Object, string Expected, string Actual);
