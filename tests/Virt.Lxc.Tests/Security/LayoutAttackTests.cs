using Virt.Containers;
using Virt.Lxc.Containers;
using Virt.Lxc.Hosting;
using Virt.Processes;

namespace Virt.Lxc.Tests.Security;

/// <summary>
/// Issue 15, item 8: an OCI layout whose files lead out of it — a blob symlinked to a host file (whose hash
/// the error used to show), to <c>/dev/zero</c> (hashed forever), a FIFO (blocked forever), a device, an
/// oversized index — each fails quickly with a clear error that discloses nothing of the host file.
/// </summary>
public sealed class LayoutAttackTests : IDisposable
{
    private readonly string _lxcPath = "/tmp/vu-" + Guid.NewGuid().ToString("N")[..8];
    private readonly HostTree _host = new();
    private readonly LxcContainerManager _manager;
    private readonly OciLayout _layout;

    public LayoutAttackTests()
    {
        Directory.CreateDirectory(_lxcPath);
        _manager = new LxcContainerManager(new LxcOptions { LxcPath = _lxcPath }, new System.IO.Abstractions.FileSystem(), new ProcessRunner());
        _layout = Images.Layout(Path.Combine(_lxcPath, "layout"), Images.Tar(tar => { tar.Dir("etc/"); tar.File("etc/hostname", "image"); }));
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task The_untampered_layout_unpacks()
    {
        await _manager.CreateAsync(new ContainerSpec("fine", ContainerRootfs.OciLayout(_layout.Path)), Ct);
        Assert.Equal("image", await File.ReadAllTextAsync(Path.Combine(_lxcPath, "fine/rootfs/etc/hostname"), Ct));
    }

    [Theory]
    [InlineData("layer")]
    [InlineData("manifest")]
    [InlineData("config")]
    public async Task A_blob_symlinked_to_a_host_file_is_refused_without_disclosing_its_hash(string which)
    {
        var blob = _layout.BlobPath(which switch { "layer" => _layout.Layers[0], "manifest" => _layout.Manifest, _ => _layout.Config });
        File.Delete(blob);
        File.CreateSymbolicLink(blob, _host.SecretPath);

        var error = await CreateFailsAsync(Ct);
        Assert.Contains("symlink", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(_host.SecretHash, error.ToString(), StringComparison.Ordinal);
        _host.AssertUnchanged();
    }

    [Fact]
    public async Task A_blob_hard_linked_from_elsewhere_with_the_wrong_content_does_not_disclose_its_hash()
    {
        // A regular file that is not the blob (a hard link cannot be told from the blob): the error says
        // the digest does not match, without the hash the content has.
        var blob = _layout.BlobPath(_layout.Layers[0]);
        var size = new FileInfo(blob).Length;
        File.Delete(blob);
        var content = new byte[size];
        (await File.ReadAllBytesAsync(_host.SecretPath, Ct)).CopyTo(content, 0);
        await File.WriteAllBytesAsync(blob, content, Ct);
        var contentHash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(content));

        var error = await CreateFailsAsync(Ct);
        Assert.Contains("does not hash to its digest", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(contentHash, error.ToString(), StringComparison.Ordinal);
    }

    [Fact(Timeout = 120_000)]
    public async Task A_blob_symlinked_to_dev_zero_fails_at_once()
    {
        var ct = TestContext.Current.CancellationToken;
        var blob = _layout.BlobPath(_layout.Layers[0]);
        File.Delete(blob);
        File.CreateSymbolicLink(blob, "/dev/zero");

        var error = await CreateFailsAsync(ct);
        Assert.Contains("symlink", error.Message, StringComparison.Ordinal);
    }

    [Theory(Timeout = 120_000)]
    [InlineData("fifo", "layer")]
    [InlineData("fifo", "index")]
    [InlineData("device", "layer")]
    [InlineData("directory", "manifest")]
    public async Task A_layout_file_that_is_not_a_regular_file_is_refused_without_blocking(string kind, string which)
    {
        var ct = TestContext.Current.CancellationToken;
        var path = which switch { "index" => Path.Combine(_layout.Path, "index.json"), "manifest" => _layout.BlobPath(_layout.Manifest), _ => _layout.BlobPath(_layout.Layers[0]) };
        File.Delete(path);
        switch (kind)
        {
            case "fifo":
                Run("mkfifo", path);
                break;
            case "device":
                // /dev/zero's numbers: a read of it would never end.
                Run("mknod", path, "c", "1", "5");
                break;
            default:
                Directory.CreateDirectory(path);
                break;
        }

        var error = await CreateFailsAsync(ct);
        Assert.Contains("not a regular file", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("index")]
    [InlineData("blobs")]
    [InlineData("sha256")]
    public async Task A_layout_whose_index_or_blob_directory_is_a_symlink_is_refused(string which)
    {
        // The link leads to a copy of the real files: even a correct target is not followed.
        var copy = Path.Combine(_host.Path, "copy");
        CopyDirectory(_layout.Path, copy);
        var path = which switch { "index" => Path.Combine(_layout.Path, "index.json"), "blobs" => Path.Combine(_layout.Path, "blobs"), _ => Path.Combine(_layout.Path, "blobs/sha256") };
        var target = Path.Combine(copy, Path.GetRelativePath(_layout.Path, path));
        if (Directory.Exists(path))
        {
            Directory.Delete(path, recursive: true);
        }
        else
        {
            File.Delete(path);
        }

        File.CreateSymbolicLink(path, target);

        var error = await CreateFailsAsync(Ct);
        Assert.Contains("symlink", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_oversized_index_is_refused_before_it_is_read()
    {
        var index = Path.Combine(_layout.Path, "index.json");
        var text = await File.ReadAllTextAsync(index, Ct);
        await File.WriteAllTextAsync(index, text + new string(' ', 5 << 20), Ct);

        var error = await CreateFailsAsync(Ct);
        Assert.Contains("more than the 4 MiB", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_blob_larger_than_its_descriptor_says_is_refused()
    {
        var blob = _layout.BlobPath(_layout.Layers[0]);
        await File.AppendAllTextAsync(blob, new string('\0', 4096), Ct);

        var error = await CreateFailsAsync(Ct);
        Assert.Contains("but its descriptor says", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_archived_layout_whose_blob_is_a_symlink_to_a_host_file_is_refused_without_disclosing_its_hash()
    {
        var blob = _layout.BlobPath(_layout.Layers[0]);
        File.Delete(blob);
        File.CreateSymbolicLink(blob, _host.SecretPath);
        var archive = Path.Combine(_lxcPath, "layout.tar");
        Run("tar", "-cf", archive, "-C", _layout.Path, ".");

        var error = await Assert.ThrowsAsync<ContainerRootfsException>(() => _manager.CreateAsync(new ContainerSpec("evil", ContainerRootfs.OciLayout(archive)), Ct));
        Assert.Contains("symlink", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(_host.SecretHash, error.ToString(), StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_lxcPath, "evil")));
        _host.AssertUnchanged();
    }

    [Fact(Timeout = 120_000)]
    public async Task A_tarball_that_is_a_fifo_is_refused_without_blocking()
    {
        var ct = TestContext.Current.CancellationToken;
        var fifo = Path.Combine(_lxcPath, "rootfs.tar");
        Run("mkfifo", fifo);

        var error = await Assert.ThrowsAsync<ContainerRootfsException>(() => _manager.CreateAsync(new ContainerSpec("evil", ContainerRootfs.Tarball(fifo)), ct));
        Assert.Contains("not a regular file", error.Message, StringComparison.Ordinal);
    }

    private async Task<ContainerRootfsException> CreateFailsAsync(CancellationToken cancellationToken = default)
    {
        var error = await Assert.ThrowsAsync<ContainerRootfsException>(() => _manager.CreateAsync(new ContainerSpec("evil", ContainerRootfs.OciLayout(_layout.Path)), cancellationToken));
        Assert.False(Directory.Exists(Path.Combine(_lxcPath, "evil")));
        return error;
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    internal static void Run(string program, params string[] arguments)
    {
        using var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(program, arguments) { RedirectStandardError = true })!;
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', arguments)} failed: {error}");
    }

    public void Dispose()
    {
        Directory.Delete(_lxcPath, recursive: true);
        _host.Dispose();
    }
}
