using System.IO.Abstractions;
using Virt.Containers;
using Virt.Processes;
using Virt.Storage;

namespace Virt.Lxc.Rootfs;

/// <summary>
/// A rootfs on a storage volume: the raw image gets an ext4 file system, is loop-mounted on a staging
/// directory while the rootfs is built into it, then unmounted; LXC mounts it itself at each start
/// (<c>lxc.rootfs.path = loop:IMAGE</c>). The volume stays marked in use by the container.
/// </summary>
internal static class VolumeRootfs
{
    public static string UserOf(string containerName) => "ct:" + containerName;

    public static async Task<(string Image, ContainerInit? ImageInit)> BuildAsync(IFileSystem fileSystem, ContainerSpec spec, IVolumeResolver? volumes, string staging, int idShift, int idLimit, string busybox, IProcessRunner processes, CancellationToken cancellationToken)
    {
        var id = VolumeId.Parse(spec.RootfsVolume!);
        if (volumes is null)
        {
            throw new ContainerRootfsException(spec.Name, spec.RootfsVolume!, "the rootfs names a storage volume, but no storage is registered: call services.AddVirt().AddStorage() (or give the manager an IVolumeResolver)");
        }

        var attachment = await volumes.AcquireAsync(id, UserOf(spec.Name), cancellationToken).ConfigureAwait(false);
        var mounted = false;
        try
        {
            if (attachment.Rbd is not null || attachment.Format != VolumeFormat.Raw)
            {
                throw new ContainerRootfsException(spec.Name, spec.RootfsVolume!, $"a container rootfs needs a raw volume in a dir or btrfs pool that the kernel can loop-mount ({(attachment.Rbd is not null ? "an RBD image would need the kernel's rbd module, which this host lacks" : "this one is qcow2")}): create it with Format = VolumeFormat.Raw");
            }

            await RunAsync(processes, "mkfs.ext4", ["-q", "-F", "-E", $"root_owner={idShift}:{idShift}", attachment.Path], spec, cancellationToken).ConfigureAwait(false);
            fileSystem.Directory.CreateDirectory(staging);
            await RunAsync(processes, "mount", ["-o", "loop", attachment.Path, staging], spec, cancellationToken).ConfigureAwait(false);
            mounted = true;
            var init = await RootfsBuilder.BuildAsync(fileSystem, spec, staging, idShift, idLimit, busybox, processes, cancellationToken).ConfigureAwait(false);
            await RunAsync(processes, "umount", [staging], spec, CancellationToken.None).ConfigureAwait(false);
            mounted = false;
            fileSystem.Directory.Delete(staging);
            return (attachment.Path, init);
        }
        catch
        {
            if (mounted)
            {
                await processes.RunAsync(new ProcessSpec("umount", [staging]), CancellationToken.None).ConfigureAwait(false);
            }

            await volumes.ReleaseAsync(id, UserOf(spec.Name), CancellationToken.None).ConfigureAwait(false);
            throw;
        }
    }

    private static async Task RunAsync(IProcessRunner processes, string tool, IReadOnlyList<string> arguments, ContainerSpec spec, CancellationToken cancellationToken)
    {
        var result = await processes.RunAsync(new ProcessSpec(tool, arguments) { Timeout = TimeSpan.FromMinutes(2) }, cancellationToken).ConfigureAwait(false);
        if (result.ExitCode != 0)
        {
            throw new ContainerRootfsException(spec.Name, spec.RootfsVolume!, $"'{result.Spec.CommandLine}' failed (exit {result.ExitCode}): {result.StandardError.Trim()}");
        }
    }
}
