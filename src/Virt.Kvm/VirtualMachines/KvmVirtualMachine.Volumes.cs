using Virt.Storage;

namespace Virt.Kvm.VirtualMachines;

/// <summary>
/// Disks that name a storage volume (<c>pool:name</c>): resolved through <see cref="IVolumeResolver"/> at
/// each start — which also marks them in use, so the storage layer refuses to delete or roll them back
/// under the VM — and released when QEMU is gone (stop, crash, failed start, a stale record found).
/// </summary>
internal sealed partial class KvmVirtualMachine
{
    private string VolumeUser => "vm:" + Name;

    /// <summary>The spec with every volume disk turned into its file and format (the spec itself when it names none), and the disks that are RBD images.</summary>
    private async Task<(Virt.VirtualMachines.VmSpec Spec, Dictionary<string, RbdLocation> Rbd)> ResolveVolumesAsync(VolumeAcquireOptions? acquireOptions, CancellationToken cancellationToken)
    {
        var rbd = new Dictionary<string, RbdLocation>(StringComparer.Ordinal);
        var named = Spec.Disks.Where(disk => Virt.VirtualMachines.VmSpecValidator.IsVolumeId(disk.Path)).ToList();
        if (named.Count == 0)
        {
            return (Spec, rbd);
        }

        if (_environment.Volumes is null)
        {
            throw new Virt.VirtualMachines.VmStartException(Name, $"cannot start VM '{Name}': disk '{named[0].Id}' names the storage volume '{named[0].Path}', but no storage is registered: call services.AddVirt().AddStorage() (or give the manager an IVolumeResolver)", null, string.Empty);
        }

        var disks = new List<Virt.VirtualMachines.VmDisk>();
        try
        {
            foreach (var disk in Spec.Disks)
            {
                if (!named.Contains(disk))
                {
                    disks.Add(disk);
                    continue;
                }

                // A migration's destination joins the source's cross-host lock instead of being refused by it.
                var attachment = acquireOptions is null
                    ? await _environment.Volumes.AcquireAsync(VolumeId.Parse(disk.Path), VolumeUser, cancellationToken).ConfigureAwait(false)
                    : await _environment.Volumes.AcquireAsync(VolumeId.Parse(disk.Path), VolumeUser, acquireOptions, cancellationToken).ConfigureAwait(false);
                if (attachment.Rbd is not null)
                {
                    rbd[disk.Id] = attachment.Rbd;
                }

                disks.Add(disk with { Path = attachment.Path, Format = attachment.Format == VolumeFormat.Qcow2 ? Virt.VirtualMachines.VmDiskFormat.Qcow2 : Virt.VirtualMachines.VmDiskFormat.Raw });
            }
        }
        catch
        {
            await ReleaseVolumesAsync().ConfigureAwait(false);
            throw;
        }

        return (Spec with { Disks = disks }, rbd);
    }

    /// <summary>
    /// Before the guest may write (QEMU still paused): the storage records QEMU's clients of each RBD disk for fencing, so
    /// a host that dies from here on cannot leave a QEMU that fencing does not know of.
    /// </summary>
    private async Task ConfirmVolumesOpenedAsync(IReadOnlyDictionary<string, RbdLocation> rbdDisks, CancellationToken cancellationToken)
    {
        foreach (var disk in Spec.Disks.Where(disk => rbdDisks.ContainsKey(disk.Id)))
        {
            await _environment.Volumes!.ConfirmOpenedAsync(VolumeId.Parse(disk.Path), VolumeUser, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Marks the VM's volumes free again. Idempotent; never throws (it runs on cleanup paths).</summary>
    private async Task ReleaseVolumesAsync()
    {
        if (_environment.Volumes is null)
        {
            return;
        }

        foreach (var disk in Spec.Disks.Where(disk => Virt.VirtualMachines.VmSpecValidator.IsVolumeId(disk.Path)))
        {
            try
            {
                await _environment.Volumes.ReleaseAsync(VolumeId.Parse(disk.Path), VolumeUser, CancellationToken.None).ConfigureAwait(false);
            }
            catch (VirtException)
            {
                // The pool or volume is gone: nothing is left to mark.
            }
        }
    }
}
