namespace Virt.Kvm.VirtualMachines.Migration;

/// <summary>
/// The downtime limit of a migration that asked for none, raised as Proxmox raises its own: it starts short (5 ms), so that a
/// guest that converges (an idle or lightly loaded one: most) pauses only briefly at the switch-over, and doubles each
/// time QEMU finishes a pass over the guest's RAM without switching over, up to QEMU's own default, so that a guest that
/// dirties memory quickly still converges as it would have without the SDK.
/// </summary>
/// <remarks>
/// QEMU switches over once what is left fits <c>measured bandwidth × limit</c>. At a fixed 300 ms it stops an idle guest
/// with more left than it needs to, most of all over TLS, where it measures less bandwidth (docs/benchmarks.md, issue 19).
/// </remarks>
internal sealed class AdaptiveDowntime
{
    /// <summary>The first limit, in milliseconds.</summary>
    public const long InitialMilliseconds = 5;

    /// <summary>The last one: QEMU's default (7.2 to 10.0).</summary>
    public const long CeilingMilliseconds = 300;

    /// <summary>The limit QEMU has now, in milliseconds.</summary>
    public long Current { get; private set; } = InitialMilliseconds;

    /// <summary>
    /// The limit to give QEMU once it reports <paramref name="passes"/> (its <c>dirty-sync-count</c>: 1 during the first
    /// pass over RAM, 2 when it first looks at what the guest dirtied, and one more for each pass after); null while it stays.
    /// </summary>
    public long? Next(long passes)
    {
        var doublings = (int)Math.Clamp(passes - 2, 0, 8);
        var wanted = Math.Min(CeilingMilliseconds, InitialMilliseconds << doublings);
        if (wanted <= Current)
        {
            return null;
        }

        Current = wanted;
        return wanted;
    }
}
