// Building small tar files in memory for the test: the synchronous writer is clearer here.
#pragma warning disable CA1849
using System.Formats.Tar;
using Virt.Containers;
using Virt.Lxc.Containers;
using Virt.Lxc.Hosting;
using Virt.Processes;

namespace Virt.Lxc.Tests.Containers;

/// <summary>
/// Tarballs are unpacked by the SDK on the real file system, entry by entry; an entry that would land
/// outside the rootfs (or smuggle in a device) fails the create, and nothing of the container is left.
/// </summary>
public sealed class UnsafeTarballTests : IDisposable
{
    private readonly string _lxcPath = "/tmp/vu-" + Guid.NewGuid().ToString("N")[..8];
    private readonly string _outside;

    public UnsafeTarballTests()
    {
        Directory.CreateDirectory(_lxcPath);
        _outside = Path.Combine(_lxcPath, "outside");
        Directory.CreateDirectory(_outside);
    }

    public static TheoryData<string, string> Cases => new()
    {
        { "absolute", "absolute path" },
        { "dotdot", "contains '..'" },
        { "symlink-then-write", "through the symlink" },
        { "climbing-symlink", "climbs above the rootfs" },
        { "device", "device node outside dev/" },
        { "hardlink-outside", "contains '..'" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task An_unsafe_entry_fails_the_create_and_leaves_nothing(string kind, string expected)
    {
        var tarball = Path.Combine(_lxcPath, kind + ".tar");
        Write(tarball, kind);
        var manager = new LxcContainerManager(new LxcOptions { LxcPath = _lxcPath }, new System.IO.Abstractions.FileSystem(), new ProcessRunner());

        var error = await Assert.ThrowsAsync<ContainerRootfsException>(() => manager.CreateAsync(new ContainerSpec("evil", ContainerRootfs.Tarball(tarball)), TestContext.Current.CancellationToken));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_lxcPath, "evil")));
        Assert.Empty(Directory.GetFileSystemEntries(_outside));
        Assert.Empty(await manager.ListAsync(TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task A_safe_tarball_keeps_files_links_modes_and_owners_and_skips_dev_nodes()
    {
        var tarball = Path.Combine(_lxcPath, "safe.tar");
        using (var stream = File.Create(tarball))
        using (var writer = new TarWriter(stream, TarEntryFormat.Pax))
        {
            writer.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "./etc/") { Mode = (UnixFileMode)Convert.ToInt32("755", 8) });
            writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "./etc/motd") { DataStream = new MemoryStream("hi"u8.ToArray()), Mode = (UnixFileMode)Convert.ToInt32("640", 8), Uid = 33, Gid = 44 });
            writer.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "./etc/mtab") { LinkName = "/proc/mounts" });
            writer.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "./etc/alias") { LinkName = "motd" });
            writer.WriteEntry(new PaxTarEntry(TarEntryType.HardLink, "./etc/motd.hard") { LinkName = "./etc/motd" });
            writer.WriteEntry(new PaxTarEntry(TarEntryType.CharacterDevice, "./dev/null") { DeviceMajor = 1, DeviceMinor = 3 });
        }

        var manager = new LxcContainerManager(new LxcOptions { LxcPath = _lxcPath }, new System.IO.Abstractions.FileSystem(), new ProcessRunner());
        await manager.CreateAsync(new ContainerSpec("safe", ContainerRootfs.Tarball(tarball)), TestContext.Current.CancellationToken);
        var root = Path.Combine(_lxcPath, "safe/rootfs");
        Assert.Equal("hi", await File.ReadAllTextAsync(Path.Combine(root, "etc/motd"), TestContext.Current.CancellationToken));
        Assert.Equal((UnixFileMode)Convert.ToInt32("640", 8), File.GetUnixFileMode(Path.Combine(root, "etc/motd")));
        Assert.Equal("/proc/mounts", new FileInfo(Path.Combine(root, "etc/mtab")).LinkTarget);
        Assert.Equal("motd", new FileInfo(Path.Combine(root, "etc/alias")).LinkTarget);
        Assert.Equal("hi", await File.ReadAllTextAsync(Path.Combine(root, "etc/motd.hard"), TestContext.Current.CancellationToken));
        Assert.False(File.Exists(Path.Combine(root, "dev/null")));
        var owner = OwnerOf(Path.Combine(root, "etc/motd"));
        Assert.Equal("33:44", owner);
    }

    private static string OwnerOf(string path)
    {
        var start = new System.Diagnostics.ProcessStartInfo("stat", ["-c", "%u:%g", path]) { RedirectStandardOutput = true };
        using var process = System.Diagnostics.Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd().Trim();
        process.WaitForExit();
        return output;
    }

    private void Write(string tarball, string kind)
    {
        using var stream = File.Create(tarball);
        using var writer = new TarWriter(stream, TarEntryFormat.Pax);
        writer.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "etc/"));
        switch (kind)
        {
            case "absolute":
                writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, _outside + "/planted") { DataStream = new MemoryStream("x"u8.ToArray()) });
                break;
            case "dotdot":
                writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "etc/../../../outside/planted") { DataStream = new MemoryStream("x"u8.ToArray()) });
                break;
            case "symlink-then-write":
                writer.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "escape") { LinkName = _outside });
                writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "escape/planted") { DataStream = new MemoryStream("x"u8.ToArray()) });
                break;
            case "climbing-symlink":
                writer.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "etc/up") { LinkName = "../../outside" });
                break;
            case "device":
                writer.WriteEntry(new PaxTarEntry(TarEntryType.BlockDevice, "etc/disk") { DeviceMajor = 8, DeviceMinor = 0 });
                break;
            case "hardlink-outside":
                writer.WriteEntry(new PaxTarEntry(TarEntryType.HardLink, "etc/passwd") { LinkName = "../outside/secret" });
                break;
        }
    }

    public void Dispose() => Directory.Delete(_lxcPath, recursive: true);
}
