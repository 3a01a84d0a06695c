using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Virt.Kvm.Qmp;
using Virt.Kvm.Qmp.Api;
using Virt.Processes;
using Virt.VirtualMachines;

namespace Virt.Kvm.VirtualMachines.Migration;

/// <summary>
/// Host-local disks copied to another host during a live migration. The destination creates a new qcow2 image of the
/// source's size for each writable disk given by a file path (<c>disk-ID.qcow2</c> in the VM's state directory), starts
/// its QEMU on them with <c>-incoming defer</c>, and exports them writable with QEMU's NBD server on the ticket's
/// address, TLS only (the migration's server credentials and authorization). The source mirrors each disk into its
/// export (<see cref="StorageMigration.MirrorIntoAsync"/>) until the jobs are ready, migrates RAM with
/// <c>pause-before-switchover</c>, and in that pause (guest stopped, device state not yet sent) ends the mirrors, which
/// copy the last writes, and removes its NBD nodes; only then does the device state go, so the destination's disks are
/// complete whenever its QEMU has the state and resumes the guest.
/// </summary>
internal static class CrossHostDiskCopy
{
    /// <summary>The name under which the destination hands QEMU the NBD server's listening socket.</summary>
    private const string NbdDescriptor = "virt-nbd";
    private const string ExportPrefix = "virt-copy-";

    /// <summary>Whether a disk is given by a file path (rather than a volume), so it exists on the source host only and is copied.</summary>
    public static bool IsHostFile(VmDisk disk) => !VmSpecValidator.IsVolumeId(disk.Path);

    /// <summary>Where the destination puts a copied disk's new image.</summary>
    public static string ImagePath(string vmDirectory, string diskId) => Path.Combine(vmDirectory, $"disk-{diskId}.qcow2");

    /// <summary>The NBD export of a copied disk.</summary>
    public static string ExportName(string diskId) => ExportPrefix + diskId;

    /// <summary>
    /// The destination's check: which disks are copied and at what size. Refuses what cannot be copied, with the fix:
    /// a read-only file disk, clear text, a missing or non-positive size, a size for a disk that is not copied.
    /// </summary>
    public static IReadOnlyDictionary<string, long> Plan(VmSpec spec, IncomingMigrationOptions options)
    {
        var sizes = options.LocalDiskSizes ?? new Dictionary<string, long>();

        // Files always; volumes when the source sent their sizes, which it does for volumes on pools only it reaches
        // (CopiedVolumes): each is copied into a new volume of the same id in this host's pool of that name.
        var local = spec.Disks.Where(disk => IsHostFile(disk) || sizes.ContainsKey(disk.Id)).ToList();
        var readOnly = local.Where(disk => disk.ReadOnly).Select(disk => $"'{disk.Id}' ({disk.Path})").ToList();
        if (readOnly.Count > 0)
        {
            throw new VmMigrationException(spec.Name, $"disk {string.Join(", ", readOnly)} is read-only and on the source host only; only writable disks are copied between hosts: put it on an RBD pool defined on both hosts (pool:volume), or detach it before migrating");
        }

        if (local.Count > 0 && options.Security != MigrationSecurity.Tls)
        {
            // QEMU's NBD server lets in whoever reaches its port and lets it write the export; the gate's token cannot
            // guard it (QEMU accepts NBD connections itself), only TLS with a client certificate can.
            throw new VmMigrationException(spec.Name, $"disk {string.Join(", ", local.Select(disk => $"'{disk.Id}'"))} would be copied over NBD, which is only offered over TLS (in clear text anyone who reaches the port could write the new image); use MigrationSecurity.Tls, or put the disks on an RBD pool defined on both hosts");
        }

        if (local.Count > 0 && options.SourceHost is null)
        {
            // The export's only guard is the client certificate: without a name, any host the CA signed could write it.
            throw new ArgumentException($"VM '{spec.Name}': disk {string.Join(", ", local.Select(disk => $"'{disk.Id}'"))} would be copied over NBD, which only the source's TLS client certificate guards; name the source host (IncomingMigrationOptions.SourceHost) so that no other host of the CA can write the new image", nameof(options));
        }

        var unknown = sizes.Keys.Where(id => !local.Any(disk => disk.Id == id)).ToList();
        if (unknown.Count > 0)
        {
            throw new ArgumentException($"VM '{spec.Name}': LocalDiskSizes names {string.Join(", ", unknown.Select(id => $"'{id}'"))}, which is not a disk of the spec; give sizes only for the disks that are copied (IVmMigration.GetLocalDiskSizesAsync on the source lists them)", nameof(options));
        }

        var plan = new Dictionary<string, long>();
        foreach (var disk in local)
        {
            if (!sizes.TryGetValue(disk.Id, out var size))
            {
                throw new ArgumentException($"VM '{spec.Name}': disk '{disk.Id}' ({disk.Path}) is a file of the source host and is copied, but LocalDiskSizes has no size for it; read the sizes on the source with IVmMigration.GetLocalDiskSizesAsync and pass them", nameof(options));
            }

            if (size <= 0)
            {
                throw new ArgumentException($"VM '{spec.Name}': LocalDiskSizes['{disk.Id}'] is {size}; give the source disk's virtual size in bytes", nameof(options));
            }

            plan[disk.Id] = size;
        }

        return plan;
    }

