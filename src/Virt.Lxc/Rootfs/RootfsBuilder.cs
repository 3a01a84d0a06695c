using Virt.Containers;
using Virt.Processes;

namespace Virt.Lxc.Rootfs;

/// <summary>
/// Builds the rootfs of a new container into a staging directory from its source. Any failure removes
/// the staging directory and throws <see cref="ContainerRootfsException"/>; nothing half-built is kept.
/// </summary>
internal static class RootfsBuilder
{
    /// <summary>The image's own init (OCI), or null.</summary>
    public static async Task<ContainerInit?> BuildAsync(ContainerSpec spec, string root, int idShift, int idLimit, string busybox, IProcessRunner processes, CancellationToken cancellationToken)
    {
        var source = spec.Rootfs.Path ?? busybox;
        Directory.CreateDirectory(root);
        string? unpackedArchive = null;
        try
        {
            switch (spec.Rootfs.Kind)
            {
                case ContainerRootfsKind.Busybox:
                    await BusyboxRootfs.BuildAsync(root, busybox, idShift, processes, cancellationToken).ConfigureAwait(false);
                    return null;
                case ContainerRootfsKind.Tarball:
                    RequireFile(spec, source);
                    await ExtractTarballAsync(source, new SafeTarExtractor(root, idShift, idLimit, whiteouts: false), processes, cancellationToken).ConfigureAwait(false);
                    return null;
                case ContainerRootfsKind.OciLayout:
                    var layout = source;
                    if (File.Exists(source))
                    {
                        // An archive of a layout: unpack it (checked like any tarball) next to the rootfs first.
                        unpackedArchive = root + ".oci";
                        Directory.CreateDirectory(unpackedArchive);
                        await ExtractTarballAsync(source, new SafeTarExtractor(unpackedArchive, 0, int.MaxValue, whiteouts: false), processes, cancellationToken).ConfigureAwait(false);
                        layout = unpackedArchive;
                    }
                    else if (!Directory.Exists(source))
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
            TryDelete(root);
            throw new ContainerRootfsException(spec.Name, source, ex.Message, ex);
        }
        catch
        {
            TryDelete(root);
            throw;
        }
        finally
        {
            if (unpackedArchive is not null)
            {
                TryDelete(unpackedArchive);
            }
        }
    }

    private static void RequireFile(ContainerSpec spec, string source)
    {
        if (!File.Exists(source))
        {
            throw new ContainerRootfsException(spec.Name, source, "the tarball does not exist");
        }
    }

    private static async Task ExtractTarballAsync(string path, SafeTarExtractor extractor, IProcessRunner processes, CancellationToken cancellationToken)
    {
        using var handle = TarStreams.OpenRegularFile(path);
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
    /// Removes a container's directory or rootfs, best effort, through descriptors: a symlink the
    /// container left in its rootfs (or swapped in during the removal) is unlinked, never followed.
    /// </summary>
    public static void TryDelete(string path)
    {
        try
        {
            ConfinedTree.DeleteTree(path);
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
