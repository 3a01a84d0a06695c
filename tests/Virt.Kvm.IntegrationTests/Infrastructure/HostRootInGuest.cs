using Virt.Tests;

namespace Virt.Kvm.IntegrationTests.Infrastructure;

/// <summary>
/// The test guest running code of this build: this host's root shared read-only over 9p, mounted at /mnt/hostroot with
/// proc, sys, dev and a tmpfs /run, and .NET run from it in a chroot. For what needs the guest's kernel (an emulated
/// IOMMU, VLAN filtering, a watchdog device) and must not touch this host's.
/// </summary>
internal static class HostRootInGuest
{
    /// <summary>QEMU's arguments that share this host's root with the guest (mount tag <c>hostroot</c>).</summary>
    public static readonly string[] QemuArguments = ["-virtfs", "local,path=/,mount_tag=hostroot,security_model=none,multidevs=remap,readonly=on"];

    /// <summary>Shell lines, for the guest's script, that mount the host's root and what a program there needs.</summary>
    public const string Mount =
        """
        mkdir -p /mnt/hostroot
        mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,ro hostroot /mnt/hostroot
        mount -t proc proc /mnt/hostroot/proc
        mount -t sysfs sys /mnt/hostroot/sys
        mount -t devtmpfs dev /mnt/hostroot/dev
        mount -t tmpfs run /mnt/hostroot/run
        """;

    /// <summary>The command that runs a .NET program of this build (a dll path on this host) in the chroot.</summary>
    public const string Dotnet = "chroot /mnt/hostroot env HOME=/run TMPDIR=/run DOTNET_EnableDiagnostics=0 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_TieredPGO=0 /usr/share/dotnet/dotnet";

    /// <summary>Skips the test where the guest would find no .NET runtime in the host's root.</summary>
    public static void Require() =>
        HostRequirement.Require(File.Exists("/usr/share/dotnet/dotnet"), "the .NET runtime at /usr/share/dotnet (the guest runs it from the host's root over 9p)");
}
