using Virt.Containers;
using Virt.Lxc.Containers;
using Virt.Lxc.Hosting;
using Virt.Processes;

namespace Virt.Lxc.IntegrationTests.Infrastructure;

/// <summary>
/// A private LXC path (short, under /tmp), a manager on it, and the bridges and interfaces a test asks
/// for. Dispose kills and deletes every container in that path and removes each interface it created,
/// by the names it chose — never by pattern.
/// </summary>
internal sealed class LxcTestHost : IAsyncDisposable
{
    private readonly List<string> _interfaces = [];

    private LxcTestHost(string lxcPath, LxcOptions options)
    {
        LxcPath = lxcPath;
        Options = options;
        Manager = new LxcContainerManager(options, new System.IO.Abstractions.FileSystem(), new ProcessRunner());
    }

    public string LxcPath { get; }

    public LxcOptions Options { get; }

    public LxcContainerManager Manager { get; }

    public static LxcTestHost Create(Action<LxcOptions>? configure = null)
    {
        HostRequirement.RequireLxc();
        var path = "/tmp/vl-" + Guid.NewGuid().ToString("N")[..8];
        Directory.CreateDirectory(path);
        var options = new LxcOptions { LxcPath = path, StartTimeout = TimeSpan.FromSeconds(30) };
        configure?.Invoke(options);
        return new LxcTestHost(path, options);
    }

    /// <summary>A manager of the same path with other options (a second manager, as after a restart).</summary>
    public LxcContainerManager NewManager(Action<LxcOptions>? configure = null)
    {
        var options = new LxcOptions { LxcPath = LxcPath, StartTimeout = Options.StartTimeout, CgroupKeys = Options.CgroupKeys, LimitEnforcement = Options.LimitEnforcement };
        configure?.Invoke(options);
        return new LxcContainerManager(options, new System.IO.Abstractions.FileSystem(), new ProcessRunner());
    }

    public static ContainerSpec Busybox(string name) => new(name, ContainerRootfs.Busybox());

    /// <summary>A bridge with no address: containers on it reach each other and nothing else.</summary>
    public string CreateBridge()
    {
        var name = "vtb" + Guid.NewGuid().ToString("N")[..8];
        Run("ip", "link", "add", name, "type", "bridge");
        _interfaces.Add(name);
        Run("ip", "link", "set", name, "up");
        return name;
    }

    /// <summary>Runs a host tool (the storage tests' helper, shared as source).</summary>
    public static string Run(string program, params string[] arguments) => Virt.Storage.IntegrationTests.Infrastructure.Host.Run(program, arguments);

    public async ValueTask DisposeAsync()
    {
        foreach (var container in await Manager.ListAsync())
        {
            try
            {
                await Manager.DeleteAsync(container.Name, force: true);
            }
            catch (VirtException)
            {
                // Keep cleaning the rest; leftovers would show in the leak test.
            }
        }

        foreach (var name in _interfaces)
        {
            if (Directory.Exists("/sys/class/net/" + name))
            {
                Run("ip", "link", "del", name);
            }
        }

        if (Directory.Exists(LxcPath))
        {
            Directory.Delete(LxcPath, recursive: true);
        }
    }
}
