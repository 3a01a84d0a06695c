using Virt.VirtualMachines;

namespace Virt.Kvm.Testing;

/// <summary>
/// The project's embedded default guest, built by <c>scripts/build-guest.sh</c> from Debian's
/// packages: an uncompressed kernel booted through qboot and a busybox initramfs with qemu-ga. It
/// prints <see cref="ReadyMarker"/> on the serial console and powers off on the ACPI button. The
/// demo, the samples, the benchmarks and the tests all boot it.
/// </summary>
public static class EmbeddedGuest
{
    /// <summary>What the guest prints on its serial console once booted (followed by the kernel release).</summary>
    public const string ReadyMarker = "VIRT-GUEST-READY";

    /// <summary>Where build-guest.sh puts it: <c>$VIRT_GUEST_DIR</c>, else <c>~/.cache/virt/guest</c>.</summary>
    public static string DefaultDirectory =>
        Environment.GetEnvironmentVariable("VIRT_GUEST_DIR") is { Length: > 0 } directory
            ? directory
            : Path.Combine(
                Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } cache ? cache : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"),
                "virt",
                "guest");

    /// <summary>A spec that boots the guest directly (qboot + kernel + initramfs), with the SDK's defaults for the rest.</summary>
    /// <param name="name">The VM's name.</param>
    /// <param name="directory">The guest's directory; <see langword="null"/> for <see cref="DefaultDirectory"/>.</param>
    /// <param name="memoryMiB">Guest memory.</param>
    /// <returns>The spec; change it with <c>with</c>.</returns>
    public static VmSpec CreateSpec(string name, string? directory = null, int memoryMiB = 256)
    {
        directory ??= DefaultDirectory;
        return new VmSpec(name)
        {
            Memory = new VmMemory { SizeMiB = memoryMiB },
            Firmware = new VmFirmware
            {
                Kind = VmFirmwareKind.DirectKernel,
                BiosPath = "/usr/share/qemu/qboot.rom",
                KernelPath = Path.Combine(directory, "vmlinux"),
                InitrdPath = Path.Combine(directory, "initramfs.gz"),
                // no_timer_check: under TCG on a busy host the vCPU can be descheduled through the kernel's
                // IO-APIC timer check, which then panics ("IO-APIC + timer doesn't work"); virtual machines skip it.
                KernelCommandLine = "console=ttyS0 panic=-1 quiet no_timer_check",
            },
        };
    }
}
