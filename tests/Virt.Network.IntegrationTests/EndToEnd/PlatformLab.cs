using Virt.Containers;
using Virt.Kvm.Host;
using Virt.Kvm.Hosting;
using Virt.Kvm.Testing;
using Virt.Kvm.VirtualMachines;
using Virt.Lxc.Containers;
using Virt.Lxc.Hosting;
using Virt.Network.Hosting;
using Virt.Network.IntegrationTests.Infrastructure;
using Virt.Network.Manager;
using Virt.Networking;
using Virt.Processes;
using Virt.VirtualMachines;

namespace Virt.Network.IntegrationTests.EndToEnd;

/// <summary>
/// The whole platform on one machine: "hosts" are network namespaces the lab makes, each with a network manager of its
/// own (its own state directory); the test guest (QEMU) and busybox containers (LXC) run in the process's namespace and
/// their ports are moved into the host namespace whose manager they join. Dispose stops every VM and container, deletes
/// every network, and removes the namespaces and directories by the names it made.
/// </summary>
internal sealed class PlatformLab : IAsyncDisposable
{
    private readonly List<TestNamespace> _namespaces = [];
    private readonly List<NetworkManager> _networks = [];
    private readonly List<string> _directories = [];
    private readonly List<KvmVirtualMachineManager> _vmManagers = [];
    private readonly List<LxcContainerManager> _containerManagers = [];

    private PlatformLab()
    {
    }

    public static PlatformLab Create()
    {
        var guest = EmbeddedGuest.DefaultDirectory;
        HostRequirement.Require(File.Exists(Path.Combine(guest, "vmlinux")) && File.Exists(Path.Combine(guest, "initramfs.gz")), $"the test guest in {guest} (run scripts/build-guest.sh)");
        HostRequirement.Require(File.Exists("/usr/bin/qemu-system-x86_64") && File.Exists("/usr/share/qemu/qboot.rom"), "QEMU (apt-get install qemu-system-x86)");
        HostRequirement.RequireLxc();
        HostRequirement.Require(File.Exists("/usr/sbin/dnsmasq"), "dnsmasq (apt-get install dnsmasq-base)");
        return new PlatformLab();
    }

    /// <summary>A namespace standing for one host.</summary>
    public TestNamespace Host(string prefix)
    {
        var host = TestNamespace.Create(prefix);
        _namespaces.Add(host);
        return host;
    }

    /// <summary>A veth pair joining two hosts, with an address on each end (the underlay or the uplink).</summary>
    public static void Cable(TestNamespace left, string leftName, string leftCidr, TestNamespace right, string rightName, string rightCidr)
    {
        TestNamespace.Run("ip", "link", "add", leftName, "netns", left.Name, "type", "veth", "peer", "name", rightName, "netns", right.Name);
        left.Exec("ip", "addr", "add", leftCidr, "dev", leftName);
        left.Exec("ip", "link", "set", leftName, "up");
        right.Exec("ip", "addr", "add", rightCidr, "dev", rightName);
        right.Exec("ip", "link", "set", rightName, "up");
    }

    /// <summary>A network manager for a host, on a state directory of its own.</summary>
    public NetworkManager Networks(TestNamespace host)
    {
        var manager = new NetworkManager(new NetworkOptions { StateDirectory = Directory("net-"), NetworkNamespace = host.Path }, new System.IO.Abstractions.FileSystem(), new ProcessRunner());
        _networks.Add(manager);
        return manager;
    }

    /// <summary>A VM manager whose NICs on managed networks join <paramref name="ports"/>.</summary>
    public KvmVirtualMachineManager Vms(INetworkPorts ports)
    {
        var runner = new ProcessRunner();
        var fileSystem = new System.IO.Abstractions.FileSystem();
        var manager = new KvmVirtualMachineManager(new KvmOptions { StateDirectory = Directory("vms-") }, runner, new QemuCapabilityProbe(runner), new AcceleratorProbe(fileSystem), TimeProvider.System, networkPorts: ports);
        _vmManagers.Add(manager);
        return manager;
    }

    /// <summary>A container manager (a short LXC path under /tmp) whose NICs on managed networks join <paramref name="ports"/>.</summary>
    public LxcContainerManager Containers(INetworkPorts ports)
    {
        var path = "/tmp/vn-" + Guid.NewGuid().ToString("N")[..8];
        System.IO.Directory.CreateDirectory(path);
        _directories.Add(path);
        var manager = new LxcContainerManager(new LxcOptions { LxcPath = path, StartTimeout = TimeSpan.FromSeconds(60) }, new System.IO.Abstractions.FileSystem(), new ProcessRunner(), networkPorts: ports);
        _containerManagers.Add(manager);
        return manager;
    }

    /// <summary>The test guest running <paramref name="script"/> (busybox sh, no commas: it travels in a -fw_cfg string).</summary>
    public static VmSpec Guest(string name, string script, params VmNic[] nics) =>
        EmbeddedGuest.CreateSpec(name) with { Nics = nics, ExtraArguments = ["-fw_cfg", "name=opt/virt/script,string=" + script] };

    public static ContainerSpec Busybox(string name, params ContainerNic[] nics) => new(name, ContainerRootfs.Busybox()) { Network = nics };

    /// <summary>Waits until the guest's serial console shows <paramref name="text"/>, or fails with the console.</summary>
    public static async Task<string> WaitForSerialAsync(IVirtualMachine vm, string text, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var log = File.Exists(vm.Endpoints.SerialLog) ? await File.ReadAllTextAsync(vm.Endpoints.SerialLog) : string.Empty;
            if (log.Contains(text, StringComparison.Ordinal))
            {
                return log;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"VM '{vm.Name}' did not print '{text}' within {timeout.TotalSeconds:0} s; serial console:\n{log}");
            }

            await Task.Delay(100);
        }
    }

    /// <summary>Runs a command in a container; returns its exit code and output.</summary>
    public static async Task<(int ExitCode, string Output)> ExecAsync(IContainer container, params string[] command)
    {
        var result = await container.ExecAsync(new ContainerExecRequest(command) { Timeout = TimeSpan.FromSeconds(60) }, TestContext.Current.CancellationToken);
        return (result.Outcome == ContainerExecOutcome.Exited ? result.ExitCode : -1, result.StandardOutput + result.StandardError);
    }

    private string Directory(string prefix)
    {
        var path = System.IO.Directory.CreateTempSubdirectory("virt-" + prefix).FullName;
        _directories.Add(path);
        return path;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var vms in _vmManagers)
        {
            foreach (var vm in await vms.ListAsync())
            {
                await IgnoreAsync(() => vms.DeleteAsync(vm.Name, force: true));
            }

            await vms.DisposeAsync();
        }

        foreach (var containers in _containerManagers)
        {
            foreach (var container in await containers.ListAsync())
            {
                await IgnoreAsync(() => containers.DeleteAsync(container.Name, force: true));
            }
        }

        foreach (var networks in _networks)
        {
            foreach (var network in await networks.ListAsync())
            {
                await IgnoreAsync(() => networks.DeleteAsync(network.Definition.Name));
            }
        }

        foreach (var host in _namespaces)
        {
            host.Dispose();
        }

        foreach (var directory in _directories.Where(System.IO.Directory.Exists))
        {
            System.IO.Directory.Delete(directory, recursive: true);
        }
    }

    private static async Task IgnoreAsync(Func<Task> cleanup)
    {
        try
        {
            await cleanup();
        }
        catch (VirtException)
        {
            // Keep cleaning the rest; the namespaces' removal takes whatever is left in them.
        }
    }
}
