namespace Virt.Kvm.IntegrationTests.Infrastructure;

/// <summary>The embedded default guest built by scripts/build-guest.sh.</summary>
internal static class TestGuest
{
    public static string Directory => Virt.Kvm.Testing.EmbeddedGuest.DefaultDirectory;

    public static string Kernel => Path.Combine(Directory, "vmlinux");

    public static string Initramfs => Path.Combine(Directory, "initramfs.gz");

    public static string KernelRelease => File.ReadAllText(Path.Combine(Directory, "kernel-release")).Trim();

    public const string ReadyMarker = Virt.Kvm.Testing.EmbeddedGuest.ReadyMarker;

    public static void Require()
    {
        QemuBinary.Require();
        HostRequirement.Require(File.Exists(Kernel) && File.Exists(Initramfs), $"the test guest in {Directory} (run scripts/build-guest.sh)");
        HostRequirement.Require(File.Exists("/usr/share/qemu/qboot.rom"), "/usr/share/qemu/qboot.rom (apt-get install qemu-system-x86)");
    }
}

internal static class QemuBinary
{
    public static string Path => Environment.GetEnvironmentVariable("VIRT_QEMU") is { Length: > 0 } qemu ? qemu : "/usr/bin/qemu-system-x86_64";

    public static void Require() => HostRequirement.Require(File.Exists(Path), $"{Path} (apt-get install qemu-system-x86, or set VIRT_QEMU)");
}

/// <summary>QEMU 10.0 unpacked by scripts/setup-qemu10.sh into a private prefix.</summary>
internal static class Qemu10
{
    public static string Prefix =>
        Environment.GetEnvironmentVariable("VIRT_QEMU10_DIR") is { Length: > 0 } dir
            ? dir
            : System.IO.Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "virt", "qemu-10.0");

    public static string Binary => System.IO.Path.Combine(Prefix, "usr", "bin", "qemu-system-x86_64");

    public static string DataDirectory => System.IO.Path.Combine(Prefix, "usr", "share", "qemu");

    public static void Require() => HostRequirement.Require(File.Exists(Binary), $"QEMU 10.0 in {Prefix} (run scripts/setup-qemu10.sh)");
}
