using System.IO.Abstractions.TestingHelpers;
using System.Text;
using Virt.Containers;
using Virt.IO;
using Virt.Lxc.Containers;
using Virt.Lxc.Hosting;
using Virt.Lxc.Tests.Containers.Fakes;

namespace Virt.Lxc.Tests.Containers;

/// <summary>
/// The container manager's state handling on an in-memory host: what create writes (the record, crash-safely,
/// owner-only), what a failed create leaves (nothing), what delete removes (record, directory, and the cgroups
/// a crash left). Nothing runs: no LXC monitor listens on these containers' command sockets, so each is stopped.
/// </summary>
public sealed class LxcContainerManagerStateTests
{
    private const string RootfsDirectory = "/srv/rootfs";
    private readonly HostFileSystem _files = new();
    private readonly ScriptedTools _tools = new();
    private readonly string _lxcPath = "/lxc-" + Guid.NewGuid().ToString("N")[..8];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private LxcContainerManager Manager() => new(new LxcOptions { LxcPath = _lxcPath, BusyboxPath = "/bin/busybox" }, _files, _tools);

    private string DirectoryOf(string name) => $"{_lxcPath}/{name}";

    private string RecordOf(string name) => $"{DirectoryOf(name)}/virt-container.json";

    private static ContainerSpec OnDirectory(string name) => new(name, ContainerRootfs.Directory(RootfsDirectory));

    [Fact]
    public async Task Create_writes_the_record_crash_safely_and_owner_only_and_another_manager_finds_it()
    {
        _files.AddDirectory(RootfsDirectory);

        await Manager().CreateAsync(OnDirectory("web"), Ct);

        // A privileged container's directory is root's alone (0700), and the record is written beside its
        // final name with its final mode, then renamed: StateFile's crash-safe write.
        Assert.Contains((DirectoryOf("web"), OwnerOnly.DirectoryMode), _files.ModesGiven);
        var written = Assert.Single(_files.ModesGiven, mode => mode.Path.StartsWith(RecordOf("web"), StringComparison.Ordinal));
        Assert.StartsWith(RecordOf("web") + ".tmp-", written.Path, StringComparison.Ordinal);
        Assert.Equal(OwnerOnly.FileMode, written.Mode);
        Assert.Equal(["virt-container.json"], _files.Directory.EnumerateFileSystemEntries(DirectoryOf("web")).Select(Path.GetFileName));
        Assert.Contains("\"web\"", _files.GetFile(RecordOf("web")).TextContents, StringComparison.Ordinal);

        // A second manager on the same LXC path (another process) reads the same container back.
        var again = await Manager().GetAsync("web", Ct);
        Assert.Equal(RootfsDirectory, again.Spec.Rootfs.Path);
        Assert.Equal(ContainerState.Stopped, (await again.GetStatusAsync(Ct)).State);
        Assert.Equal(["web"], (await Manager().ListAsync(Ct)).Select(container => container.Name));
    }

    [Fact]
    public async Task Creating_a_name_that_exists_fails_and_keeps_the_record()
    {
        _files.AddDirectory(RootfsDirectory);
        var manager = Manager();
        await manager.CreateAsync(OnDirectory("web"), Ct);
        var record = _files.GetFile(RecordOf("web")).Contents;

        await Assert.ThrowsAsync<ContainerAlreadyExistsException>(() => manager.CreateAsync(OnDirectory("web") with { Hostname = "other" }, Ct));

        Assert.Equal(record, _files.GetFile(RecordOf("web")).Contents);
    }

    [Fact]
    public async Task A_create_whose_rootfs_fails_leaves_nothing_behind()
    {
        var error = await Assert.ThrowsAsync<ContainerRootfsException>(() => Manager().CreateAsync(OnDirectory("web"), Ct));

        Assert.Contains(RootfsDirectory, error.Message, StringComparison.Ordinal);
        Assert.False(_files.Directory.Exists(DirectoryOf("web")));
        Assert.Empty(await Manager().ListAsync(Ct));
        await Assert.ThrowsAsync<ContainerNotFoundException>(() => Manager().GetAsync("web", Ct));
    }

    [Fact]
    public async Task A_create_whose_record_cannot_be_written_leaves_nothing_behind()
    {
        _files.AddDirectory(RootfsDirectory);
        _files.FailCreating = path => path.StartsWith(RecordOf("web"), StringComparison.Ordinal);

        var error = await Assert.ThrowsAsync<IOException>(() => Manager().CreateAsync(OnDirectory("web"), Ct));

        Assert.Contains("No space left on device", error.Message, StringComparison.Ordinal);
        Assert.False(_files.Directory.Exists(DirectoryOf("web")));
        Assert.Empty(await Manager().ListAsync(Ct));
        Assert.True(_files.Directory.Exists(RootfsDirectory), "a directory rootfs is the user's: a failed create keeps it");
    }

