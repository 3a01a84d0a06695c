using System.IO.Abstractions;
using System.Text.Json;
using Virt.Kvm.Qmp;
using Virt.Kvm.Qmp.Api;
using Virt.VirtualMachines;

namespace Virt.Kvm.VirtualMachines.Hotplug;

/// <summary>
/// Disk hotplug with the node names the command line uses (<c>virt-file-ID</c> under the format node
/// <c>ID</c>, device <c>ID</c>), so a disk plugged at run time looks like one given at start.
/// </summary>
internal static class DiskHotplug
{
    public static async Task AttachAsync(IFileSystem fileSystem, QmpClient qmp, string vmName, VmDisk disk, CancellationToken cancellationToken)
    {
        const string Operation = "attach disk";
        if (disk.Bus != VmDiskBus.VirtioBlk)
        {
            throw new VmHotplugException(vmName, Operation, disk.Id, $"only virtio-blk disks can be hotplugged ({disk.Bus} cannot on q35); set Bus = VirtioBlk or add it while the VM is stopped");
        }

        if (!fileSystem.File.Exists(disk.Path))
        {
            throw new VmHotplugException(vmName, Operation, disk.Id, $"the image '{disk.Path}' does not exist; create it first");
        }

        var port = await HotplugPorts.FindFreeAsync(qmp, cancellationToken).ConfigureAwait(false)
            ?? throw new VmHotplugException(vmName, Operation, disk.Id, "no free hotplug root port; raise VmSpec.HotplugPorts (takes effect at the next start) or detach a device");
        var cache = disk.Cache switch
        {
            VmDiskCache.None => new BlockdevAddArgumentsCache { Direct = true, NoFlush = false },
            VmDiskCache.Writeback or VmDiskCache.Writethrough => new BlockdevAddArgumentsCache { Direct = false, NoFlush = false },
            VmDiskCache.DirectSync => new BlockdevAddArgumentsCache { Direct = true, NoFlush = false },
            _ => new BlockdevAddArgumentsCache { Direct = false, NoFlush = true },
        };
        var fileNode = "virt-file-" + disk.Id;
        var file = new BlockdevAddArgumentsFile { NodeName = fileNode, Filename = disk.Path, Cache = cache, ReadOnly = disk.ReadOnly };
        var fileRef = new BlockdevAddArgumentsBlkdebugImage(fileNode);
        BlockdevAddArguments format = disk.Format == VmDiskFormat.Qcow2
            ? new BlockdevAddArgumentsQcow2 { NodeName = disk.Id, File = fileRef, Cache = cache, ReadOnly = disk.ReadOnly }
            : new BlockdevAddArgumentsRaw { NodeName = disk.Id, File = fileRef, Cache = cache, ReadOnly = disk.ReadOnly };
        var writeCache = disk.Cache is VmDiskCache.Writethrough or VmDiskCache.DirectSync ? "off" : "on";

        var added = new Stack<string>();
        try
        {
            await qmp.BlockdevAddAsync(file, cancellationToken).ConfigureAwait(false);
            added.Push(fileNode);
            await qmp.BlockdevAddAsync(format, cancellationToken).ConfigureAwait(false);
            added.Push(disk.Id);
            await qmp.DeviceAddAsync(
                new DeviceAddArguments
                {
                    Driver = "virtio-blk-pci",
                    Id = disk.Id,
                    Bus = port,
                    ExtensionData = new()
                    {
                        ["drive"] = JsonSerializer.SerializeToElement(disk.Id, QmpApiJson.TypeInfo<string>()),
                        ["write-cache"] = JsonSerializer.SerializeToElement(writeCache, QmpApiJson.TypeInfo<string>()),
                    },
                },
                cancellationToken).ConfigureAwait(false);
        }
        catch (QmpException ex)
        {
            // Roll back the nodes made so far: no half-attached disk stays behind.
            await BlockNodes.RemoveAsync(qmp, added).ConfigureAwait(false);
            throw new VmHotplugException(vmName, Operation, disk.Id, $"QEMU refused '{ex.Command}': {ex.Description}", ex);
        }
        catch
        {
            await BlockNodes.RemoveAsync(qmp, added).ConfigureAwait(false);
            throw;
        }
    }

    public static async Task DetachAsync(QmpClient qmp, string vmName, string diskId, TimeSpan deadline, TimeProvider time, CancellationToken cancellationToken)
    {
        await DeviceUnplug.RunAsync(qmp, vmName, "detach disk", diskId, deadline, time, cancellationToken).ConfigureAwait(false);
        await BlockNodes.RemoveAsync(qmp, new Stack<string>(["virt-file-" + diskId, diskId])).ConfigureAwait(false);
    }
}
