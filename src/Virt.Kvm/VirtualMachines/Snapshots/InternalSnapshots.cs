using System.Text.RegularExpressions;
using Virt.Kvm.Qmp;
using Virt.Kvm.Qmp.Api;
using Virt.VirtualMachines;

namespace Virt.Kvm.VirtualMachines.Snapshots;

/// <summary>
/// Live snapshots with RAM inside the VM's qcow2 disks, through QEMU's <c>snapshot-save</c>,
/// <c>snapshot-load</c> and <c>snapshot-delete</c> jobs (QEMU ≥ 6.0). The RAM goes into the first
/// writable disk; every writable disk gets the snapshot.
/// </summary>
internal static partial class InternalSnapshots
{
    public static void ValidateName(string vmName, string operation, string name)
    {
        if (name is null || !NamePattern().IsMatch(name) || name.All(char.IsAsciiDigit))
        {
            throw new VmSnapshotException(vmName, operation, name ?? "(null)", "a snapshot name is 1–63 characters of a-z A-Z 0-9 . _ -, starting with a letter or digit, and not all digits (QEMU reads those as snapshot ids)");
        }
    }

    /// <summary>The writable disks' node names; the first holds the RAM state.</summary>
    public static IReadOnlyList<string> Devices(VmSpec spec, string operation, string name)
    {
        var writable = spec.Disks.Where(d => !d.ReadOnly).ToList();
        if (writable.Count == 0)
        {
            throw new VmSnapshotException(spec.Name, operation, name, "the VM has no writable disk to hold the RAM state: add a qcow2 disk");
        }

        if (writable.FirstOrDefault(d => d.Format != VmDiskFormat.Qcow2) is { } raw)
        {
            throw new VmSnapshotException(spec.Name, operation, name, $"disk '{raw.Id}' is {raw.Format}: live snapshots are stored inside qcow2 images, so every writable disk must be qcow2 (convert it with qemu-img convert -O qcow2)");
        }

        return writable.Select(d => d.Id).ToList();
    }

    public static async Task<IReadOnlyList<VmSnapshot>> ListAsync(QmpClient qmp, IReadOnlyList<string> devices, CancellationToken cancellationToken)
    {
        var nodes = await qmp.QueryNamedBlockNodesAsync(new QueryNamedBlockNodesArguments { Flat = true }, cancellationToken).ConfigureAwait(false);
        var state = nodes.FirstOrDefault(n => n.NodeName == devices[0]);
        return (state?.Image.Snapshots ?? [])
            .Select(s => new VmSnapshot(
                s.Name,
                DateTimeOffset.FromUnixTimeSeconds(s.DateSec).AddTicks(s.DateNsec / 100),
                s.VmStateSize,
                TimeSpan.FromSeconds(s.VmClockSec) + TimeSpan.FromTicks(s.VmClockNsec / 100)))
            .OrderBy(s => s.CreatedAt)
            .ToList();
    }

    public static async Task SaveAsync(QmpClient qmp, string vmName, string name, IReadOnlyList<string> devices, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if ((await ListAsync(qmp, devices, cancellationToken).ConfigureAwait(false)).Any(s => s.Name == name))
        {
            throw new VmSnapshotException(vmName, "save", name, "a snapshot of that name exists: delete it first or choose another name");
        }

        var jobId = "virt-snapshot-save-" + name;
        var error = await QmpJobs.RunAsync(qmp, jobId, ct => qmp.SnapshotSaveAsync(new SnapshotSaveArguments { JobId = jobId, Tag = name, Vmstate = devices[0], Devices = devices }, ct), timeout, cancellationToken).ConfigureAwait(false);
        if (error is not null)
        {
            throw new VmSnapshotException(vmName, "save", name, $"QEMU's snapshot-save failed: {error}");
        }
    }

    public static async Task LoadAsync(QmpClient qmp, string vmName, string name, IReadOnlyList<string> devices, TimeSpan timeout, CancellationToken cancellationToken)
    {
        await EnsureExistsAsync(qmp, vmName, "restore", name, devices, cancellationToken).ConfigureAwait(false);
        var jobId = "virt-snapshot-load-" + name;
        var error = await QmpJobs.RunAsync(qmp, jobId, ct => qmp.SnapshotLoadAsync(new SnapshotLoadArguments { JobId = jobId, Tag = name, Vmstate = devices[0], Devices = devices }, ct), timeout, cancellationToken).ConfigureAwait(false);
        if (error is not null)
        {
            throw new VmSnapshotException(vmName, "restore", name, $"QEMU's snapshot-load failed: {error}");
        }
    }

    public static async Task DeleteAsync(QmpClient qmp, string vmName, string name, IReadOnlyList<string> devices, TimeSpan timeout, CancellationToken cancellationToken)
    {
        await EnsureExistsAsync(qmp, vmName, "delete", name, devices, cancellationToken).ConfigureAwait(false);
        var jobId = "virt-snapshot-delete-" + name;
        var error = await QmpJobs.RunAsync(qmp, jobId, ct => qmp.SnapshotDeleteAsync(new SnapshotDeleteArguments { JobId = jobId, Tag = name, Devices = devices }, ct), timeout, cancellationToken).ConfigureAwait(false);
        if (error is not null)
        {
            throw new VmSnapshotException(vmName, "delete", name, $"QEMU's snapshot-delete failed: {error}");
        }
    }

    private static async Task EnsureExistsAsync(QmpClient qmp, string vmName, string operation, string name, IReadOnlyList<string> devices, CancellationToken cancellationToken)
    {
        var snapshots = await ListAsync(qmp, devices, cancellationToken).ConfigureAwait(false);
        if (snapshots.All(s => s.Name != name))
        {
            throw new VmSnapshotException(vmName, operation, name, $"there is no such snapshot (the VM has: {(snapshots.Count == 0 ? "none" : string.Join(", ", snapshots.Select(s => s.Name)))})");
        }
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,62}\\z")]
    private static partial Regex NamePattern();
}
