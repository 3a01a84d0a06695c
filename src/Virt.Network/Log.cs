using Microsoft.Extensions.Logging;

namespace Virt.Network;

/// <summary>Log messages of Virt.Network (event ids 6000–6999, listed in <see cref="NetworkEventIds"/>): one line per change to a network, a security group or a port.</summary>
internal static partial class Log
{
    [LoggerMessage(NetworkEventIds.NetworkDefined, LogLevel.Information, "network {Network} ({Kind}) defined at {Path}")]
    public static partial void NetworkDefined(ILogger logger, string network, string kind, string path);

    [LoggerMessage(NetworkEventIds.NetworkDeleted, LogLevel.Information, "network {Network} deleted: {Changes} host changes")]
    public static partial void NetworkDeleted(ILogger logger, string network, int changes);

    [LoggerMessage(NetworkEventIds.SecurityGroupDefined, LogLevel.Information, "security group {Group} defined with {Rules} rules")]
    public static partial void SecurityGroupDefined(ILogger logger, string group, int rules);

    [LoggerMessage(NetworkEventIds.SecurityGroupDeleted, LogLevel.Information, "security group {Group} deleted")]
    public static partial void SecurityGroupDeleted(ILogger logger, string group);

    [LoggerMessage(NetworkEventIds.ChangesApplied, LogLevel.Information, "network {Network}: {Action} applied {Changes} host changes")]
    public static partial void ChangesApplied(ILogger logger, string network, string action, int changes);

    [LoggerMessage(NetworkEventIds.ApplyRolledBack, LogLevel.Error, "network {Network}: {Action} failed at {Object}; rolled back {RolledBack} link operations")]
    public static partial void ApplyRolledBack(ILogger logger, Exception exception, string network, string action, string @object, int rolledBack);

    [LoggerMessage(NetworkEventIds.JournalRecovered, LogLevel.Warning, "network {Network}: found the journal of a {Action} by process {ProcessId} that stopped after {Completed} of {Planned} operations; re-applying the definitions (roll forward)")]
    public static partial void JournalRecovered(ILogger logger, string network, string action, int processId, int completed, int planned);

    [LoggerMessage(NetworkEventIds.ForwardingEnabled, LogLevel.Information, "network {Network}: IP forwarding turned on ({Switch})")]
    public static partial void ForwardingEnabled(ILogger logger, string network, string @switch);

    [LoggerMessage(NetworkEventIds.PortPrepared, LogLevel.Information, "port {Owner}/{Nic} prepared on network {Network} ({HostInterface})")]
    public static partial void PortPrepared(ILogger logger, string owner, string nic, string network, string hostInterface);

    [LoggerMessage(NetworkEventIds.PortConnected, LogLevel.Information, "port {Owner}/{Nic}: {HostInterface} connected to bridge {Bridge}")]
    public static partial void PortConnected(ILogger logger, string owner, string nic, string hostInterface, string bridge);

    [LoggerMessage(NetworkEventIds.PortReleased, LogLevel.Information, "port {Owner}/{Nic} released from network {Network}")]
    public static partial void PortReleased(ILogger logger, string owner, string nic, string network);

    [LoggerMessage(NetworkEventIds.PortsPrepared, LogLevel.Information, "{Count} ports prepared in one change on networks {Networks}")]
    public static partial void PortsPrepared(ILogger logger, int count, string networks);

    [LoggerMessage(NetworkEventIds.PortsConnected, LogLevel.Information, "{Count} ports connected in one change ({Operations} link operations)")]
    public static partial void PortsConnected(ILogger logger, int count, int operations);
}
