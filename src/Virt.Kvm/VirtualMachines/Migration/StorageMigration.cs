using System.Globalization;
using System.IO.Abstractions;
using Virt.Kvm.Qmp;
using Virt.Kvm.Qmp.Api;
using Virt.Kvm.VirtualMachines.Snapshots;
using Virt.Processes;
using Virt.VirtualMachines;

namespace Virt.Kvm.VirtualMachines.Migration;

/// <summary>
/// Storage migration to new images on this host: the destination QEMU opens the new images and
/// exports them over NBD (a unix socket in its staging directory); the source mirrors each disk into
/// its export with <c>blockdev-mirror</c> (sync full) until the jobs are ready, then RAM migrates as
/// usual; once QEMU reports completion the mirror jobs are cancelled (in ready state that completes
/// them without switching the source over) and the NBD server stops before the destination resumes.
/// </summary>
internal static class StorageMigration
{
    public static VmSpec TargetSpec(IFileSystem fileSystem, VmSpec spec, IReadOnlyDictionary<string, string> moves, string vmName)
    {
        foreach (var (diskId, path) in moves)
        {
            var disk = spec.Disks.FirstOrDefault(d => d.Id == diskId) ?? throw new VmMigrationException(vmName, $"MoveDisks names '{diskId}', which is not a disk of the VM");
            if (disk.ReadOnly)
            {
                throw new VmMigrationException(vmName, $"disk '{diskId}' is read-only: share it instead of moving it");
            }

            if (path is null || !Path.IsPathFullyQualified(path) || path.Split('/').Contains("..") || path.AsSpan().IndexOfAny('\n', '\r', '\0') >= 0 || fileSystem.File.Exists(path))
            {
                throw new VmMigrationException(vmName, $"'{path}' for disk '{diskId}' must be a new absolute path without '..' or control characters");
            }
        }

        return spec with { Disks = spec.Disks.Select(d => moves.TryGetValue(d.Id, out var path) ? d with { Path = path, Format = VmDiskFormat.Qcow2 } : d).ToList() };
    }

    public static async Task CreateTargetsAsync(IFileSystem fileSystem, QmpClient source, IProcessRunner processes, string vmName, IReadOnlyDictionary<string, string> moves, CancellationToken cancellationToken)
    {
        var created = new List<string>();
        try
        {
            foreach (var (diskId, path) in moves)
            {
                var (_, size, _) = await ExternalSnapshots.ActiveNodeAsync(source, vmName, diskId, cancellationToken).ConfigureAwait(false);
                (await processes.RunAsync(new ProcessSpec("qemu-img", ["create", "-q", "-f", "qcow2", path, size.ToString(CultureInfo.InvariantCulture)]), cancellationToken).ConfigureAwait(false)).EnsureSuccess();
                created.Add(path);
            }
        }
        catch
        {
            created.ForEach(fileSystem.File.Delete);
            throw;
        }
    }

    /// <summary>The source's NBD client node (and its mirror job's id) for a disk.</summary>
    public static string MirrorNode(string diskId) => "virt-mirror-" + diskId;