    [Fact]
    public async Task A_directory_without_a_record_is_no_container_and_the_next_create_replaces_it()
    {
        // What a crash while the rootfs was being built leaves.
        _files.AddFile($"{DirectoryOf("web")}/.rootfs-staging/half-written", new MockFileData("x"));
        _files.AddDirectory(RootfsDirectory);

        Assert.Empty(await Manager().ListAsync(Ct));
        await Assert.ThrowsAsync<ContainerNotFoundException>(() => Manager().GetAsync("web", Ct));

        await Manager().CreateAsync(OnDirectory("web"), Ct);

        Assert.False(_files.Directory.Exists($"{DirectoryOf("web")}/.rootfs-staging"));
        Assert.True(_files.File.Exists(RecordOf("web")));
    }

    [Fact]
    public async Task Delete_removes_the_record_the_directory_and_the_cgroups_a_crash_left_and_nothing_of_another_container()
    {
        _files.AddDirectory(RootfsDirectory);
        var manager = Manager();
        await manager.CreateAsync(OnDirectory("web"), Ct);
        foreach (var cgroup in new[] { "lxc.payload.web", "lxc.monitor.web-1", "lxc.payload.web/init.scope", "lxc.payload.webserver" })
        {
            _files.AddDirectory($"{HostFileSystem.CgroupRoot}/{cgroup}");
        }

        await manager.DeleteAsync("web", cancellationToken: Ct);

        Assert.False(_files.Directory.Exists(DirectoryOf("web")));
        Assert.Equal(["lxc.payload.webserver"], _files.Directory.EnumerateDirectories(HostFileSystem.CgroupRoot, "lxc.*").Select(Path.GetFileName));
        Assert.True(_files.Directory.Exists(RootfsDirectory), "a directory rootfs is the user's: delete keeps it");
        await Assert.ThrowsAsync<ContainerNotFoundException>(() => manager.GetAsync("web", Ct));
        await Assert.ThrowsAsync<ContainerNotFoundException>(() => manager.DeleteAsync("web", cancellationToken: Ct));
        Assert.Empty(_tools.Commands);
    }

    [Fact]
    public async Task A_busybox_rootfs_is_built_through_the_seam_and_moved_into_place()
    {
        _files.AddFile("/bin/busybox", new MockFileData(StaticElf()));
        _tools.Answer = spec => spec.FileName == "/bin/busybox" ? (0, "bin/sh\nsbin/init\nusr/bin/env\n../escape\n") : (1, string.Empty);

        await Manager().CreateAsync(new ContainerSpec("tiny", ContainerRootfs.Busybox()), Ct);

        var rootfs = $"{DirectoryOf("tiny")}/rootfs";
        Assert.Equal(["/bin/busybox --list-full"], _tools.Commands);
        Assert.Equal(StaticElf(), _files.GetFile($"{rootfs}/bin/busybox").Contents);
        Assert.Equal("/bin/busybox", _files.FileInfo.New($"{rootfs}/sbin/init").LinkTarget);
        Assert.Equal("/bin/busybox", _files.FileInfo.New($"{rootfs}/usr/bin/env").LinkTarget);
        Assert.False(_files.File.Exists($"{DirectoryOf("tiny")}/escape"), "an applet path with '..' is skipped");
        Assert.Contains(($"{DirectoryOf("tiny")}/.rootfs-staging/bin/busybox", (UnixFileMode)Convert.ToInt32("755", 8)), _files.ModesGiven);
        Assert.Contains("::sysinit:/etc/init.d/rcS", _files.GetFile($"{rootfs}/etc/inittab").TextContents, StringComparison.Ordinal);
        Assert.False(_files.Directory.Exists($"{DirectoryOf("tiny")}/.rootfs-staging"));
        Assert.True(_files.File.Exists(RecordOf("tiny")));
    }

    [Fact]
    public async Task A_dynamically_linked_busybox_is_refused_and_leaves_nothing_behind()
    {
        var dynamic = StaticElf();
        dynamic[56] = 1;
        Encoding.ASCII.GetBytes("\u0003\0\0\0").CopyTo(dynamic, 64);
        _files.AddFile("/bin/busybox", new MockFileData(dynamic));

        var error = await Assert.ThrowsAsync<ContainerRootfsException>(() => Manager().CreateAsync(new ContainerSpec("tiny", ContainerRootfs.Busybox()), Ct));

        Assert.Contains("busybox-static", error.Message, StringComparison.Ordinal);
        Assert.False(_files.Directory.Exists(DirectoryOf("tiny")));
        Assert.Empty(_tools.Commands);
    }

    /// <summary>A 64-bit ELF header with no program headers, so no PT_INTERP (the second test adds one at 64).</summary>
    private static byte[] StaticElf()
    {
        var elf = new byte[64 + 56];
        elf[0] = 0x7f;
        "ELF"u8.CopyTo(elf.AsSpan(1));
        elf[4] = 2;
        BitConverter.GetBytes(64L).CopyTo(elf, 32);
        BitConverter.GetBytes((ushort)56).CopyTo(elf, 54);
        return elf;
    }
}
