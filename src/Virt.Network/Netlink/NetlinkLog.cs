using Microsoft.Extensions.Logging;

namespace Virt.Network.Netlink;

/// <summary>Log messages of the rtnetlink layer (event ids 6100–6199 of Virt.Network's 6000–6999).</summary>
internal static partial class NetlinkLog
{
    [LoggerMessage(6100, LogLevel.Debug, "rtnetlink: {Operations} link operations applied in {Sends} sends ({Lookups} ifindex lookups) in namespace {Namespace}")]
    public static partial void BatchApplied(ILogger logger, int operations, int sends, int lookups, string @namespace);

    [LoggerMessage(6101, LogLevel.Warning, "rtnetlink: operation {Index} of {Count} failed: {Message}")]
    public static partial void OperationFailed(ILogger logger, int index, int count, string message);
}
