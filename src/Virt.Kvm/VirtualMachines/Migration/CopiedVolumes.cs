using Microsoft.Extensions.Logging;
using Virt.Storage;
using Virt.VirtualMachines;

namespace Virt.Kvm.VirtualMachines.Migration;

/// <summary>
/// Volumes on pools that only one host reaches (dir, btrfs: no <see cref="StorageCapabilities.Shared"/>), copied to
/// another host during a live migration like disks given by a file path. The destination creates a new volume of the
/// same id (<c>pool:name</c>) in its own pool of that name, so the VM keeps its spec; the source sends the sizes and,
/// when asked (<see cref="VmMigrationOptions.DeleteCopiedDisks"/>), deletes its own volume once the VM runs there.
/// Both sides reach the pools through the registered storage (the resolver that is also an <see cref="IStorageManager"/>,
/// as the SDK's <c>StorageManager</c> is).
/// </summary>
internal static class CopiedVolumes
{
    /// <summary>
    /// The source: the writable volume disks on pools without <see cref="StorageCapabilities.Shared"/>, which a migration to
    /// another host copies, each with its pool.
    /// </summary>
    public static async Task<IReadOnlyList<(VmDisk Disk, IStoragePool Pool)>> HostLocalAsync(IVolumeResolver? volumes, VmSpec spec, CancellationToken cancellationToken)
    {
        var named = spec.Disks.Where(disk => !disk.ReadOnly && VmSpecValidator.IsVolumeId(disk.Path)).ToList();
        if (named.Count == 0 || volumes is not IStorageManager storage)
        {
            return [];
        }

        var local = new List<(VmDisk, IStoragePool)>();
        foreach (var disk in named)
        {
            try
            {
                var pool = await storage.GetPoolAsync(VolumeId.Parse(disk.Path).Pool, cancellationToken).ConfigureAwait(false);
                if (!pool.Capabilities.HasFlag(StorageCapabilities.Shared))
                {
                    local.Add((disk, pool));
                }
            }
            catch (StoragePoolNotFoundException)
            {
                // Removed since the VM started: neither copied (the destination then refuses the disk) nor ever deleted.
            }
        }

        return local;
    }

    /// <summary>
    /// Refuses to copy a volume that has snapshots: the copy carries only the volume's current content, so the snapshots
    /// would be left behind (and lost with the source's copy), as Proxmox refuses too.
    /// </summary>
    public static async Task RequireNoSnapshotsAsync(string vmName, IReadOnlyList<(VmDisk Disk, IStoragePool Pool)> hostLocal, CancellationToken cancellationToken)
    {
        foreach (var (disk, pool) in hostLocal)
        {
            var id = VolumeId.Parse(disk.Path);
            var volume = await pool.GetVolumeAsync(id.Name, cancellationToken).ConfigureAwait(false);
            if (volume.Snapshots.Count > 0)
            {
                throw new VmMigrationException(vmName, $"disk '{disk.Id}' is the volume '{id}' on a pool only this host reaches, with snapshots {string.Join(", ", volume.Snapshots)}, which a copy to another host does not carry: delete them (or roll back and delete them) before migrating, or move the disk to an RBD pool defined on both hosts");
            }
        }
    }

