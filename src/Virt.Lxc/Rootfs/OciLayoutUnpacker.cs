using System.Security.Cryptography;
using System.Text.Json;
using Virt.Containers;

namespace Virt.Lxc.Rootfs;

/// <summary>
/// Unpacks an OCI image layout natively: <c>index.json</c> → the image's manifest (through one nested
/// index if need be) → its layers, each checked against its sha256 digest and applied in order with
/// whiteouts, by <see cref="SafeTarExtractor"/>. Returns what the image config says should run.
/// </summary>
internal static class OciLayoutUnpacker
{
    private const string RefNameAnnotation = "org.opencontainers.image.ref.name";

    public static async Task<ContainerInit?> UnpackAsync(string layout, string? reference, string root, int idShift, int idLimit, CancellationToken cancellationToken)
    {
        if (!File.Exists(Path.Combine(layout, "index.json")))
        {
            throw new InvalidDataException($"'{layout}' has no index.json: it is not an OCI image layout");
        }

        using var index = JsonDocument.Parse(await File.ReadAllBytesAsync(Path.Combine(layout, "index.json"), cancellationToken).ConfigureAwait(false));
        var manifestDescriptor = SelectManifest(index.RootElement, reference, layout);
        using var manifest = await ReadBlobJsonAsync(layout, manifestDescriptor, cancellationToken).ConfigureAwait(false);
        var root0 = manifest.RootElement;
        if (root0.TryGetProperty("manifests", out _))
        {
            // An image index (multi-platform): take the linux/amd64 or the only entry.
            var nested = SelectManifest(root0, null, layout);
            using var inner = await ReadBlobJsonAsync(layout, nested, cancellationToken).ConfigureAwait(false);
            return await ApplyManifestAsync(layout, inner.RootElement, root, idShift, idLimit, cancellationToken).ConfigureAwait(false);
        }

        return await ApplyManifestAsync(layout, root0, root, idShift, idLimit, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<ContainerInit?> ApplyManifestAsync(string layout, JsonElement manifest, string root, int idShift, int idLimit, CancellationToken cancellationToken)
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

            var path = await VerifiedBlobPathAsync(layout, layer, cancellationToken).ConfigureAwait(false);
            var streams = await TarStreams.OpenAsync(path, cancellationToken).ConfigureAwait(false);
            await using (streams.ConfigureAwait(false))
            {
                await extractor.ExtractAsync(streams.Tar, cancellationToken).ConfigureAwait(false);
                await streams.EnsureCompleteAsync(cancellationToken).ConfigureAwait(false);
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

    private static async Task<JsonDocument> ReadBlobJsonAsync(string layout, JsonElement descriptor, CancellationToken cancellationToken)
    {
        var path = await VerifiedBlobPathAsync(layout, descriptor, cancellationToken).ConfigureAwait(false);
        return JsonDocument.Parse(await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false));
    }

    /// <summary>The blob's file, after checking that its content hashes to the descriptor's digest.</summary>
    private static async Task<string> VerifiedBlobPathAsync(string layout, JsonElement descriptor, CancellationToken cancellationToken)
    {
        var digest = descriptor.TryGetProperty("digest", out var value) ? value.GetString() ?? string.Empty : string.Empty;
        var parts = digest.Split(':');
        if (parts.Length != 2 || parts[0] != "sha256" || parts[1].Length != 64 || !parts[1].All(char.IsAsciiHexDigitLower))
        {
            throw new InvalidDataException($"digest '{digest}' is not a sha256 digest");
        }

        var path = Path.Combine(layout, "blobs", "sha256", parts[1]);
        if (!File.Exists(path))
        {
            throw new InvalidDataException($"blob {digest} is missing from '{layout}'");
        }

        var stream = File.OpenRead(path);
        await using (stream.ConfigureAwait(false))
        {
            var hash = Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, cancellationToken).ConfigureAwait(false));
            if (hash != parts[1])
            {
                throw new InvalidDataException($"blob {digest} in '{layout}' hashes to sha256:{hash}: the layout is corrupt");
            }
        }

        return path;
    }
}
