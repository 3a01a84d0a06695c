using System.IO.Abstractions;
using Virt.Containers;
using Virt.IO;
using Virt.Processes;

namespace Virt.Lxc.Rootfs;

/// <summary>
/// Builds the rootfs of a new container into a staging directory from its source. Any failure removes
/// the staging directory and throws <see cref="ContainerRootfsException"/>; nothing half-built is kept.
/// </summary>
internal static class RootfsBuilder
{
    /// <summary>The image's own init (OCI), or null.</summary>
    public static async Task<ContainerInit?> BuildAsync(IFileSystem fileSystem, ContainerSpec spec, string root, int idShift, int idLimit, string busybox, IProcessRunner processes, CancellationToken cancellationToken)
    {
        var source = spec.Rootfs.Path ?? busybox;
        fileSystem.Directory.CreateDirectory(root);
        string? unpackedArchive = null;
        try
        {
            switch (spec.Rootfs.Kind)
            {
                case ContainerRootfsKind.Busybox:
                    await BusyboxRootfs.BuildAsync(fileSystem, root, busybox, idShift, processes, cancellationToken).ConfigureAwait(false);
                    return null;
                case ContainerRootfsKind.Tarball:
                    RequireFile(fileSystem, spec, source);
                    await ExtractTarballAsync(source, new SafeTarExtractor(root, idShift, idLimit, whiteouts: false), processes, cancellationToken).ConfigureAwait(false);
                    return null;
                case ContainerRootfsKind.OciLayout:
                    var layout = source;
                    if (fileSystem.File.Exists(source))
                    {
                        // An archive of a layout: unpack it (checked like any tarball) next to the rootfs first.
                        unpackedArchive = root + ".oci";
                        fileSystem.Directory.CreateDirectory(unpackedArchive);
                        await ExtractTarballAsync(source, new SafeTarExtractor(unpackedArchive, 0, int.MaxValue, whiteouts: false), processes, cancellationToken).ConfigureAwait(false);
                        layout = unpackedArchive;
                    }
                    else if (!fileSystem.Directory.Exists(source))
                    {
                        throw new ContainerRootfsException(spec.Name, source, "it does not exist: give an OCI layout directory or an archive of one");
                    }

                    return await OciLayoutUnpacker.UnpackAsync(layout, spec.Rootfs.Reference, root, idShift, idLimit, processes, cancellationToken).ConfigureAwait(false);
                default:
                    throw new ContainerRootfsException(spec.Name, source, $"a {spec.Rootfs.Kind} rootfs is not built by the SDK");
            }
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException or UnauthorizedAccessException or System.Text.Json.JsonException or FormatException or ProcessFailedException)
        {
            TryDelete(fileSystem, root);
            throw new ContainerRootfsException(spec.Name, source, ex.Message, ex);
        }
        catch
        {
            TryDelete(fileSystem, root);
            throw;
        }
        finally
        {
            if (unpackedArchive is not null)
            {
                TryDelete(fileSystem, unpackedArchive);
            }
        }
    }

    private static void RequireFile(IFileSystem fileSystem, ContainerSpec spec, string source)
    {
        if (!fileSystem.File.Exists(source))
        {
            throw new ContainerRootfsException(spec.Name, source, "the tarball does not exist");
        }
    }

    /// <summary>
    /// Reads the archive through a descriptor opened O_NOFOLLOW on the host (a tarball swapped for a symlink
    /// is refused), and the extractor writes through descriptors under the root (openat2 RESOLVE_IN_ROOT): no
    /// <see cref="IFileSystem"/> can stand in for either, so tarball and OCI rootfs are built on the host only.
    /// </summary>
    private static async Task ExtractTarballAsync(string path, SafeTarExtractor extractor, IProcessRunner processes, CancellationToken cancellationToken)
    {
        using var handle = TarStreams.OpenRegularFile(path);
        // Real I/O on purpose: a stream over the descriptor opened O_NOFOLLOW above; IFileSystem has no descriptor form.
        var file = new FileStream(handle, FileAccess.Read);
        await using (file.ConfigureAwait(false))
        {
            var streams = await TarStreams.OpenAsync(handle, file, path, processes, cancellationToken).ConfigureAwait(false);
            await using (streams.ConfigureAwait(false))
            {
                await extractor.ExtractAsync(streams.Tar, cancellationToken).ConfigureAwait(false);
                await streams.EnsureCompleteAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Removes a container's directory or rootfs, best effort. On the host's disk, through descriptors
    /// (<see cref="ConfinedTree"/>): a symlink the container left in its rootfs (or swapped in during the
    /// removal) is unlinked, never followed. Any other <see cref="IFileSystem"/> (a test's in-memory one)
    /// has no container writing into it, so it is removed through the seam.
    /// </summary>
    public static void TryDelete(IFileSystem fileSystem, string path)
    {
        try
        {
            if (fileSystem is FileSystem or IDurableFileSystem)
            {
                ConfinedTree.DeleteTree(path);
            }
            else if (fileSystem.Directory.Exists(path))
            {
                fileSystem.Directory.Delete(path, recursive: true);
            }
        }
        catch (IOException)
        {
            // Best effort: the caller reports the original error.
        }
        catch (UnauthorizedAccessException)
        {
            // Best effort.
        }
    }
}
