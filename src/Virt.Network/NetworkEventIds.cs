namespace Virt.Network;

/// <summary>
/// The event ids of Virt.Network's log messages (6000–6999), published so that log filters, alerts and dashboards can
/// name them; an id keeps its meaning across versions, and a retired id is not reused.
/// </summary>
public static class NetworkEventIds
{
    /// <summary>Information: <c>network {Network} ({Kind}) defined at {Path}</c></summary>
    public const int NetworkDefined = 6000;

    /// <summary>Information: <c>network {Network} deleted: {Changes} host changes</c></summary>
    public const int NetworkDeleted = 6001;

    /// <summary>Information: <c>security group {Group} defined with {Rules} rules</c></summary>
    public const int SecurityGroupDefined = 6002;

    /// <summary>Information: <c>security group {Group} deleted</c></summary>
    public const int SecurityGroupDeleted = 6003;

    /// <summary>Information: <c>network {Network}: {Action} applied {Changes} host changes</c></summary>
    public const int ChangesApplied = 6100;

    /// <summary>Error: <c>network {Network}: {Action} failed at {Object}; rolled back {RolledBack} link operations</c></summary>
    public const int ApplyRolledBack = 6101;

    /// <summary>Warning: <c>network {Network}: found the journal of a {Action} by process {ProcessId} that stopped after {Completed} of {Planned} operations; re-applying the definitions (roll forward)</c></summary>
    public const int JournalRecovered = 6102;

    /// <summary>Information: <c>network {Network}: IP forwarding turned on ({Switch})</c></summary>
    public const int ForwardingEnabled = 6103;

    /// <summary>Information: <c>port {Owner}/{Nic} prepared on network {Network} ({HostInterface})</c></summary>
    public const int PortPrepared = 6200;

    /// <summary>Information: <c>port {Owner}/{Nic}: {HostInterface} connected to bridge {Bridge}</c></summary>
    public const int PortConnected = 6201;

    /// <summary>Information: <c>port {Owner}/{Nic} released from network {Network}</c></summary>
    public const int PortReleased = 6202;

    /// <summary>Information: <c>{Count} ports prepared in one change on networks {Networks}</c></summary>
    public const int PortsPrepared = 6203;

    /// <summary>Information: <c>{Count} ports connected in one change ({Operations} link operations)</c></summary>
    public const int PortsConnected = 6204;
}
