namespace Virt;

/// <summary>
/// What kind of failure a <see cref="VirtException"/> is, so that a host can branch once — an HTTP status, an exit
/// code, a retry — instead of listing exception types that grow with every backend.
/// </summary>
public enum VirtErrorKind
{
    /// <summary>The host or a program the SDK ran failed the operation (an exit code, an error from QEMU, a write the kernel refused); the message says what it said.</summary>
    Failed = 0,

    /// <summary>The named VM, container, pool, volume or device does not exist.</summary>
    NotFound,

    /// <summary>The object exists already, or is in a state or use that the operation does not accept (running, locked, bound, a base of clones).</summary>
    Conflict,

    /// <summary>The request itself is wrong: an invalid spec, name, path or argument; fix the input and retry.</summary>
    InvalidInput,

    /// <summary>Refused for safety or because the host cannot do it: a blocked passthrough plan, no IOMMU, a missing kernel feature, a driver that lacks the capability.</summary>
    Refused,

    /// <summary>A component that serves the object does not answer now (QEMU's monitor, the guest agent, a container's command socket); retrying later may work.</summary>
    Unavailable,

    /// <summary>A deadline passed. Timeouts derive from <see cref="TimeoutException"/>, not <see cref="VirtException"/>; <see cref="VirtErrors.KindOf"/> reports them as this.</summary>
    Timeout,
}
