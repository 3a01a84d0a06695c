using Virt.Containers;
using Virt.Lxc.IntegrationTests.Infrastructure;

namespace Virt.Lxc.IntegrationTests.Containers;

/// <summary>The SDK asks the installed liblxc which keys it knows, and uses existing directories as rootfs.</summary>
public sealed class InstalledLxcTests
{
    [Fact(Timeout = 120_000)]
    public async Task Every_key_the_sdk_writes_for_a_full_spec_is_known_to_the_installed_lxc_and_the_container_runs()
    {
        await using var host = LxcTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var bridge = host.CreateBridge();
        var spec = LxcTestHost.Busybox("full") with
        {
            Hostname = "full-spec",
            Init = new ContainerInit(["/sbin/init"]) { Environment = new Dictionary<string, string> { ["MODE"] = "test mode" }, WorkingDirectory = "/root" },
            Limits = new ContainerLimits { MemoryMiB = 128, SwapMiB = 0, CpuWeight = 200, CpuQuota = 1, Cpuset = "0-1", Pids = 256 },
            Network = [new ContainerNic(ContainerNicKind.Veth, bridge) { Ipv4Address = "10.231.10.2/24", Ipv4Gateway = "10.231.10.1", Mtu = 1500 }],
            Mounts = [ContainerMount.Tmpfs("/run/scratch", 4)],
            Capabilities = new ContainerCapabilities { Drop = ["sys_module"] },
            Autostart = true,
        };
        var container = await host.Manager.CreateAsync(spec, ct);
        await container.StartAsync(cancellationToken: ct);
        Assert.Contains("MODE=test mode", (await InContainer.OutputAsync(container, "cat", "/proc/1/environ")).Replace('\0', '\n'), StringComparison.Ordinal);
        // busybox init changes into / itself, so the working directory shows in the config (the OCI test sees it live).
        var config = await File.ReadAllTextAsync(Path.Combine(host.LxcPath, "full/config"), ct);
        Assert.Contains("lxc.init.cwd = /root", config, StringComparison.Ordinal);
        Assert.Contains("lxc.start.auto = 1", config, StringComparison.Ordinal);
        await container.KillAsync(ct);
    }

    [Fact(Timeout = 120_000)]
    public async Task An_existing_directory_serves_as_rootfs_in_place_and_survives_delete()
    {
        await using var host = LxcTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        await host.Manager.CreateAsync(LxcTestHost.Busybox("donor"), ct);
        var directory = Path.Combine(host.LxcPath, "my-rootfs");
        LxcTestHost.Run("cp", "-a", Path.Combine(host.LxcPath, "donor/rootfs"), directory);

        var container = await host.Manager.CreateAsync(new ContainerSpec("in-place", ContainerRootfs.Directory(directory)), ct);
        await container.StartAsync(cancellationToken: ct);
        await InContainer.OutputAsync(container, "sh", "-c", "echo written-inside > /root/marker");
        await container.KillAsync(ct);
        Assert.Equal("written-inside\n", await File.ReadAllTextAsync(Path.Combine(directory, "root/marker"), ct));

        await host.Manager.DeleteAsync("in-place", cancellationToken: ct);
        Assert.True(File.Exists(Path.Combine(directory, "root/marker")), "the SDK deleted a rootfs it does not own");
    }
}
