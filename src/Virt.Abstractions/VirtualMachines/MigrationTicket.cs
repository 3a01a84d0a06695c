namespace Virt.VirtualMachines;

/// <summary>
/// What a destination host hands to the source of a live migration between two hosts running the SDK:
/// where its waiting QEMU listens, the one-time token that lets one source in, and what the destination
/// expects (checked on the source before any state moves). A plain record: the host application carries it
/// from one host to the other however it likes (the panel's host-to-host endpoint is one way).
/// </summary>
public sealed record MigrationTicket
{
    /// <summary>The VM being received.</summary>
    public required string VmName { get; init; }

    /// <summary>The destination host's name (its certificate's common name when TLS is used).</summary>
    public required string DestinationHost { get; init; }

    /// <summary>Where the destination accepts the migration stream: <c>HOST:PORT</c> (an IPv6 host in brackets).</summary>
    public required string Address { get; init; }

    /// <summary>The one-time secret the source proves it holds before the destination lets its stream in. Never logged.</summary>
    public required string Token { get; init; }

    /// <summary>After this instant the destination refuses the ticket and removes everything it made for it.</summary>
    public required DateTimeOffset ExpiresAt { get; init; }

    /// <summary>The machine type the destination QEMU runs (resolved, e.g. <c>pc-q35-7.2</c>): the source's must be the same.</summary>
    public required string MachineType { get; init; }

    /// <summary>The CPU model the destination QEMU runs: the source's must be the same.</summary>
    public required string CpuModel { get; init; }

    /// <summary>The destination's QEMU version (<c>major.minor.micro</c>): the source's may not be newer.</summary>
    public required string QemuVersion { get; init; }

    /// <summary>Whether the streams are encrypted (<see cref="MigrationSecurity.Tls"/>) or, when asked for, clear text.</summary>
    public required MigrationSecurity Security { get; init; }

    /// <summary>How each disk gets to the destination.</summary>
    public IReadOnlyList<MigrationDiskPlan> Disks { get; init; } = [];
}

/// <summary>How one disk reaches the destination of a migration between hosts.</summary>
/// <param name="DiskId">The disk's id in the spec.</param>
/// <param name="Transfer">Shared (both hosts open the same image) or copied during the migration.</param>
/// <param name="NbdAddress">For a copied disk: where the destination exports its new image (<c>HOST:PORT</c>).</param>
/// <param name="ExportName">For a copied disk: the NBD export's name.</param>
public sealed record MigrationDiskPlan(string DiskId, MigrationDiskTransfer Transfer, string? NbdAddress = null, string? ExportName = null);

/// <summary>How a disk reaches the destination host.</summary>
public enum MigrationDiskTransfer
{
    /// <summary>Storage both hosts reach (an RBD pool defined on both): nothing is copied.</summary>
    Shared,

    /// <summary>A host-local image: copied while the guest runs, switched over with the VM.</summary>
    Copy,
}

/// <summary>Whether the migration and disk-copy streams between hosts are encrypted.</summary>
public enum MigrationSecurity
{
    /// <summary>TLS with x509 certificates (QEMU's <c>tls-creds-x509</c>); the default.</summary>
    Tls,

    /// <summary>Clear text: only when asked for explicitly, e.g. on a dedicated, trusted link.</summary>
    ClearText,
}

/// <summary>How a destination host receives a VM (<see cref="IVirtualMachineManager.PrepareIncomingAsync"/>).</summary>
public sealed record IncomingMigrationOptions
{
    /// <summary>The address on this host the source reaches (an address of the link between the hosts).</summary>
    public required string ListenAddress { get; init; }

    /// <summary>The TCP port to listen on; 0 picks a free one.</summary>
    public int Port { get; init; }

    /// <summary>How long the ticket stays valid. Default 10 minutes.</summary>
    public TimeSpan TicketLifetime { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>TLS (default) or, only when asked for, clear text.</summary>
    public MigrationSecurity Security { get; init; } = MigrationSecurity.Tls;

    /// <summary>
    /// The directory with this host's certificates in QEMU's layout (<c>ca-cert.pem</c>, <c>server-cert.pem</c>,
    /// <c>server-key.pem</c>, <c>client-cert.pem</c>, <c>client-key.pem</c>); null for the manager's configured one.
    /// </summary>
    public string? TlsDirectory { get; init; }

    /// <summary>
    /// The source host's name: with TLS only a client certificate with that common name is let in, and shared
    /// volumes locked by that host are taken over from it. Null: any host the CA signed (refused when disks are copied:
    /// their NBD exports have no token, only the client certificate).
    /// </summary>
    public string? SourceHost { get; init; }

    /// <summary>
    /// The virtual size in bytes of each disk the source copies over (disk id → size): every writable disk given by a
    /// file path, which exists on the source host only. Read them on the source with
    /// <see cref="IVmMigration.GetLocalDiskSizesAsync"/>. This host creates a new qcow2 image of that size for each,
    /// <c>disk-ID.qcow2</c> in the VM's state directory, and exports it over NBD (TLS only) for the source to copy into.
    /// Null or empty: the VM has no such disk.
    /// </summary>
    public IReadOnlyDictionary<string, long>? LocalDiskSizes { get; init; }
}
