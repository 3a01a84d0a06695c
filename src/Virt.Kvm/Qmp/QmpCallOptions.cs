namespace Virt.Kvm.Qmp;

/// <summary>Per-call settings that override the client's defaults.</summary>
public sealed record QmpCallOptions
{
    /// <summary>The deadline for this call; <see langword="null"/> takes the client's table (<see cref="QmpClientOptions.GetTimeout"/>).</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>
    /// Run the command out of band (<c>exec-oob</c>), ahead of queued in-band commands. Only for
    /// commands QEMU allows OOB (e.g. <c>migrate-pause</c>, <c>yank</c>) and only when the server
    /// offered the <c>oob</c> capability.
    /// </summary>
    public bool OutOfBand { get; init; }
}
