using System.IO.Abstractions;
using Microsoft.Extensions.Logging;
using Virt.Lxc.Host;
using Virt.Lxc.Hosting;
using Virt.Processes;

namespace Virt.Lxc.Containers;

/// <summary>What every container of a manager shares: options, host seams, the cgroup layout, the event hub and the optional network backend.</summary>
internal sealed class LxcContext(LxcOptions options, IFileSystem fileSystem, IProcessRunner processes, ILogger logger, TimeProvider timeProvider, Virt.Networking.INetworkPorts? networkPorts = null)
{
    private CgroupLayout? _layout;
    private bool? _appArmorEnabled;
    private bool _lxcStartInstalled;

    public LxcOptions Options { get; } = options;

    public IFileSystem FileSystem { get; } = fileSystem;

    public IProcessRunner Processes { get; } = processes;

    public ILogger Logger { get; } = logger;

    public TimeProvider Time { get; } = timeProvider;

    /// <summary>Asked before every start (the cluster's, when registered); null: every start may go ahead.</summary>
    public Virt.Clustering.IGuestStartGate? StartGate { get; init; }

    /// <summary>Puts NICs on managed networks; registered by <c>AddNetwork()</c>, null without it.</summary>
    public Virt.Networking.INetworkPorts? NetworkPorts { get; } = networkPorts;

    public ContainerEventHub Events { get; } = new();

    /// <summary>Read once: the host's cgroup mounts do not change under a running application.</summary>
    public CgroupLayout Layout => _layout ??= CgroupLayout.Detect(FileSystem);

    /// <summary>Read once: whether AppArmor is enabled is settled at boot.</summary>
    public bool AppArmorEnabled => _appArmorEnabled ??= Preflight.IsAppArmorEnabled(FileSystem);

    /// <summary>
    /// Whether <c>lxc-start</c> is installed, looked up on PATH until found and then not again (a start pays
    /// for the search once). One removed later still fails the start, with the process runner's "cannot start".
    /// </summary>
    public bool LxcStartInstalled => _lxcStartInstalled || (_lxcStartInstalled = Preflight.ToolExists(Options, "lxc-start", FileSystem));

    public ContainerPaths PathsOf(string name) => new(Options.LxcPath, name);

    /// <summary>Runs an lxc-* tool on this container's LXC path.</summary>
    public Task<ProcessResult> RunToolAsync(string tool, string name, IEnumerable<string> arguments, TimeSpan timeout, CancellationToken cancellationToken) =>
        Processes.RunAsync(new ProcessSpec(Options.Tool(tool), ["-n", name, "-P", Options.LxcPath, .. arguments]) { Timeout = timeout }, cancellationToken);
}
