using System.Globalization;
using System.IO.Abstractions;
using Virt.Kvm.Qmp;
using Virt.Kvm.Qmp.Api;
using Virt.Processes;
using Virt.VirtualMachines;

namespace Virt.Kvm.VirtualMachines.Snapshots;

/// <summary>
/// Disk-only external snapshots and block commit. The overlay is created by qemu-img without opening
/// the image in use (<c>-u</c>, size from QEMU), added as nodes <c>ID-sN</c> / <c>virt-file-ID-sN</c>
/// with no backing opened, then made the device's active layer with <c>blockdev-snapshot</c>.
/// </summary>
internal static class ExternalSnapshots
{
    /// <summary>The device's active node and the image it reads.</summary>
    public static async Task<(string Node, long VirtualSize, string? BackingFile)> ActiveNodeAsync(QmpClient qmp, string vmName, string diskId, CancellationToken cancellationToken)
    {
        var devices = await qmp.QueryBlockAsync(cancellationToken).ConfigureAwait(false);
        // A -blockdev disk has no legacy device name; its qdev path is /machine/peripheral/ID (virtio-blk adds /virtio-backend).
        var device = devices.FirstOrDefault(d => d.Qdev == diskId
            || d.Qdev?.EndsWith("/peripheral/" + diskId, StringComparison.Ordinal) == true
            || d.Qdev?.Contains("/peripheral/" + diskId + "/", StringComparison.Ordinal) == true);
        if (device?.Inserted is not { NodeName: { } node } inserted)
        {
            throw new VmSnapshotException(vmName, "snapshot disk", diskId, "QEMU lists no such running disk; check the id");
        }

        return (node, inserted.Image.VirtualSize, inserted.Image.FullBackingFilename ?? inserted.Image.BackingFilename);
    }

    /// <summary>How many overlays stand on the disk's image: 0 while its own node <c>ID</c> is active, N for <c>ID-sN</c>.</summary>
    public static int OverlayLevel(string diskId, string activeNode) =>
        activeNode == diskId ? 0 : int.Parse(activeNode[(activeNode.LastIndexOf("-s", StringComparison.Ordinal) + 2)..], CultureInfo.InvariantCulture);

    public static async Task CreateAsync(IFileSystem fileSystem, QmpClient qmp, IProcessRunner processes, string vmName, VmDisk disk, string overlayPath, Func<CancellationToken, Task<bool>> freeze, Func<Task> thaw, CancellationToken cancellationToken)
    {
        const string Operation = "snapshot disk";
        if (!Path.IsPathFullyQualified(overlayPath) || overlayPath.AsSpan().IndexOfAny('\n', '\r', '\0') >= 0 || overlayPath.Split('/').Contains(".."))
        {
            throw new VmSnapshotException(vmName, Operation, disk.Id, $"'{overlayPath}' must be an absolute path without '..' or control characters");
        }

        if (fileSystem.File.Exists(overlayPath))
        {
            throw new VmSnapshotException(vmName, Operation, disk.Id, $"'{overlayPath}' exists; choose a new file for the overlay");
        }

        var (active, size, _) = await ActiveNodeAsync(qmp, vmName, disk.Id, cancellationToken).ConfigureAwait(false);
        var level = OverlayLevel(disk.Id, active) + 1;
        var node = $"{disk.Id}-s{level}";
        var fileNode = $"virt-file-{disk.Id}-s{level}";
        var format = disk.Format == VmDiskFormat.Qcow2 ? "qcow2" : "raw";
        var created = await processes.RunAsync(
            new ProcessSpec("qemu-img", ["create", "-q", "-f", "qcow2", "-u", "-b", disk.Path, "-F", format, overlayPath, size.ToString(CultureInfo.InvariantCulture)]),
            cancellationToken).ConfigureAwait(false);
        if (created.ExitCode != 0)
        {
            throw new VmSnapshotException(vmName, Operation, disk.Id, $"qemu-img could not create the overlay: {created.StandardError.Trim()}");
        }

        var added = new Stack<string>();
        var frozen = false;
        try
        {
            await qmp.BlockdevAddAsync(new BlockdevAddArgumentsFile { NodeName = fileNode, Filename = overlayPath }, cancellationToken).ConfigureAwait(false);
            added.Push(fileNode);
            await qmp.BlockdevAddAsync(
                new BlockdevAddArgumentsQcow2 { NodeName = node, File = new BlockdevAddArgumentsBlkdebugImage(fileNode), Backing = BlockdevAddArgumentsQcow2Backing.Null },
                cancellationToken).ConfigureAwait(false);
            added.Push(node);
            frozen = await freeze(cancellationToken).ConfigureAwait(false);
            await qmp.BlockdevSnapshotAsync(new BlockdevSnapshotArguments { Node = active, Overlay = node }, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            await BlockNodes.RemoveAsync(qmp, added).ConfigureAwait(false);
            fileSystem.File.Delete(overlayPath);
            throw ex is QmpException qmpError
                ? new VmSnapshotException(vmName, Operation, disk.Id, $"QEMU refused '{qmpError.Command}': {qmpError.Description}", ex)
                : ex;
        }
        finally
        {
            if (frozen)
            {
                await thaw().ConfigureAwait(false);
            }
        }
    }
}
