namespace Virt.Kvm.VirtualMachines.Migration;

/// <summary>
/// The downtime limit of a migration that asked for none, raised as Proxmox raises its own. Under KVM it starts short
/// (5 ms), so that a guest that converges (an idle or lightly loaded one: most) pauses only briefly at the switch-over,
/// and doubles each time QEMU finishes a pass over the guest's RAM without switching over, up to QEMU's own default, so
/// that a guest that dirties memory quickly still converges as it would have without the SDK.
/// </summary>
/// <remarks>
/// <para>
/// QEMU switches over once what is left fits <c>measured bandwidth × limit</c>. At a fixed 300 ms it stops an idle guest
/// with more left than it needs to, most of all over TLS, where it measures less bandwidth (docs/benchmarks.md, issue 19).
/// </para>
/// <para>
/// Under TCG it starts at QEMU's default and stays there: a short limit means more passes over RAM, and with QEMU 7.2's
/// TCG a guest that keeps writing then arrives with pages it wrote missing (measured, 2026-12-07: the disk-copy test's
/// writing guest crashed on the destination in 3 of 5 migrations starting at 5 ms, in none of 4 at 300 ms; the same
/// kernel crashes as with the many passes of a 1 MiB/s migration, docs/multihost.md). KVM tracks dirty pages itself.
/// </para>
/// </remarks>
internal sealed class AdaptiveDowntime
{
    /// <summary>The first limit under KVM, in milliseconds.</summary>
    public const long InitialMilliseconds = 5;

    /// <summary>The last one: QEMU's default (7.2 to 10.0), and the only one under TCG.</summary>
    public const long CeilingMilliseconds = 300;

    /// <summary>Starts at <paramref name="initialMilliseconds"/>.</summary>
    public AdaptiveDowntime(long initialMilliseconds = InitialMilliseconds) => Current = Math.Min(initialMilliseconds, CeilingMilliseconds);

    /// <summary>The limit QEMU has now, in milliseconds.</summary>
    public long Current { get; private set; }

    /// <summary>The adaptive limit for a QEMU running with <paramref name="accelerator"/> (its runtime record's "kvm" or "tcg").</summary>
    public static AdaptiveDowntime For(string accelerator) =>
        new(string.Equals(accelerator, "tcg", StringComparison.OrdinalIgnoreCase) ? CeilingMilliseconds : InitialMilliseconds);

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
