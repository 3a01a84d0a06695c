using Microsoft.Extensions.Logging;

namespace Virt.Passthrough;

/// <summary>The passthrough backend's log messages (event ids, listed in <see cref="PassthroughEventIds"/>: 5000–5099).</summary>
internal static partial class Log
{
    [LoggerMessage(PassthroughEventIds.Bound, LogLevel.Information, "bound {Devices} to {Driver} for {Owner}")]
    public static partial void Bound(ILogger logger, string devices, string driver, string owner);

    [LoggerMessage(PassthroughEventIds.Released, LogLevel.Information, "released the devices of {Owner}")]
    public static partial void Released(ILogger logger, string owner);

    [LoggerMessage(PassthroughEventIds.DeviceGone, LogLevel.Warning, "{Device} is gone from the host; nothing to restore for it")]
    public static partial void DeviceGone(ILogger logger, PciAddress device);

    [LoggerMessage(PassthroughEventIds.RollbackFailed, LogLevel.Error, "rolling back {Device} failed; the journal keeps it for ReleaseAsync")]
    public static partial void RollbackFailed(ILogger logger, Exception exception, string device);

    [LoggerMessage(PassthroughEventIds.Write, LogLevel.Debug, "{Device}: write '{Value}' to {Path}")]
    public static partial void Write(ILogger logger, PciAddress device, string value, string path);
}