    /// <summary>
    /// The spec the destination records: each copied file disk names its new qcow2 image in the VM's directory; a copied
    /// volume keeps its id, which names the new volume in this host's pool of that name.
    /// </summary>
    public static VmSpec DestinationSpec(VmSpec spec, IReadOnlyDictionary<string, long> copies, string vmDirectory) =>
        copies.Count == 0
            ? spec
            : spec with { Disks = spec.Disks.Select(disk => copies.ContainsKey(disk.Id) && IsHostFile(disk) ? disk with { Path = ImagePath(vmDirectory, disk.Id), Format = VmDiskFormat.Qcow2 } : disk).ToList() };

    /// <summary>Creates the destination's empty images for the copied file disks (removed with the VM's directory when the migration fails).</summary>
    public static async Task CreateImagesAsync(IProcessRunner processes, string vmName, string vmDirectory, IReadOnlyDictionary<string, long> copies, IReadOnlyList<VmDisk> sourceDisks, CancellationToken cancellationToken)
    {
        foreach (var (diskId, size) in copies.Where(copy => sourceDisks.Any(disk => disk.Id == copy.Key && IsHostFile(disk))))
        {
            var path = ImagePath(vmDirectory, diskId);
            var result = await processes.RunAsync(new ProcessSpec("qemu-img", ["create", "-q", "-f", "qcow2", path, size.ToString(CultureInfo.InvariantCulture)]), cancellationToken).ConfigureAwait(false);
            if (result.ExitCode != 0)
            {
                throw new VmMigrationException(vmName, $"qemu-img could not create the image '{path}' for disk '{diskId}' ({size} bytes): {result.StandardError.Trim()}; free space in the state directory's file system");
            }
        }
    }

    /// <summary>
    /// The destination: QEMU's NBD server on <paramref name="address"/> (a port this process binds, so it is known before
    /// the ticket goes out, handed to QEMU as a listening socket), TLS with the migration's server credentials and
    /// authorization (only the source's certificate, where the ticket names it); each new image exported writable. Returns the ticket's plan for each.
    /// </summary>
    public static async Task<IReadOnlyList<MigrationDiskPlan>> ExportAsync(QmpClient qmp, IPAddress address, IReadOnlyCollection<string> diskIds, string? authorization, CancellationToken cancellationToken)
    {
        using var listener = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(address, 0));
        listener.Listen();
        var nbdAddress = MigrationGate.Describe((IPEndPoint)listener.LocalEndPoint!);

        // QEMU takes its own copy of the socket; this process's copy closes when this method returns.
        await qmp.GetfdAsync(new GetfdArguments { Fdname = NbdDescriptor }, listener.SafeHandle, cancellationToken: cancellationToken).ConfigureAwait(false);
        await qmp.NbdServerStartAsync(
            new NbdServerStartArguments
            {
                Addr = new ChardevAddArgumentsBackendSocketDataAddrFd { Data = new ChardevAddArgumentsBackendSocketDataAddrFdData { Str = NbdDescriptor } },
                TlsCreds = MigrationTls.ServerCredentialsId,
                TlsAuthz = authorization,

                // No cap of one connection per disk: a slot is taken at accept, before TLS, so anyone reaching the port could
                // hold the source's slots (QEMU drops a client that has not negotiated after 10 s, and it could reconnect).
                // TLS with the migration's authorization is what keeps others out; QEMU's own default cap stays.
            },
            cancellationToken).ConfigureAwait(false);
        foreach (var diskId in diskIds)
        {
            await qmp.BlockExportAddAsync(new BlockExportAddArgumentsNbd { Id = ExportName(diskId), NodeName = diskId, Writable = true, Name = ExportName(diskId) }, cancellationToken).ConfigureAwait(false);
        }

