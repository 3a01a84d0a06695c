using Microsoft.Extensions.DependencyInjection;
using Virt.Containers;
using Virt.Hosting;
using Virt.Lxc.Hosting;

namespace Virt.Readme.Tests.Snippets;

/// <summary>Compiled, never run: it needs an OCI layout and a bridge.</summary>
internal static class QuickstartContainer
{
    public static async Task RunAsync(IServiceCollection services, IServiceProvider provider)
    {
        #region README.md: a container
        services.AddVirt().AddLxc(lxc => lxc.LxcPath = "/var/lib/virt/lxc");
        var containers = provider.GetRequiredService<IContainerManager>();
        var web = await containers.CreateAsync(new ContainerSpec("web-1", ContainerRootfs.OciLayout("/srv/images/web", "web:1"))
        {
            Limits = new ContainerLimits { MemoryMiB = 256, CpuQuota = 0.5, Pids = 512 },   // read back from cgroupfs after start
            Network = [new ContainerNic(ContainerNicKind.Veth, "vmbr0") { Ipv4Address = "10.0.3.2/24" }],
            Unprivileged = true,                                                          // container root = host uid 100000
        });
        await web.StartAsync();
        var result = await web.ExecAsync(new ContainerExecRequest(["cat", "/etc/os-release"]));   // exit code, signal, or attach failure
        await web.StopAsync(TimeSpan.FromSeconds(10));
        #endregion
        GC.KeepAlive(result);
    }
}