    /// <summary>
    /// The destination: an empty volume for each copied volume disk, in this host's pool of the same name. Refuses, with
    /// the fix, a pool this host lacks and a volume it already has (never overwritten). All or nothing: a failure deletes
    /// the volumes this call made.
    /// </summary>
    /// <remarks>
    /// <c>record</c> is given the volumes made so far and the one about to be made (or none), before and after each
    /// creation, so that a process that dies part-way leaves a record of what to delete.
    /// </remarks>
    /// <returns>The volumes created, to delete again if the migration does not complete.</returns>
    public static async Task<IReadOnlyList<VolumeId>> CreateAsync(IVolumeResolver? volumes, string hostName, VmSpec spec, IReadOnlyDictionary<string, long> copies, Func<IReadOnlyList<VolumeId>, VolumeId?, Task> record, ILogger logger, CancellationToken cancellationToken)
    {
        var disks = spec.Disks.Where(disk => copies.ContainsKey(disk.Id) && VmSpecValidator.IsVolumeId(disk.Path)).ToList();
        if (disks.Count == 0)
        {
            return [];
        }

        if (volumes is not IStorageManager storage)
        {
            throw new VmMigrationException(spec.Name, $"disk '{disks[0].Id}' is the volume '{disks[0].Path}' on a pool only the source host reaches, copied into a new volume here, but no storage is registered on {hostName} to create it: register it with services.AddVirt().AddStorage() (or give the manager the StorageManager as its volume resolver)");
        }

        var created = new List<VolumeId>();
        try
        {
            foreach (var disk in disks)
            {
                var id = VolumeId.Parse(disk.Path);
                IStoragePool pool;
                try
                {
                    pool = await storage.GetPoolAsync(id.Pool, cancellationToken).ConfigureAwait(false);
                }
                catch (StoragePoolNotFoundException)
                {
                    throw new VmMigrationException(spec.Name, $"disk '{disk.Id}' is the volume '{id}' on a pool only the source host reaches; it is copied into this host's pool '{id.Pool}', which {hostName} does not have: define a pool '{id.Pool}' here (dir or btrfs), or move the disk to an RBD pool defined on both hosts");
                }

                if (await ExistsAsync(pool, id.Name, cancellationToken).ConfigureAwait(false))
                {
                    throw new VmMigrationException(spec.Name, $"disk '{disk.Id}' would be copied into the volume '{id}', but {hostName} already has a volume of that name, which is never overwritten: delete it there if it is an old copy (a migration away that kept its disks), or rename the VM's volume on the source");
                }

                await record(created, id).ConfigureAwait(false);
                try
                {
                    await pool.CreateVolumeAsync(new VolumeSpec(id.Name, copies[disk.Id]), cancellationToken).ConfigureAwait(false);
                }
                catch
                {
                    // Not made (another party may have made one of that name since the check): never recorded as ours.
                    await record(created, null).ConfigureAwait(false);
                    throw;
                }

                created.Add(id);
                await record(created, null).ConfigureAwait(false);
            }
        }
        catch
        {
            await DeleteAsync(volumes, created, spec.Name, logger).ConfigureAwait(false);
            throw;
        }

        return created;
    }

    /// <summary>Deletes volumes made for a copy (a migration that did not complete) or left behind by one (the source's, once asked). Never throws: logged.</summary>
    /// <returns>Whether every one is gone (false: no storage registered to delete them, or a delete failed).</returns>
    public static async Task<bool> DeleteAsync(IVolumeResolver? volumes, IEnumerable<VolumeId> ids, string vmName, ILogger logger)
    {
        var all = ids.ToList();
        if (volumes is not IStorageManager storage)
        {
            return all.Count == 0;
        }

        var gone = true;
        foreach (var id in all)
        {
            try
            {
                var pool = await storage.GetPoolAsync(id.Pool, CancellationToken.None).ConfigureAwait(false);
                await pool.DeleteVolumeAsync(id.Name, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception error) when (error is VolumeNotFoundException or StoragePoolNotFoundException)
            {
                // Gone already (with its pool, if the pool went).
            }
            catch (Exception error) when (error is not OperationCanceledException)
            {
                // On cleanup paths: a failure to delete is said, never raised over the error that led here.
                Log.CopiedVolumeNotDeleted(logger, vmName, id.ToString(), error.Message);
                gone = false;
            }
        }

        return gone;
    }

    private static async Task<bool> ExistsAsync(IStoragePool pool, string name, CancellationToken cancellationToken)
    {
        try
        {
            await pool.GetVolumeAsync(name, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (VolumeNotFoundException)
        {
            return false;
        }
    }
}
