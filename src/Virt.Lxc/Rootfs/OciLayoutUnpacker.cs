using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Win32.SafeHandles;
using Virt.Containers;
using Virt.Lxc.Interop;
using Virt.Processes;

namespace Virt.Lxc.Rootfs;

/// <summary>
/// Unpacks an OCI image layout natively: <c>index.json</c> → the image's manifest (through one nested
/// index if need be) → its layers, each checked against its sha256 digest and applied in order with
/// whiteouts, by <see cref="SafeTarExtractor"/>. Returns what the image config says should run.
/// The layout is not trusted either: each of its files is opened beneath the layout directory with no
/// symlink followed (<see cref="ConfinedTree.OpenForReading"/>), must be a regular file (a FIFO or device is
/// refused without blocking), and is read only up to a bound — 4 MiB for a JSON document, the descriptor's
/// declared size for a blob — so what is read ends, and is what was verified.
/// </summary>
internal static class OciLayoutUnpacker
{
    /// <summary>The most a JSON document of a layout (index, manifest, config) may hold.</summary>
    public const int MaxDocumentBytes = 4 << 20;
    private const string RefNameAnnotation = "org.opencontainers.image.ref.name";

    public static async Task<ContainerInit?> UnpackAsync(string layoutPath, string? reference, string root, int idShift, int idLimit, IProcessRunner processes, CancellationToken cancellationToken)
    {
        using var layout = ConfinedTree.Open(layoutPath, followLink: true);
        using var indexFile = layout.OpenForReading("index.json") ?? throw new InvalidDataException($"'{layoutPath}' has no index.json: it is not an OCI image layout");
        var indexSize = RequireRegularFile(indexFile, $"index.json of '{layoutPath}'");
        if (indexSize > MaxDocumentBytes)
        {
            throw new InvalidDataException($"index.json of '{layoutPath}' is {indexSize} bytes, more than the {MaxDocumentBytes >> 20} MiB an image index may have");
        }

        using var index = JsonDocument.Parse(await ReadBoundedAsync(indexFile, MaxDocumentBytes, $"index.json of '{layoutPath}'", cancellationToken).ConfigureAwait(false));
        var manifestDescriptor = SelectManifest(index.RootElement, reference, layoutPath);
        using var manifest = await ReadBlobJsonAsync(layout, manifestDescriptor, cancellationToken).ConfigureAwait(false);
        var root0 = manifest.RootElement;
        if (root0.TryGetProperty("manifests", out _))
        {
            // An image index (multi-platform): take the linux/amd64 or the only entry.
            var nested = SelectManifest(root0, null, layoutPath);
            using var inner = await ReadBlobJsonAsync(layout, nested, cancellationToken).ConfigureAwait(false);
            return await ApplyManifestAsync(layout, inner.RootElement, root, idShift, idLimit, processes, cancellationToken).ConfigureAwait(false);
        }

        return await ApplyManifestAsync(layout, root0, root, idShift, idLimit, processes, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<ContainerInit?> ApplyManifestAsync(ConfinedTree layout, JsonElement manifest, string root, int idShift, int idLimit, IProcessRunner processes, CancellationToken cancellationToken)
    {
        if (!manifest.TryGetProperty("layers", out var layers) || layers.ValueKind != JsonValueKind.Array)
        {
            throw new InvalidDataException("the image manifest has no layers array");
        }

        var extractor = new SafeTarExtractor(root, idShift, idLimit, whiteouts: true);
        foreach (var layer in layers.EnumerateArray())
        {
            var mediaType = layer.TryGetProperty("mediaType", out var type) ? type.GetString() ?? string.Empty : string.Empty;
            if (!mediaType.Contains("tar", StringComparison.Ordinal))
            {
                throw new InvalidDataException($"layer media type '{mediaType}' is not a tar layer: only OCI and Docker tar, tar+gzip and tar+zstd layers are supported");
            }

            var (digest, size) = DescriptorOf(layer);
            using var handle = OpenBlob(layout, digest, size);
            // Real I/O on purpose: a stream over the descriptor opened beneath the layout, no symlink followed; IFileSystem has no descriptor form.
            var file = new FileStream(handle, FileAccess.Read);
            await using (file.ConfigureAwait(false))
            {
                // Verified before anything is unpacked, then hashed again as it is unpacked.
                var check = new DigestStream(file, size, $"blob sha256:{digest} in '{layout.Path}'");
                await using (check.ConfigureAwait(false))
                {
                    await check.VerifyAsync(digest, cancellationToken).ConfigureAwait(false);
                }

                file.Position = 0;
                var content = new DigestStream(file, size, $"blob sha256:{digest} in '{layout.Path}'");
                await using (content.ConfigureAwait(false))
                {
                    var streams = await TarStreams.OpenAsync(handle, content, $"blob sha256:{digest}", processes, cancellationToken).ConfigureAwait(false);
                    await using (streams.ConfigureAwait(false))
                    {
                        await extractor.ExtractAsync(streams.Tar, cancellationToken).ConfigureAwait(false);
                        await streams.EnsureCompleteAsync(cancellationToken).ConfigureAwait(false);
                    }

                    await content.VerifyAsync(digest, cancellationToken).ConfigureAwait(false);
                }
            }
        }

        if (!manifest.TryGetProperty("config", out var configDescriptor))
        {
            return null;
        }

        using var config = await ReadBlobJsonAsync(layout, configDescriptor, cancellationToken).ConfigureAwait(false);
        return InitFromConfig(config.RootElement);
    }

    /// <summary>Entrypoint + Cmd, Env and WorkingDir of the image config, as PID 1 of the container.</summary>
    private static ContainerInit? InitFromConfig(JsonElement config)
    {
        if (!config.TryGetProperty("config", out var runtime) || runtime.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        var command = new List<string>();
        foreach (var key in new[] { "Entrypoint", "Cmd" })
        {
            if (runtime.TryGetProperty(key, out var list) && list.ValueKind == JsonValueKind.Array)
            {
                command.AddRange(list.EnumerateArray().Select(item => item.GetString() ?? string.Empty));
            }
        }

        if (command.Count == 0)
        {
            return null;
        }

        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        if (runtime.TryGetProperty("Env", out var env) && env.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in env.EnumerateArray())
            {
                var text = item.GetString() ?? string.Empty;
                var equals = text.IndexOf('=', StringComparison.Ordinal);
                if (equals > 0)
                {
                    environment[text[..equals]] = text[(equals + 1)..];
                }
            }
        }

        var workingDirectory = runtime.TryGetProperty("WorkingDir", out var cwd) && cwd.GetString() is { Length: > 0 } directory ? directory : null;
        return new ContainerInit(command) { Environment = environment, WorkingDirectory = workingDirectory };
    }

    private static JsonElement SelectManifest(JsonElement index, string? reference, string layout)
    {
        if (!index.TryGetProperty("manifests", out var manifests) || manifests.ValueKind != JsonValueKind.Array || manifests.GetArrayLength() == 0)
        {
            throw new InvalidDataException($"the index of '{layout}' lists no manifests");
        }

        var all = manifests.EnumerateArray().ToList();
        if (reference is not null)
        {
            foreach (var candidate in all)
            {
                if (candidate.TryGetProperty("annotations", out var annotations) && annotations.TryGetProperty(RefNameAnnotation, out var name) && name.GetString() == reference)
                {
                    return candidate;
                }
            }

            throw new InvalidDataException($"no image in '{layout}' has the reference '{reference}'");
        }

        if (all.Count == 1)
        {
            return all[0];
        }

        foreach (var candidate in all)
        {
            if (candidate.TryGetProperty("platform", out var platform) && platform.TryGetProperty("os", out var os) && os.GetString() == "linux"
                && platform.TryGetProperty("architecture", out var architecture) && architecture.GetString() == "amd64")
            {
                return candidate;
            }
        }

        throw new InvalidDataException($"'{layout}' holds {all.Count} images: name one with ContainerRootfs.OciLayout(path, reference)");
    }

    private static async Task<JsonDocument> ReadBlobJsonAsync(ConfinedTree layout, JsonElement descriptor, CancellationToken cancellationToken)
    {
        var (digest, size) = DescriptorOf(descriptor);
        if (size > MaxDocumentBytes)
        {
            throw new InvalidDataException($"blob sha256:{digest} of '{layout.Path}' is declared {size} bytes, more than the {MaxDocumentBytes >> 20} MiB a manifest or config may have");
        }

        using var handle = OpenBlob(layout, digest, size);
        var content = await ReadBoundedAsync(handle, (int)size, $"blob sha256:{digest} in '{layout.Path}'", cancellationToken).ConfigureAwait(false);
        if (content.Length != size || !string.Equals(Convert.ToHexStringLower(SHA256.HashData(content)), digest, StringComparison.Ordinal))
        {
            // The hash the content has is not shown: the blob may not be the caller's to read.
            throw new InvalidDataException($"blob sha256:{digest} in '{layout.Path}' does not hash to its digest or is not {size} bytes: the layout is corrupt");
        }

        return JsonDocument.Parse(content);
    }

    /// <summary>The sha256 digest (hex) and declared size of a descriptor.</summary>
    private static (string Digest, long Size) DescriptorOf(JsonElement descriptor)
    {
        var digest = descriptor.TryGetProperty("digest", out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() ?? string.Empty : string.Empty;
        var parts = digest.Split(':');
        if (parts.Length != 2 || parts[0] != "sha256" || parts[1].Length != 64 || !parts[1].All(char.IsAsciiHexDigitLower))
        {
            throw new InvalidDataException($"digest '{digest}' is not a sha256 digest");
        }

        if (!descriptor.TryGetProperty("size", out var sizeValue) || sizeValue.ValueKind != JsonValueKind.Number || !sizeValue.TryGetInt64(out var size) || size < 0)
        {
            throw new InvalidDataException($"the descriptor of blob {digest} has no valid size: an OCI descriptor must declare its blob's size");
        }

        return (parts[1], size);
    }

    /// <summary>The blob's file, opened beneath the layout without following links; a regular file of the declared size.</summary>
    private static SafeFileHandle OpenBlob(ConfinedTree layout, string digest, long declaredSize)
    {
        var handle = layout.OpenForReading("blobs/sha256/" + digest) ?? throw new InvalidDataException($"blob sha256:{digest} is missing from '{layout.Path}'");
        try
        {
            var size = RequireRegularFile(handle, $"blob sha256:{digest} in '{layout.Path}'");
            if (size != declaredSize)
            {
                throw new InvalidDataException($"blob sha256:{digest} in '{layout.Path}' is {size} bytes, but its descriptor says {declaredSize}: the layout is corrupt");
            }

            return handle;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>The size of an open file, which must be a regular file.</summary>
    private static long RequireRegularFile(SafeFileHandle handle, string description)
    {
        var stat = LibCAt.StatFd(ConfinedTree.Fd(handle)) ?? throw new IOException($"cannot stat {description}: {LibC.LastError()}");
        if (stat.Type != LibC.SIfreg)
        {
            throw new InvalidDataException($"{description} is not a regular file (a FIFO, socket, device or directory): refused");
        }

        return stat.Size;
    }

    /// <summary>Reads a whole file, refusing one longer than <paramref name="limit"/> bytes (whatever its size said).</summary>
    private static async Task<byte[]> ReadBoundedAsync(SafeFileHandle handle, int limit, string description, CancellationToken cancellationToken)
    {
        // One byte more than the limit, to notice a file longer than it.
        var buffer = new byte[limit + 1];
        var length = 0;
        while (length < buffer.Length)
        {
            var read = await RandomAccess.ReadAsync(handle, buffer.AsMemory(length), length, cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                return buffer[..length];
            }

            length += read;
        }

        throw new InvalidDataException($"{description} is longer than {limit} bytes: refused");
    }
}
