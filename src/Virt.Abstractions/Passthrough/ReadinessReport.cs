namespace Virt.Passthrough;

/// <summary>The outcome of one readiness check.</summary>
public enum ReadinessStatus
{
    /// <summary>The host is ready in this respect.</summary>
    Pass,

    /// <summary>Informational: neither good nor bad for passthrough.</summary>
    Info,

    /// <summary>Passthrough can work, but something is weaker or slower than it should be.</summary>
    Warn,

    /// <summary>Passthrough cannot work until this is fixed.</summary>
    Fail,
}

/// <summary>One check of a readiness report, in the spirit of <c>virt-host-validate</c>.</summary>
/// <param name="Code">A stable code (e.g. <c>iommu.enabled</c>) that tools and tests can rely on.</param>
/// <param name="Status">The outcome.</param>
/// <param name="Summary">What was found, with the evidence (file and value).</param>
/// <param name="Fix">What to do about it; <see langword="null"/> when nothing is needed.</param>
public sealed record ReadinessCheck(string Code, ReadinessStatus Status, string Summary, string? Fix);

/// <summary>Whether a host can pass PCI devices to VMs, check by check.</summary>
/// <param name="Checks">The checks, in a fixed order.</param>
public sealed record ReadinessReport(IReadOnlyList<ReadinessCheck> Checks)
{
    /// <summary>Whether no check failed.</summary>
    public bool IsReady => Checks.All(check => check.Status != ReadinessStatus.Fail);

    /// <summary>One check by its code.</summary>
    /// <param name="code">The code.</param>
    /// <returns>The check.</returns>
    /// <exception cref="KeyNotFoundException">No check has that code.</exception>
    public ReadinessCheck this[string code] => Checks.FirstOrDefault(check => check.Code == code) ?? throw new KeyNotFoundException($"no readiness check has the code '{code}'");
}
