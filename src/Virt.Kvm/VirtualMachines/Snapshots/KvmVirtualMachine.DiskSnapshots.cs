using System.Runtime.CompilerServices;
using Virt.Kvm.GuestAgent;
using Virt.Kvm.Qmp;
using Virt.Kvm.Qmp.Api;
using Virt.Kvm.VirtualMachines.Snapshots;
using Virt.VirtualMachines;

namespace Virt.Kvm.VirtualMachines;

/// <summary>Disk-only external snapshots and block commit of a running VM's disks.</summary>
internal sealed partial class KvmVirtualMachine
{
    public async Task<VmDiskSnapshot> CreateDiskSnapshotAsync(string diskId, string overlayPath, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(overlayPath);
        var disk = WritableDisk(diskId, "snapshot disk");
        VmDiskSnapshot? snapshot = null;
        await RunCommandAsync("snapshot disk", async (qmp, ct) =>
        {
            var frozen = false;
            await ExternalSnapshots.CreateAsync(_environment.FileSystem, qmp, _environment.Processes, Name, disk, overlayPath, async t => frozen = await TryFreezeAsync(t).ConfigureAwait(false), ThawQuietlyAsync, ct).ConfigureAwait(false);
            await StoreSpecAsync(Spec with { Disks = Spec.Disks.Select(d => d.Id == diskId ? d with { Path = overlayPath, Format = VmDiskFormat.Qcow2 } : d).ToList() }).ConfigureAwait(false);
            snapshot = new VmDiskSnapshot(diskId, disk.Path, overlayPath, frozen);
        }, cancellationToken).ConfigureAwait(false);
        return snapshot!;
    }

    public async IAsyncEnumerable<VmBlockJobProgress> CommitDiskAsync(string diskId, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var disk = WritableDisk(diskId, "commit disk");
        using var held = await _lock.AcquireAsync("commit disk", cancellationToken).ConfigureAwait(false);
        await RefreshAsync(cancellationToken).ConfigureAwait(false);
        if (_running is not { } running)
        {
            throw new VmStateException(Name, "commit disk", _state, "start it first");
        }

        var monitor = await LeaseMonitorAsync(running, "commit disk", cancellationToken).ConfigureAwait(false);
        await using var leased = monitor.ConfigureAwait(false);
        var qmp = monitor.Client;
        var (active, _, backing) = await ExternalSnapshots.ActiveNodeAsync(qmp, Name, diskId, cancellationToken).ConfigureAwait(false);
        var level = ExternalSnapshots.OverlayLevel(diskId, active);
        if (level == 0 || backing is null)
        {
            throw new VmSnapshotException(Name, "commit disk", diskId, "the disk has no overlay from Disks.CreateSnapshotAsync to commit");
        }

        var baseNode = level == 1 ? disk.Id : $"{disk.Id}-s{level - 1}";
        var jobId = $"virt-commit-{diskId}";
        var completed = qmp.WaitForEventAsync<BlockJobCompletedEvent>(e => e.Device == jobId, TimeSpan.FromHours(6), CancellationToken.None);
        try
        {
            await qmp.BlockCommitAsync(new BlockCommitArguments { JobId = jobId, Device = active, BaseNode = baseNode }, cancellationToken).ConfigureAwait(false);
        }
        catch (QmpException ex)
        {
            _ = completed.ContinueWith(static t => _ = t.Exception, TaskScheduler.Default);
            throw new VmSnapshotException(Name, "commit disk", diskId, $"QEMU refused block-commit: {ex.Description}", ex);
        }

        while (await PollCommitAsync(qmp, jobId, cancellationToken).ConfigureAwait(false) is { } progress)
        {
            yield return progress;
            await Task.Delay(TimeSpan.FromMilliseconds(100), _environment.Time, CancellationToken.None).ConfigureAwait(false);
        }

        var done = await completed.ConfigureAwait(false);
        if (done.Error is { } error)
        {
            throw new VmSnapshotException(Name, "commit disk", diskId, $"block-commit failed: {error}; the overlay stays active");
        }

        await BlockNodes.RemoveAsync(qmp, new Stack<string>([$"virt-file-{active}", active])).ConfigureAwait(false);
        _environment.FileSystem.File.Delete(disk.Path);
        await StoreSpecAsync(Spec with { Disks = Spec.Disks.Select(d => d.Id == diskId ? d with { Path = backing } : d).ToList() }).ConfigureAwait(false);
        yield return new VmBlockJobProgress(jobId, "completed", done.Offset, done.Len);
    }

    /// <summary>One report of the commit job, completing it once it is ready; null once it is gone. Cancelling cancels the job.</summary>
    private static async Task<VmBlockJobProgress?> PollCommitAsync(QmpClient qmp, string jobId, CancellationToken cancellationToken)
    {
        try
        {
            var job = (await qmp.QueryBlockJobsAsync(cancellationToken).ConfigureAwait(false)).FirstOrDefault(j => j.Device == jobId);
            if (job is null)
            {
                return null;
            }

            if (job.Ready)
            {
                await qmp.JobCompleteAsync(new JobCompleteArguments { Id = jobId }, cancellationToken).ConfigureAwait(false);
            }

            return new VmBlockJobProgress(jobId, job.Status.Value, job.Offset, job.Len);
        }
        catch (OperationCanceledException)
        {
            try
            {
                await qmp.BlockJobCancelAsync(new BlockJobCancelArguments { Device = jobId, Force = true }, CancellationToken.None).ConfigureAwait(false);
            }
            catch (QmpException)
            {
                // Already finished.
            }

            throw;
        }
    }

    private VmDisk WritableDisk(string diskId, string operation)
    {
        var disk = Spec.Disks.FirstOrDefault(d => d.Id == diskId)
            ?? throw new VmSnapshotException(Name, operation, diskId, $"the VM has no such disk (it has: {string.Join(", ", Spec.Disks.Select(d => d.Id))})");
        return disk.ReadOnly ? throw new VmSnapshotException(Name, operation, diskId, "the disk is read-only: there is nothing to snapshot or commit") : disk;
    }

    private async Task<bool> TryFreezeAsync(CancellationToken cancellationToken)
    {
        if (!Spec.GuestAgent)
        {
            return false;
        }

        try
        {
            await _guest.FreezeFileSystemsAsync(cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is VmGuestAgentUnavailableException or GuestAgentException)
        {
            return false;
        }
    }

    private async Task ThawQuietlyAsync()
    {
        try
        {
            await _guest.ThawFileSystemsAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is VmGuestAgentUnavailableException or GuestAgentException)
        {
            // The snapshot is taken; a thaw the agent refuses leaves nothing frozen to report.
        }
    }
}