    public static async Task MirrorAsync(QmpClient source, QmpClient destination, string vmName, IReadOnlyList<string> diskIds, string nbdSocket, TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
    {
        if (diskIds.Count == 0)
        {
            return;
        }

        await destination.NbdServerStartAsync(
            new NbdServerStartArguments { Addr = new ChardevAddArgumentsBackendSocketDataAddrUnix { Data = new ChardevAddArgumentsBackendSocketDataAddrUnixData { Path = nbdSocket } } },
            cancellationToken).ConfigureAwait(false);
        foreach (var diskId in diskIds)
        {
            await destination.BlockExportAddAsync(new BlockExportAddArgumentsNbd { Id = "virt-export-" + diskId, NodeName = diskId, Writable = true, Name = diskId }, cancellationToken).ConfigureAwait(false);
        }

        var targets = diskIds.ToDictionary(
            diskId => diskId,
            diskId => new BlockdevAddArgumentsNbd { NodeName = MirrorNode(diskId), Server = new BlockExportAddArgumentsVhostUserBlkAddrUnix { Path = nbdSocket }, Export = diskId });
        await MirrorIntoAsync(source, vmName, targets, timeout, time, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The source's half, wherever the exports are (this host's unix socket, another host over TCP and TLS): opens each
    /// disk's NBD client node (named <see cref="MirrorNode"/>), mirrors the disk's active node into it (sync full), and
    /// returns once every job is ready, i.e. the copy has caught up and follows the guest's writes.
    /// </summary>
    public static async Task MirrorIntoAsync(QmpClient source, string vmName, IReadOnlyDictionary<string, BlockdevAddArgumentsNbd> targets, TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
    {
        await StartMirrorsAsync(source, vmName, targets, cancellationToken).ConfigureAwait(false);
        var started = time.GetTimestamp();
        while (await MirrorProgressAsync(source, vmName, targets.Count, cancellationToken).ConfigureAwait(false) is not null)
        {
            CheckMirrorTime(vmName, time.GetElapsedTime(started), timeout);
            await Task.Delay(MirrorPollInterval, time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>How often the source looks at its mirrors while they catch up.</summary>
    public static readonly TimeSpan MirrorPollInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>Opens each disk's NBD client node and starts its mirror (sync full); the jobs then catch up on their own.</summary>
    public static async Task StartMirrorsAsync(QmpClient source, string vmName, IReadOnlyDictionary<string, BlockdevAddArgumentsNbd> targets, CancellationToken cancellationToken)
    {
        foreach (var (diskId, target) in targets)
        {
            await source.BlockdevAddAsync(target, cancellationToken).ConfigureAwait(false);
            var (active, _, _) = await ExternalSnapshots.ActiveNodeAsync(source, vmName, diskId, cancellationToken).ConfigureAwait(false);
            await source.BlockdevMirrorAsync(
                new BlockdevMirrorArguments { JobId = MirrorNode(diskId), Device = active, Target = MirrorNode(diskId), Sync = BlockdevBackupArgumentsSync.Full },
                cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>One look at the <paramref name="count"/> mirrors: null once every one is ready, else the bytes copied so far of the disks' total.</summary>
    public static async Task<(long Copied, long Total)?> MirrorProgressAsync(QmpClient source, string vmName, int count, CancellationToken cancellationToken)
    {
        var jobs = (await source.QueryBlockJobsAsync(cancellationToken).ConfigureAwait(false)).Where(j => j.Device.StartsWith("virt-mirror-", StringComparison.Ordinal)).ToList();
        if (jobs.Count < count)
        {
            throw new VmMigrationException(vmName, "a disk mirror ended before it was ready; see the VM's qemu.log");
        }

        return jobs.All(j => j.Ready) ? null : (jobs.Sum(j => j.Offset), jobs.Sum(j => j.Len));
    }

    /// <summary>Throws once the copies have taken longer than the migration may.</summary>
    public static void CheckMirrorTime(string vmName, TimeSpan elapsed, TimeSpan timeout)
    {
        if (elapsed > timeout)
        {
            throw new VmMigrationException(vmName, $"the disks were not copied within {timeout}");
        }
    }

    /// <summary>After RAM migration completed: end the mirrors without switching the source over, stop the NBD server.</summary>
    public static async Task FinishAsync(QmpClient source, QmpClient destination, IReadOnlyList<string> diskIds)
    {
        if (diskIds.Count == 0)
        {
            return;
        }

        await EndMirrorsAsync(source, diskIds).ConfigureAwait(false);
        await destination.NbdServerStopAsync(CancellationToken.None).ConfigureAwait(false);
    }

    /// <summary>
    /// Ends ready mirrors without switching the source over: a cancel of a ready job first copies what is still dirty,
    /// so once QEMU reports each job completed without an error, the copy holds every write the guest made.
    /// </summary>
    /// <returns>Each disk whose job ended with an error, and QEMU's error; empty when every copy is complete.</returns>
    public static async Task<IReadOnlyList<string>> EndMirrorsAsync(QmpClient source, IReadOnlyList<string> diskIds)
    {
        var failed = new List<string>();
        foreach (var diskId in diskIds)
        {
            var ended = source.WaitForEventAsync("BLOCK_JOB_COMPLETED", e => e.GetString("device") == MirrorNode(diskId), TimeSpan.FromMinutes(1));
            await source.BlockJobCancelAsync(new BlockJobCancelArguments { Device = MirrorNode(diskId) }, CancellationToken.None).ConfigureAwait(false);
            if ((await ended.ConfigureAwait(false)).GetString("error") is { } error)
            {
                failed.Add($"'{diskId}': {error}");
            }
        }

        return failed;
    }

    /// <summary>After a failure: cancel the mirrors and remove their NBD client nodes on the source.</summary>
    public static async Task AbandonAsync(QmpClient source, IReadOnlyList<string> diskIds)
    {
        foreach (var diskId in diskIds)
        {
            try
            {
                await source.BlockJobCancelAsync(new BlockJobCancelArguments { Device = MirrorNode(diskId), Force = true }, CancellationToken.None).ConfigureAwait(false);

                // The job holds its target node until it has ended; only then can the node go.
                for (var i = 0; i < 100 && (await source.QueryBlockJobsAsync(CancellationToken.None).ConfigureAwait(false)).Any(j => j.Device == MirrorNode(diskId)); i++)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(50)).ConfigureAwait(false);
                }
            }
            catch (QmpException)
            {
                // No such job.
            }
            catch (QmpConnectionException)
            {
                // The source is gone: nothing of it is left to clean.
                return;
            }

            await BlockNodes.RemoveAsync(source, new Stack<string>([MirrorNode(diskId)])).ConfigureAwait(false);
        }
    }

    public static void DeleteTargets(IFileSystem fileSystem, IReadOnlyDictionary<string, string> moves)
    {
        foreach (var path in moves.Values)
        {
            fileSystem.File.Delete(path);
        }
    }
}
