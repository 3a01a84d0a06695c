using System.IO.Abstractions.TestingHelpers;
using Virt.Containers;
using Virt.Lxc.Containers;
using Virt.Lxc.Hosting;
using Virt.Lxc.Tests.Containers.Fakes;

namespace Virt.Lxc.Tests.Containers;

/// <summary>
/// What a start does before <c>lxc-start</c>, on an in-memory host: the checks that are made once per manager
/// (the tools) still refuse a host without LXC, and the config is written only when it changed. No LXC monitor
/// listens on these containers' command sockets, so a start whose lxc-start "succeeds" ends finding no init.
/// </summary>
public sealed class StartPathTests
{
    private const string RootfsDirectory = "/srv/rootfs";
    private const string Tools = "/opt/lxc-tools";
    private readonly HostFileSystem _files = new();
    private readonly ScriptedTools _tools = new();
    private readonly string _lxcPath = "/lxc-" + Guid.NewGuid().ToString("N")[..8];

    public StartPathTests() => _files.AddDirectory(RootfsDirectory);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private ContainerPaths Paths => new(_lxcPath, "web");

    private async Task<IContainer> CreateAsync() =>
        await new LxcContainerManager(new LxcOptions { LxcPath = _lxcPath, ToolsDirectory = Tools }, _files, _tools)
            .CreateAsync(new ContainerSpec("web", ContainerRootfs.Directory(RootfsDirectory)), Ct);

    [Fact]
    public async Task A_host_without_lxc_start_is_refused_before_anything_runs_and_once_installed_the_same_manager_finds_it()
    {
        var container = await CreateAsync();

        var refused = await Assert.ThrowsAsync<ContainerPreflightException>(() => container.StartAsync(cancellationToken: Ct));
        Assert.Contains(refused.Problems, problem => problem.Contains("apt-get install lxc", StringComparison.Ordinal));
        Assert.DoesNotContain(_tools.Commands, command => command.Contains("lxc-start", StringComparison.Ordinal));

        _files.AddFile(Tools + "/lxc-start", new MockFileData("ELF"));
        var error = await Assert.ThrowsAsync<ContainerStartException>(() => container.StartAsync(cancellationToken: Ct));
        Assert.Equal(ContainerStartFailure.Init, error.Failure);
        Assert.Contains(_tools.Commands, command => command.StartsWith(Tools + "/lxc-start ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_start_the_cluster_gate_refuses_runs_nothing_and_says_why()
    {
        _files.AddFile(Tools + "/lxc-start", new MockFileData("ELF"));
        var gate = new RefusingGate();
        var container = await new LxcContainerManager(new LxcOptions { LxcPath = _lxcPath, ToolsDirectory = Tools }, _files, _tools, startGate: gate)
            .CreateAsync(new ContainerSpec("web", ContainerRootfs.Directory(RootfsDirectory)), Ct);

        var refused = await Assert.ThrowsAsync<VirtException>(() => container.StartAsync(cancellationToken: Ct));
        Assert.Equal(VirtErrorKind.Refused, refused.ErrorKind);
        Assert.Equal((Virt.Clustering.ClusterGuestKind.Container, "web"), gate.Asked.Single());
        Assert.DoesNotContain(_tools.Commands, command => command.Contains("lxc-start", StringComparison.Ordinal));
        Assert.False(_files.File.Exists(Paths.Config));
    }

    private sealed class RefusingGate : Virt.Clustering.IGuestStartGate
    {
        public List<(Virt.Clustering.ClusterGuestKind, string)> Asked { get; } = [];

        public Task CheckStartAsync(Virt.Clustering.ClusterGuestKind kind, string name, CancellationToken cancellationToken = default)
        {
            Asked.Add((kind, name));
            throw new VirtException(VirtErrorKind.Refused, $"node node-b may not start {kind} {name}: node node-a owns it");
        }
    }

    [Fact]
    public async Task The_config_is_written_when_missing_or_changed_and_left_alone_when_unchanged()
    {
        _files.AddFile(Tools + "/lxc-start", new MockFileData("ELF"));
        var container = await CreateAsync();

        await Assert.ThrowsAsync<ContainerStartException>(() => container.StartAsync(cancellationToken: Ct));
        var written = await _files.File.ReadAllTextAsync(Paths.Config, Ct);
        Assert.Contains("lxc.rootfs.path", written, StringComparison.Ordinal);

        // Unchanged: the file is not replaced (a rewrite is a new file renamed over it, with a new write time).
        var before = new DateTime(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        _files.File.SetLastWriteTimeUtc(Paths.Config, before);
        await Assert.ThrowsAsync<ContainerStartException>(() => container.StartAsync(cancellationToken: Ct));
        Assert.Equal(before, _files.File.GetLastWriteTimeUtc(Paths.Config));

        // Changed by hand, or missing: the generated config is written again.
        await _files.File.WriteAllTextAsync(Paths.Config, written + "lxc.environment = EDITED=1\n", Ct);
        await Assert.ThrowsAsync<ContainerStartException>(() => container.StartAsync(cancellationToken: Ct));
        Assert.Equal(written, await _files.File.ReadAllTextAsync(Paths.Config, Ct));

        _files.File.Delete(Paths.Config);
        await Assert.ThrowsAsync<ContainerStartException>(() => container.StartAsync(cancellationToken: Ct));
        Assert.Equal(written, await _files.File.ReadAllTextAsync(Paths.Config, Ct));
    }
}
