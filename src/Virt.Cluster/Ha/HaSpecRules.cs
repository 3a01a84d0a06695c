using Virt.Storage;
using Virt.VirtualMachines;

namespace Virt.Cluster.Ha;

/// <summary>
/// What a VM needs to be restarted on another node: every disk on storage every node reaches (a pool that reports
/// <see cref="StorageCapabilities.Shared"/>, such as RBD), nothing tied to one host (host files, PCI devices, a TPM's
/// local state, local CD-ROM images).
/// </summary>
internal static class HaSpecRules
{
    public static async Task<IReadOnlyList<string>> ProblemsAsync(VmSpec spec, IStorageManager? storage, CancellationToken cancellationToken)
    {
        var problems = new List<string>();
        foreach (var disk in spec.Disks)
        {
            if (!VmSpecValidator.IsVolumeId(disk.Path) || !VolumeId.TryParse(disk.Path, out var volume))
            {
                problems.Add($"disk {disk.Id} is the host file {disk.Path}, which no other node has: put it on a shared pool (RBD) and name it pool:volume");
                continue;
            }

            if (storage is null)
            {
                problems.Add($"disk {disk.Id} is on pool {volume.Pool}, and without the storage backend (AddStorage()) this node cannot tell whether every node reaches it");
                continue;
            }

            var pool = await storage.GetPoolAsync(volume.Pool, cancellationToken).ConfigureAwait(false);
            if (!pool.Capabilities.HasFlag(StorageCapabilities.Shared))
            {
                problems.Add($"disk {disk.Id} is on pool {volume.Pool} ({pool.Definition.GetType().Name}), which is local to this host: HA needs a pool every node reaches (RBD)");
            }
        }

        if (spec.HostDevices.Count > 0)
        {
            problems.Add($"it passes through host PCI devices ({string.Join(", ", spec.HostDevices.Select(d => d.Address))}), which exist only on this host");
        }

        if (spec.Tpm)
        {
            problems.Add("its TPM keeps its state on this host");
        }

        if (spec.Cdroms.Count > 0)
        {
            problems.Add("it has CD-ROM images, which are files on this host: remove them");
        }

        return problems;
    }
}
