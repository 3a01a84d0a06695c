namespace Virt.Lxc;

/// <summary>
/// The event ids of Virt.Lxc's log messages (4000–4099), published so that log filters, alerts and dashboards can
/// name them; an id keeps its meaning across versions, and a retired id is not reused.
/// </summary>
public static class LxcEventIds
{
    /// <summary>Information: <c>container {Name}: started (init pid {Pid}) in {Milliseconds:0} ms</c></summary>
    public const int Started = 4000;

    /// <summary>Information: <c>container {Name}: stopped</c></summary>
    public const int Stopped = 4001;

    /// <summary>Warning: <c>container {Name}: limits not in effect, running anyway (LxcOptions.LimitEnforcement = Warn): {Mismatches}</c></summary>
    public const int LimitsIgnored = 4002;

    /// <summary>Information: <c>container {Name}: created from {Source}</c></summary>
    public const int Created = 4003;

    /// <summary>Information: <c>container {Name}: deleted</c></summary>
    public const int Deleted = 4004;

    /// <summary>Warning: <c>container {Name}: removed what a previous run left behind: {What}</c></summary>
    public const int LeftoversRemoved = 4005;

    /// <summary>Warning: <c>container {Name}: releasing its network ports failed; ReleaseAsync(\"ct:{Name}\") on the network manager retries</c></summary>
    public const int NetworkPortReleaseFailed = 4006;
}
