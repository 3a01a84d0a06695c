using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using Virt.Containers;
using Virt.Lxc.IntegrationTests.Infrastructure;

namespace Virt.Lxc.IntegrationTests.Containers;

/// <summary>Containers from a tarball (gzip, xz, zstd) and from an OCI image layout the test builds.</summary>
public sealed class RootfsTests
{
    [Theory(Timeout = 120_000)]
    [InlineData("z", "gz")]
    [InlineData("J", "xz")]
    [InlineData("-zstd", "zst")]
    public async Task A_container_from_a_tarball_starts_runs_a_command_and_stops(string compression, string extension)
    {
        await using var host = LxcTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        await host.Manager.CreateAsync(LxcTestHost.Busybox("base"), ct);
        var tarball = Path.Combine(host.LxcPath, "rootfs.tar." + extension);
        LxcTestHost.Run("tar", compression.StartsWith('-') ? "--" + compression[1..] : "-" + compression, "-cf", tarball, "-C", Path.Combine(host.LxcPath, "base/rootfs"), ".");

        var container = await host.Manager.CreateAsync(new ContainerSpec("from-tar", ContainerRootfs.Tarball(tarball)) { Init = new ContainerInit(["/sbin/init"]) }, ct);
        await container.StartAsync(cancellationToken: ct);
        Assert.Equal("from-tar\n", await InContainer.OutputAsync(container, "hostname"));
        Assert.Contains("/bin/busybox", await InContainer.OutputAsync(container, "readlink", "/bin/sh"), StringComparison.Ordinal);
        await container.StopAsync(TimeSpan.FromSeconds(10), ct);
        Assert.Equal(ContainerState.Stopped, (await container.GetStatusAsync(ct)).State);
    }

    [Theory(Timeout = 120_000)]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_container_from_an_oci_layout_gets_its_layers_whiteouts_and_entrypoint(bool asArchive)
    {
        await using var host = LxcTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        await host.Manager.CreateAsync(LxcTestHost.Busybox("base"), ct);
        var baseRootfs = Path.Combine(host.LxcPath, "base/rootfs");
        Directory.CreateDirectory(Path.Combine(baseRootfs, "opt/old"));
        await File.WriteAllTextAsync(Path.Combine(baseRootfs, "opt/old/file"), "lower", ct);

        var layout = Path.Combine(host.LxcPath, "layout");
        var blobs = Directory.CreateDirectory(Path.Combine(layout, "blobs/sha256")).FullName;
        var lowerTar = Path.Combine(host.LxcPath, "lower.tar.gz");
        LxcTestHost.Run("tar", "-czf", lowerTar, "-C", baseRootfs, ".");
        var lower = await AddBlobAsync(blobs, await File.ReadAllBytesAsync(lowerTar, ct));
        var upper = await AddBlobAsync(blobs, UpperLayer());
        var config = await AddBlobAsync(blobs, Encoding.UTF8.GetBytes("""{"architecture":"amd64","os":"linux","config":{"Entrypoint":["/bin/sleep"],"Cmd":["3600"],"Env":["GREETING=from-oci","PATH=/bin:/sbin:/usr/bin"],"WorkingDir":"/opt"},"rootfs":{"type":"layers","diff_ids":[]}}"""));
        var manifestJson = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":" + Descriptor("application/vnd.oci.image.config.v1+json", config)
            + ",\"layers\":[" + Descriptor("application/vnd.oci.image.layer.v1.tar+gzip", lower) + "," + Descriptor("application/vnd.oci.image.layer.v1.tar", upper) + "]}";
        var manifest = await AddBlobAsync(blobs, Encoding.UTF8.GetBytes(manifestJson));
        await File.WriteAllTextAsync(Path.Combine(layout, "oci-layout"), """{"imageLayoutVersion":"1.0.0"}""", ct);
        var index = "{\"schemaVersion\":2,\"manifests\":[" + Descriptor("application/vnd.oci.image.manifest.v1+json", manifest)[..^1] + ",\"annotations\":{\"org.opencontainers.image.ref.name\":\"test:1\"}}]}";
        await File.WriteAllTextAsync(Path.Combine(layout, "index.json"), index, ct);
        var source = layout;
        if (asArchive)
        {
            source = Path.Combine(host.LxcPath, "layout.tar");
            LxcTestHost.Run("tar", "-cf", source, "-C", layout, ".");
        }

        var container = await host.Manager.CreateAsync(new ContainerSpec("from-oci", ContainerRootfs.OciLayout(source, "test:1")), ct);
        await container.StartAsync(cancellationToken: ct);
        Assert.Equal("/bin/sleep 3600\n", await InContainer.OutputAsync(container, "cat", "/proc/1/cmdline") is var cmdline ? cmdline.Replace('\0', ' ').TrimEnd() + "\n" : null);
        Assert.Contains("GREETING=from-oci", (await InContainer.OutputAsync(container, "cat", "/proc/1/environ")).Replace('\0', '\n'), StringComparison.Ordinal);
        Assert.Equal("/opt\n", await InContainer.OutputAsync(container, "readlink", "/proc/1/cwd"));
        Assert.Equal("upper layer\n", await InContainer.OutputAsync(container, "cat", "/hello.txt"));
        Assert.Equal((ContainerExecOutcome.Exited, 1), await InContainer.RunAsync(container, "test", "-e", "/etc/hosts") is var hosts ? (hosts.Outcome, hosts.ExitCode) : default);
        Assert.Equal("new\n", await InContainer.OutputAsync(container, "ls", "/opt"));
        await container.KillAsync(ct);

        var unknown = await Assert.ThrowsAsync<ContainerRootfsException>(() => host.Manager.CreateAsync(new ContainerSpec("wrong-ref", ContainerRootfs.OciLayout(source, "test:2")), ct));
        Assert.Contains("test:2", unknown.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(host.LxcPath, "wrong-ref")));
    }

    /// <summary>Adds hello.txt, deletes etc/hosts (whiteout) and replaces opt/ (opaque whiteout) with opt/new.</summary>
    private static byte[] UpperLayer()
    {
        var buffer = new MemoryStream();
        using (var writer = new TarWriter(buffer, TarEntryFormat.Pax, leaveOpen: true))
        {
            writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "hello.txt") { DataStream = new MemoryStream(Encoding.UTF8.GetBytes("upper layer\n")), Mode = (UnixFileMode)Convert.ToInt32("644", 8) });
            writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "etc/.wh.hosts") { DataStream = new MemoryStream() });
            writer.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "opt/new") { Mode = (UnixFileMode)Convert.ToInt32("755", 8) });
            writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "opt/.wh..wh..opq") { DataStream = new MemoryStream() });
        }

        return buffer.ToArray();
    }

    private static string Descriptor(string mediaType, (string Digest, long Size) blob) =>
        $"{{\"mediaType\":\"{mediaType}\",\"digest\":\"sha256:{blob.Digest}\",\"size\":{blob.Size}}}";

    private static async Task<(string Digest, long Size)> AddBlobAsync(string blobs, byte[] content)
    {
        var digest = Convert.ToHexStringLower(SHA256.HashData(content));
        await File.WriteAllBytesAsync(Path.Combine(blobs, digest), content);
        return (digest, content.Length);
    }
}
