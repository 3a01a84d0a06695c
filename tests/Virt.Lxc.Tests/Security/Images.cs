// Building small tar files in memory for the tests: the synchronous writer is clearer here.
#pragma warning disable CA1849
using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text;

namespace Virt.Lxc.Tests.Security;

/// <summary>Crafted layers, tarballs and OCI image layouts, written for real on disk.</summary>
internal static class Images
{
    public static byte[] Tar(Action<TarWriter> write)
    {
        var buffer = new MemoryStream();
        using (var writer = new TarWriter(buffer, TarEntryFormat.Pax, leaveOpen: true))
        {
            write(writer);
        }

        return buffer.ToArray();
    }

    public static void Dir(this TarWriter writer, string name) =>
        writer.WriteEntry(new PaxTarEntry(TarEntryType.Directory, name) { Mode = (UnixFileMode)Convert.ToInt32("755", 8) });

    public static void File(this TarWriter writer, string name, string content = "x") =>
        writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(Encoding.UTF8.GetBytes(content)), Mode = (UnixFileMode)Convert.ToInt32("644", 8) });

    public static void Symlink(this TarWriter writer, string name, string target) =>
        writer.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, name) { LinkName = target });

    public static void HardLink(this TarWriter writer, string name, string target) =>
        writer.WriteEntry(new PaxTarEntry(TarEntryType.HardLink, name) { LinkName = target });

    public static void Fifo(this TarWriter writer, string name) =>
        writer.WriteEntry(new PaxTarEntry(TarEntryType.Fifo, name) { Mode = (UnixFileMode)Convert.ToInt32("644", 8) });

    /// <summary>Writes an OCI image layout of <paramref name="layers"/> (plain tar) into <paramref name="directory"/>.</summary>
    public static OciLayout Layout(string directory, params byte[][] layers)
    {
        var blobs = Directory.CreateDirectory(Path.Combine(directory, "blobs/sha256")).FullName;
        var layerDescriptors = layers.Select(layer => Descriptor("application/vnd.oci.image.layer.v1.tar", AddBlob(blobs, layer))).ToList();
        var config = AddBlob(blobs, Encoding.UTF8.GetBytes("""{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":[]}}"""));
        var manifest = AddBlob(blobs, Encoding.UTF8.GetBytes("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":"
            + Descriptor("application/vnd.oci.image.config.v1+json", config) + ",\"layers\":[" + string.Join(',', layerDescriptors) + "]}"));
        System.IO.File.WriteAllText(Path.Combine(directory, "oci-layout"), """{"imageLayoutVersion":"1.0.0"}""");
        System.IO.File.WriteAllText(Path.Combine(directory, "index.json"), "{\"schemaVersion\":2,\"manifests\":[" + Descriptor("application/vnd.oci.image.manifest.v1+json", manifest) + "]}");
        return new OciLayout(directory, manifest.Digest, config.Digest, layers.Select(layer => Convert.ToHexStringLower(SHA256.HashData(layer))).ToList());
    }

    public static string Descriptor(string mediaType, (string Digest, long Size) blob) =>
        $"{{\"mediaType\":\"{mediaType}\",\"digest\":\"sha256:{blob.Digest}\",\"size\":{blob.Size}}}";

    public static (string Digest, long Size) AddBlob(string blobs, byte[] content)
    {
        var digest = Convert.ToHexStringLower(SHA256.HashData(content));
        System.IO.File.WriteAllBytes(Path.Combine(blobs, digest), content);
        return (digest, content.Length);
    }
}

/// <summary>A layout on disk and the digests of its blobs (hex), to tamper with.</summary>
internal sealed record OciLayout(string Path, string Manifest, string Config, IReadOnlyList<string> Layers)
{
    public string BlobPath(string digest) => System.IO.Path.Combine(Path, "blobs/sha256", digest);
}
