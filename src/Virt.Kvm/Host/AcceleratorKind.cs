namespace Virt.Kvm.Host;

/// <summary>How QEMU executes guest code.</summary>
public enum AcceleratorKind
{
    /// <summary>Hardware virtualization through /dev/kvm.</summary>
    Kvm,

    /// <summary>QEMU's software emulator (slow, works everywhere).</summary>
    Tcg,
}

/// <summary>The accelerator chosen for this host, and why.</summary>
/// <param name="Kind">The accelerator.</param>
/// <param name="Reason">Why it was chosen, in words a person can act on.</param>
public sealed record AcceleratorChoice(AcceleratorKind Kind, string Reason)
{
    /// <summary>The value for QEMU's <c>-accel</c> option: "kvm" or "tcg".</summary>
    public string QemuName => Kind == AcceleratorKind.Kvm ? "kvm" : "tcg";
}