        return diskIds.Select(diskId => new MigrationDiskPlan(diskId, MigrationDiskTransfer.Copy, nbdAddress, ExportName(diskId))).ToList();
    }

    /// <summary>
    /// The destination, once the VM's state is in: the exports and the listener go. An export that outlived
    /// <c>nbd-server-stop</c> is removed by force: left open, it would let a client of the hosts' CA write to the running
    /// VM's disk. Never throws (the VM is this host's only running copy now); what cannot be removed is logged as an error.
    /// </summary>
    public static async Task StopExportsAsync(QmpClient qmp, string vmName, ILogger logger)
    {
        try
        {
            await qmp.NbdServerStopAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (QmpException)
        {
            // No NBD server (nothing was copied); any export left is dealt with below.
        }
        catch (QmpConnectionException)
        {
            return;
        }

        try
        {
            foreach (var export in (await qmp.QueryBlockExportsAsync(CancellationToken.None).ConfigureAwait(false)).Where(export => export.Id.StartsWith(ExportPrefix, StringComparison.Ordinal)))
            {
                try
                {
                    await qmp.BlockExportDelAsync(new BlockExportDelArguments { Id = export.Id, Mode = BlockExportDelArgumentsMode.Hard }, CancellationToken.None).ConfigureAwait(false);
                }
                catch (QmpException ex)
                {
                    Log.CopyExportLeftOpen(logger, vmName, export.Id, $"block-export-del: {ex.Description}");
                }
            }
        }
        catch (QmpException ex)
        {
            Log.CopyExportLeftOpen(logger, vmName, ExportPrefix + "*", $"query-block-exports: {ex.Description}");
        }
        catch (QmpConnectionException)
        {
            // QEMU is gone, and its exports with it.
        }
    }

    /// <summary>
    /// The source's check of the ticket's plan against its own disks: returns the disks to copy. Every disk needs a
    /// plan; a copied disk must be a writable file of this host, go over TLS, and name where its export is.
    /// </summary>
    public static IReadOnlyList<MigrationDiskPlan> CopiesOf(VmSpec spec, MigrationTicket ticket)
    {
        var copies = new List<MigrationDiskPlan>();
        foreach (var disk in spec.Disks)
        {
            var plan = ticket.Disks.FirstOrDefault(p => p.DiskId == disk.Id)
                ?? throw new VmMigrationException(spec.Name, $"the ticket has no plan for disk '{disk.Id}' (the destination was prepared from another spec); prepare it with this VM's spec");
            if (plan.Transfer == MigrationDiskTransfer.Shared)
            {
                if (IsHostFile(disk))
                {
                    throw new VmMigrationException(spec.Name, $"disk '{disk.Id}' ({disk.Path}) is a file of this host, but the ticket plans it as shared; prepare the destination with LocalDiskSizes so it copies the disk");
                }

                continue;
            }

            if (disk.ReadOnly)
            {
                throw new VmMigrationException(spec.Name, $"the ticket plans disk '{disk.Id}' as copied, but it is read-only; only writable disks are copied");
            }

            if (ticket.Security != MigrationSecurity.Tls)
            {
                throw new VmMigrationException(spec.Name, $"the ticket would copy disk '{disk.Id}' in clear text; disks are only copied over TLS: ask {ticket.DestinationHost} for a TLS ticket");
            }

            if (plan.NbdAddress is null || !MigrationGate.TryParse(plan.NbdAddress, out _) || string.IsNullOrEmpty(plan.ExportName))
            {
                throw new VmMigrationException(spec.Name, $"the ticket's plan for disk '{disk.Id}' does not name an NBD export as HOST:PORT and a name ('{plan.NbdAddress}', '{plan.ExportName}'); take the ticket as the destination's PrepareIncomingAsync returned it");
            }

            copies.Add(plan);
        }

        return copies;
    }

    /// <summary>
    /// The source starts copying each disk into the destination's NBD export (TLS client credentials, the destination's
    /// name checked): a mirror job per disk that catches up while the guest runs (<see cref="StorageMigration.MirrorProgressAsync"/>).
    /// </summary>
    public static async Task StartAsync(QmpClient source, string vmName, MigrationTicket ticket, IReadOnlyList<MigrationDiskPlan> copies, CancellationToken cancellationToken)
    {
        var targets = copies.ToDictionary(
            plan => plan.DiskId,
            plan =>
            {
                MigrationGate.TryParse(plan.NbdAddress!, out var endpoint);
                return new BlockdevAddArgumentsNbd
                {
                    NodeName = StorageMigration.MirrorNode(plan.DiskId),
                    Server = new BlockExportAddArgumentsVhostUserBlkAddrInet { Host = endpoint.Address.ToString(), Port = endpoint.Port.ToString(CultureInfo.InvariantCulture) },
                    Export = plan.ExportName,
                    TlsCreds = MigrationTls.ClientCredentialsId,
                    TlsHostname = ticket.DestinationHost,
                };
            });
        try
        {
            await StorageMigration.StartMirrorsAsync(source, vmName, targets, cancellationToken).ConfigureAwait(false);
        }
        catch (QmpException ex)
        {
            throw new VmMigrationException(vmName, $"copying the disks to {ticket.DestinationHost} failed: '{ex.Command}': {ex.Description}; the VM runs on here on its own disks", ex);
        }
    }

    /// <summary>
    /// Once every copy is ready: the migration that follows pauses before its switch-over (<see cref="SwitchOverAsync"/>
    /// ends the copies there, with the guest stopped).
    /// </summary>
    public static async Task ArmSwitchOverAsync(QmpClient source, string vmName, string destinationHost, CancellationToken cancellationToken)
    {
        try
        {
            await SetPauseBeforeSwitchoverAsync(source, true, cancellationToken).ConfigureAwait(false);
        }
        catch (QmpException ex)
        {
            throw new VmMigrationException(vmName, $"copying the disks to {destinationHost} failed: '{ex.Command}': {ex.Description}; the VM runs on here on its own disks", ex);
        }
    }

    /// <summary>
    /// The source, paused before the switch-over (guest stopped, nothing more written): ends the mirrors, which copy what
    /// is still dirty, removes the NBD nodes (closing the connections), then lets the migration send the device state.
    /// </summary>
    public static async Task SwitchOverAsync(QmpClient source, string vmName, IReadOnlyList<string> diskIds, CancellationToken cancellationToken)
    {
        var failed = await StorageMigration.EndMirrorsAsync(source, diskIds).ConfigureAwait(false);
        if (failed.Count > 0)
        {
            // The device state has not gone yet: failing here cancels the migration, and the guest runs on at the source.
            throw new VmMigrationException(vmName, $"the copy of disk {string.Join(", ", failed)} failed at the switch-over; the VM runs on here on its own disks");
        }

        await BlockNodes.RemoveAsync(source, new Stack<string>(diskIds.Select(StorageMigration.MirrorNode))).ConfigureAwait(false);
        await source.MigrateContinueAsync(new MigrateContinueArguments { State = MigrateContinueArgumentsState.PreSwitchover }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>After a failed or cancelled copy: no mirror job, NBD node or pause setting stays on the source. Never throws.</summary>
    public static async Task AbandonAsync(QmpClient source, IReadOnlyList<string> diskIds)
    {
        if (diskIds.Count == 0)
        {
            return;
        }

        await StorageMigration.AbandonAsync(source, diskIds).ConfigureAwait(false);
        try
        {
            await SetPauseBeforeSwitchoverAsync(source, false, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is QmpException or QmpConnectionException)
        {
            // QEMU is gone, or a migration is still winding down: the next copy sets it again, a migration without copies does not pause.
        }
    }

    private static Task SetPauseBeforeSwitchoverAsync(QmpClient source, bool state, CancellationToken cancellationToken) =>
        LiveMigration.SetCapabilityAsync(source, MigrateSetCapabilitiesArgumentsCapabilitiesCapability.PauseBeforeSwitchover, state, cancellationToken);
}
