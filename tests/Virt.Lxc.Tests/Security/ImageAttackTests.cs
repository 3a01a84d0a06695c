// Building small tar files in memory for the tests: the synchronous writer is clearer here.
#pragma warning disable CA1849
using System.Formats.Tar;
using Virt.Containers;
using Virt.Lxc.Containers;
using Virt.Lxc.Hosting;
using Virt.Processes;

namespace Virt.Lxc.Tests.Security;

/// <summary>
/// Issue 15, item 2: crafted OCI layers and tarballs that try to delete, write or link host files through
/// whiteouts and symlinks, unpacked for real by the manager into a real LXC path. Each asserts the host
/// directory's files (hashed) and a neighbouring container are untouched, and that a refused image fails
/// with a clear error and leaves nothing.
/// </summary>
public sealed class ImageAttackTests : IDisposable
{
    private readonly string _lxcPath = "/tmp/vu-" + Guid.NewGuid().ToString("N")[..8];
    private readonly HostTree _host = new();
    private readonly LxcContainerManager _manager;

    public ImageAttackTests()
    {
        Directory.CreateDirectory(_lxcPath);
        _manager = new LxcContainerManager(new LxcOptions { LxcPath = _lxcPath }, new System.IO.Abstractions.FileSystem(), new ProcessRunner());
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task An_opaque_directory_replaced_by_a_symlink_to_a_host_directory_empties_nothing_on_the_host(bool lowerLayer)
    {
        // The reviewed attack: x/, x/.wh..wh..opq, then x a symlink to a host directory — the opaque
        // directory was cleared by path after the layer, through the link.
        var layers = new List<byte[]>();
        if (lowerLayer)
        {
            layers.Add(Images.Tar(tar => { tar.Dir("x/"); tar.File("x/lower"); }));
        }

        layers.Add(Images.Tar(tar => { tar.Dir("x/"); tar.File("x/.wh..wh..opq", string.Empty); tar.Symlink("x", _host.Path); }));
        var layout = Images.Layout(Path.Combine(_lxcPath, "layout"), [.. layers]);

        // By design the image is valid: x is a symlink inside the rootfs (resolved in the container).
        await _manager.CreateAsync(new ContainerSpec("opaque", ContainerRootfs.OciLayout(layout.Path)), Ct);
        _host.AssertUnchanged();
        Assert.Equal(_host.Path, new FileInfo(Path.Combine(_lxcPath, "opaque/rootfs/x")).LinkTarget);
        await _manager.DeleteAsync("opaque", cancellationToken: Ct);
        _host.AssertUnchanged();
    }

    [Theory]
    [InlineData(".wh..")]
    [InlineData(".wh...")]
    [InlineData(".wh.")]
    [InlineData("x/.wh..")]
    [InlineData("x/.wh...")]
    public async Task A_whiteout_naming_the_rootfs_or_its_parent_is_refused_and_removes_nothing(string whiteout)
    {
        var neighbour = await CreateNeighbourAsync();
        var layout = Images.Layout(Path.Combine(_lxcPath, "layout"), Images.Tar(tar => { tar.Dir("x/"); tar.File("x/keep"); }), Images.Tar(tar => tar.File(whiteout, string.Empty)));

        var error = await Assert.ThrowsAsync<ContainerRootfsException>(() => _manager.CreateAsync(new ContainerSpec("evil", ContainerRootfs.OciLayout(layout.Path)), Ct));
        Assert.Contains("whiteout", error.Message, StringComparison.Ordinal);
        Assert.Contains("not a file name", error.Message, StringComparison.Ordinal);
        AssertNothingLeft("evil");
        Assert.Equal(neighbour, NeighbourSnapshot());
        _host.AssertUnchanged();
    }

    [Theory]
    [InlineData(".wh.secret", false)]
    [InlineData(".wh.secret", true)]
    [InlineData(".wh.sub", true)]
    [InlineData(".wh..wh..opq", false)]
    [InlineData(".wh..wh..opq", true)]
    public async Task A_whiteout_under_a_symlink_to_a_host_directory_is_refused_and_removes_nothing(string whiteout, bool linkInLowerLayer)
    {
        var layers = linkInLowerLayer
            ? new[] { Images.Tar(tar => tar.Symlink("l", _host.Path)), Images.Tar(tar => tar.File("l/" + whiteout, string.Empty)) }
            : [Images.Tar(tar => { tar.Symlink("l", _host.Path); tar.File("l/" + whiteout, string.Empty); })];
        var layout = Images.Layout(Path.Combine(_lxcPath, "layout"), layers);

        var error = await Assert.ThrowsAsync<ContainerRootfsException>(() => _manager.CreateAsync(new ContainerSpec("evil", ContainerRootfs.OciLayout(layout.Path)), Ct));
        Assert.Contains("through the symlink 'l'", error.Message, StringComparison.Ordinal);
        AssertNothingLeft("evil");
        _host.AssertUnchanged();
    }

    public static TheoryData<string, string> WritesThroughLinks => new()
    {
        { "file-through-symlink", "through the symlink 'l'" },
        { "directory-through-symlink", "through the symlink 'l'" },
        { "symlink-through-symlink", "through the symlink 'l'" },
        { "fifo-through-symlink", "through the symlink 'l'" },
        { "nested-through-symlink", "through the symlink 'd/l'" },
        { "hardlink-through-symlink", "through the symlink 'l'" },
        { "hardlink-to-symlink", "not a regular file unpacked before it" },
        { "hardlink-to-missing", "not a regular file unpacked before it" },
    };

    [Theory]
    [MemberData(nameof(WritesThroughLinks))]
    public async Task An_entry_written_or_linked_through_a_symlink_to_the_host_is_refused_and_changes_nothing(string kind, string expected)
    {
        foreach (var oci in new[] { false, true })
        {
            var layer = Images.Tar(tar =>
            {
                tar.Symlink("l", _host.Path);
                tar.Symlink("s", _host.SecretPath);
                switch (kind)
                {
                    case "file-through-symlink":
                        tar.File("l/secret", "overwritten");
                        break;
                    case "directory-through-symlink":
                        tar.Dir("l/planted/");
                        break;
                    case "symlink-through-symlink":
                        tar.Symlink("l/planted", "/");
                        break;
                    case "fifo-through-symlink":
                        tar.Fifo("l/planted");
                        break;
                    case "nested-through-symlink":
                        tar.Dir("d/");
                        tar.Symlink("d/l", _host.Path);
                        tar.File("d/l/sub/deep", "overwritten");
                        break;
                    case "hardlink-through-symlink":
                        tar.HardLink("h", "l/secret");
                        break;
                    case "hardlink-to-symlink":
                        tar.HardLink("h", "s");
                        break;
                    case "hardlink-to-missing":
                        tar.HardLink("h", "nothing/here");
                        break;
                }
            });

            var source = oci ? ContainerRootfs.OciLayout(Images.Layout(Path.Combine(_lxcPath, "layout-" + kind), layer).Path) : ContainerRootfs.Tarball(WriteTarball(kind + ".tar", layer));
            var error = await Assert.ThrowsAsync<ContainerRootfsException>(() => _manager.CreateAsync(new ContainerSpec("evil", source), Ct));
            Assert.Contains(expected, error.Message, StringComparison.Ordinal);
            AssertNothingLeft("evil");
            _host.AssertUnchanged();
        }
    }

    [Fact]
    public async Task Entries_replacing_symlinks_to_the_host_replace_the_links_not_their_targets()
    {
        // A lower layer points x at a host directory and f at a host file; the upper layer makes x a real
        // directory with a file in it, f a file, and removes a link by whiteout.
        var lower = Images.Tar(tar => { tar.Symlink("x", _host.Path); tar.Symlink("f", _host.SecretPath); tar.Symlink("gone", _host.Path); tar.Fifo("p"); });
        var upper = Images.Tar(tar => { tar.Dir("x/"); tar.File("x/secret", "inside"); tar.File("f", "inside too"); tar.File(".wh.gone", string.Empty); tar.Symlink("p", _host.SecretPath); });
        var layout = Images.Layout(Path.Combine(_lxcPath, "layout"), lower, upper);

        await _manager.CreateAsync(new ContainerSpec("replaced", ContainerRootfs.OciLayout(layout.Path)), Ct);
        var root = Path.Combine(_lxcPath, "replaced/rootfs");
        Assert.Null(new DirectoryInfo(Path.Combine(root, "x")).LinkTarget);
        Assert.Equal("inside", await File.ReadAllTextAsync(Path.Combine(root, "x/secret"), Ct));
        Assert.Null(new FileInfo(Path.Combine(root, "f")).LinkTarget);
        Assert.False(Path.Exists(Path.Combine(root, "gone")));
        Assert.Equal(_host.SecretPath, new FileInfo(Path.Combine(root, "p")).LinkTarget);
        _host.AssertUnchanged();
    }

    [Fact]
    public async Task Deleting_a_container_whose_rootfs_links_to_host_directories_removes_only_the_container()
    {
        var tarball = WriteTarball("links.tar", Images.Tar(tar =>
        {
            tar.Symlink("abs", _host.Path);
            tar.Symlink("file", _host.SecretPath);
            tar.Dir("d/");
            tar.Symlink("d/rel", "../abs");
            tar.File("d/own", "own");
        }));
        await _manager.CreateAsync(new ContainerSpec("links", ContainerRootfs.Tarball(tarball)), Ct);

        // What a container could plant at run time: a link to the host tree deep in its rootfs.
        File.CreateSymbolicLink(Path.Combine(_lxcPath, "links/rootfs/d/planted"), _host.Path);
        await _manager.DeleteAsync("links", cancellationToken: Ct);
        Assert.False(Directory.Exists(Path.Combine(_lxcPath, "links")));
        _host.AssertUnchanged();
    }

    [Fact]
    public async Task An_entry_hundreds_of_directories_deep_is_refused_and_leaves_nothing()
    {
        // Each level would be tracked and later removed by recursion: depth is what the attack buys.
        var tarball = WriteTarball("deep.tar", Images.Tar(tar => tar.File(string.Concat(Enumerable.Repeat("d/", 300)) + "f")));
        var error = await Assert.ThrowsAsync<ContainerRootfsException>(() => _manager.CreateAsync(new ContainerSpec("deep", ContainerRootfs.Tarball(tarball)), Ct));
        Assert.Contains("directories deep", error.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_lxcPath, "deep")));
        _host.AssertUnchanged();
    }

    [Fact]
    public async Task Deleting_a_container_whose_payload_made_a_tree_thousands_of_directories_deep_does_not_crash_the_process()
    {
        var tarball = WriteTarball("tree.tar", Images.Tar(tar => tar.File("own")));
        await _manager.CreateAsync(new ContainerSpec("tree", ContainerRootfs.Tarball(tarball)), Ct);
        var rootfs = Path.Combine(_lxcPath, "tree/rootfs");

        // What a payload can do at run time: mkdir; cd; repeated far past PATH_MAX (relative steps, as a shell does).
        // (perl, from Debian's essential perl-base: shells resolve cd through $PWD and stop at PATH_MAX.)
        LayoutAttackTests.Run("perl", "-e", "chdir $ARGV[0] or die $!; for (1 .. 3000) { mkdir 'd' or die $!; chdir 'd' or die $! }", rootfs);
        try
        {
            // A recursive removal this deep would overflow the stack and kill the process (not catchable in .NET).
            await _manager.DeleteAsync("tree", cancellationToken: Ct);
            Assert.Empty(await _manager.ListAsync(Ct));
            _host.AssertUnchanged();
        }
        finally
        {
            LayoutAttackTests.Run("rm", "-rf", Path.Combine(_lxcPath, "tree"));
        }
    }

    [Fact]
    public async Task Deleting_a_container_with_a_host_directory_bind_mounted_in_its_rootfs_leaves_the_host_directory_alone()
    {
        var tarball = WriteTarball("mnt.tar", Images.Tar(tar => { tar.Dir("mnt/"); tar.Dir("mnt/host/"); tar.File("mnt/own", "own"); }));
        await _manager.CreateAsync(new ContainerSpec("mounted", ContainerRootfs.Tarball(tarball)), Ct);
        var mountPoint = Path.Combine(_lxcPath, "mounted/rootfs/mnt/host");
        LayoutAttackTests.Run("mount", "--bind", _host.Path, mountPoint);
        try
        {
            await _manager.DeleteAsync("mounted", cancellationToken: Ct);
            _host.AssertUnchanged();
            Assert.Empty(await _manager.ListAsync(Ct));
        }
        finally
        {
            LayoutAttackTests.Run("umount", mountPoint);
        }
    }

    [Fact]
    public async Task An_opaque_whiteout_hides_lower_layers_but_keeps_what_its_own_layer_adds()
    {
        var lower = Images.Tar(tar => { tar.Dir("opt/"); tar.File("opt/old"); tar.Dir("opt/keep/"); tar.File("opt/keep/old"); tar.File("etc-file"); });
        var upper = Images.Tar(tar =>
        {
            tar.File("opt/keep/new");
            tar.File("opt/.wh..wh..opq", string.Empty);
            tar.File("opt/after");
            tar.File(".wh.etc-file", string.Empty);
            tar.File("added");
            tar.File(".wh.added", string.Empty);
        });
        var layout = Images.Layout(Path.Combine(_lxcPath, "layout"), lower, upper);

        await _manager.CreateAsync(new ContainerSpec("opaque", ContainerRootfs.OciLayout(layout.Path)), Ct);
        var root = Path.Combine(_lxcPath, "opaque/rootfs");
        Assert.Equal(["after", "keep"], Directory.GetFileSystemEntries(Path.Combine(root, "opt")).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal(["new"], Directory.GetFileSystemEntries(Path.Combine(root, "opt/keep")).Select(Path.GetFileName));
        Assert.False(File.Exists(Path.Combine(root, "etc-file")));

        // A whiteout hides lower layers only, never what its own layer adds.
        Assert.True(File.Exists(Path.Combine(root, "added")));
    }

    private string WriteTarball(string name, byte[] content)
    {
        var path = Path.Combine(_lxcPath, name);
        File.WriteAllBytes(path, content);
        return path;
    }

    /// <summary>A container in the same LXC path, whose files must survive an attack on another one.</summary>
    private async Task<IReadOnlyDictionary<string, string>> CreateNeighbourAsync()
    {
        var tarball = WriteTarball("neighbour.tar", Images.Tar(tar => { tar.Dir("etc/"); tar.File("etc/hostname", "neighbour"); }));
        await _manager.CreateAsync(new ContainerSpec("neighbour", ContainerRootfs.Tarball(tarball)), Ct);
        return NeighbourSnapshot();
    }

    private Dictionary<string, string> NeighbourSnapshot() =>
        Directory.GetFileSystemEntries(Path.Combine(_lxcPath, "neighbour"), "*", SearchOption.AllDirectories)
            .ToDictionary(path => path, path => File.Exists(path) ? File.ReadAllText(path) : "dir", StringComparer.Ordinal);

    private void AssertNothingLeft(string name)
    {
        Assert.False(Directory.Exists(Path.Combine(_lxcPath, name)));
        Assert.False(Directory.Exists(Path.Combine(_lxcPath, name + ".oci")));
    }

    public void Dispose()
    {
        Directory.Delete(_lxcPath, recursive: true);
        _host.Dispose();
    }
}
