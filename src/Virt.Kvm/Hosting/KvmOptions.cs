using Virt.Kvm.GuestAgent;
using Virt.Kvm.Qmp;

namespace Virt.Kvm.Hosting;

/// <summary>Settings of the KVM backend.</summary>
public sealed class KvmOptions
{
    /// <summary>
    /// Deadlines and limits of QMP connections. The backend checks every command against the running
    /// QEMU's own schema (fetched once per QEMU binary) before sending it.
    /// </summary>
    public QmpClientOptions Qmp { get; set; } = new() { CheckCommandsAgainstSchema = true };

    /// <summary>Deadlines of guest-agent connections.</summary>
    public GuestAgentOptions GuestAgent { get; set; } = new();

    /// <summary>Where VMs live: one 0700 directory per VM with its spec, sockets and logs. Default <c>/var/lib/virt/vms</c>.</summary>
    public string StateDirectory { get; set; } = "/var/lib/virt/vms";

    /// <summary>The QEMU binary. Default <c>/usr/bin/qemu-system-x86_64</c>.</summary>
    public string QemuBinary { get; set; } = "/usr/bin/qemu-system-x86_64";

    /// <summary>A <c>-L</c> data directory, for a QEMU unpacked outside /usr (e.g. a newer version beside the system's).</summary>
    public string? QemuDataDirectory { get; set; }

    /// <summary>
    /// A user QEMU drops privileges to once it has opened the VM's disks, firmware and sockets
    /// (<c>-run-with user=</c> from QEMU 9.1, <c>-runas</c> before), or <see langword="null"/> to keep
    /// the caller's (root). Recommended: a guest that escapes QEMU then holds that user's rights, not
    /// root's. What QEMU opens later — disks hotplugged or snapshotted while it runs — must be
    /// readable and writable by that user; live migration on the same host is refused with it.
    /// </summary>
    public string? RunAsUser { get; set; }

    /// <summary>
    /// The most bytes a VM's serial log (<c>serial.log</c>) may hold before its older part is moved to
    /// <c>serial.log.1</c>, so a guest cannot fill the disk through its console. Default 4 MiB; at
    /// least 64 KiB; 0 for no cap. Disk use stays within about twice the cap.
    /// </summary>
    public long SerialLogMaxBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>
    /// Whether a VM may ask for more memory or vCPUs than this host has (MemTotal of /proc/meminfo,
    /// the online CPUs). Default false: such a spec is refused at create and at start, naming the
    /// host's figures. One VM may always use up to all of them (the sum over VMs is not limited).
    /// </summary>
    public bool AllowResourcesBeyondHost { get; set; }

    /// <summary>How long an operation waits for another operation on the same VM. Default 30 s.</summary>
    public TimeSpan LockTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long an unplug waits for the guest to release the device (DEVICE_DELETED). Default 30 s.</summary>
    public TimeSpan UnplugTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a snapshot save, load or delete may take. Default 10 minutes.</summary>
    public TimeSpan SnapshotTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>The swtpm binary for VMs with a TPM. Default /usr/bin/swtpm (Debian's swtpm package).</summary>
    public string SwtpmBinary { get; set; } = "/usr/bin/swtpm";

    /// <summary>How long QEMU may take from spawn to a served monitor. Default 30 s.</summary>
    public TimeSpan StartTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// This host's certificates for migrations between hosts, in QEMU's layout (<c>ca-cert.pem</c>, <c>server-cert.pem</c>,
    /// <c>server-key.pem</c>, <c>client-cert.pem</c>, <c>client-key.pem</c>): used when a migration names no directory of its own.
    /// </summary>
    public string? MigrationTlsDirectory { get; set; }
}
