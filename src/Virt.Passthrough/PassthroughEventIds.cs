namespace Virt.Passthrough;

/// <summary>
/// The event ids of Virt.Passthrough's log messages (5000–5099), published so that log filters, alerts and dashboards can
/// name them; an id keeps its meaning across versions, and a retired id is not reused.
/// </summary>
public static class PassthroughEventIds
{
    /// <summary>Information: <c>bound {Devices} to {Driver} for {Owner}</c></summary>
    public const int Bound = 5000;

    /// <summary>Information: <c>released the devices of {Owner}</c></summary>
    public const int Released = 5001;

    /// <summary>Warning: <c>{Device} is gone from the host; nothing to restore for it</c></summary>
    public const int DeviceGone = 5002;

    /// <summary>Error: <c>rolling back {Device} failed; the journal keeps it for ReleaseAsync</c></summary>
    public const int RollbackFailed = 5003;

    /// <summary>Debug: <c>{Device}: write '{Value}' to {Path}</c></summary>
    public const int Write = 5004;
}
