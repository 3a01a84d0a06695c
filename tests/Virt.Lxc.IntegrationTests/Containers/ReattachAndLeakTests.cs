using System.Diagnostics;
using System.Globalization;
using Virt.Containers;
using Virt.Lxc.IntegrationTests.Infrastructure;

namespace Virt.Lxc.IntegrationTests.Containers;

/// <summary>Containers outlive the process that started them, and many start/stop cycles leave nothing behind.</summary>
public sealed class ReattachAndLeakTests
{
    [Fact(Timeout = 120_000)]
    public async Task A_container_started_by_a_manager_in_another_process_is_found_controlled_and_stopped()
    {
        await using var host = LxcTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { Path.Combine(AppContext.BaseDirectory, "Virt.Tests.ChildManager.dll"), "lxc", host.LxcPath, "orphan" })
        {
            start.ArgumentList.Add(argument);
        }

        using var child = Process.Start(start)!;
        var output = await child.StandardOutput.ReadToEndAsync(ct);
        await child.WaitForExitAsync(ct);
        Assert.True(child.ExitCode == 0, $"the child manager failed: {output} {await child.StandardError.ReadToEndAsync(ct)}");
        var pid = int.Parse(output.Trim().Split(' ')[1], CultureInfo.InvariantCulture);

        var container = Assert.Single(await host.Manager.ListAsync(ct));
        Assert.Equal("orphan", container.Name);
        var status = await container.GetStatusAsync(ct);
        Assert.Equal((ContainerState.Running, pid), (status.State, status.InitPid));
        Assert.Equal("orphan\n", await InContainer.OutputAsync(container, "hostname"));
        await container.StopAsync(TimeSpan.FromSeconds(10), ct);
        Assert.Equal(ContainerState.Stopped, (await container.GetStatusAsync(ct)).State);
        Assert.False(Directory.Exists($"/proc/{pid}"));
    }

    [Fact(Timeout = 300_000)]
    public async Task Fifty_start_stop_cycles_leave_no_veth_cgroup_mount_or_process_behind()
    {
        await using var host = LxcTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var bridge = host.CreateBridge();
        var container = await host.Manager.CreateAsync(LxcTestHost.Busybox("cycle") with { Network = [new ContainerNic(ContainerNicKind.Veth, bridge) { Ipv4Address = "10.231.9.2/24" }], Limits = new ContainerLimits { MemoryMiB = 64, Pids = 100 } }, ct);
        for (var cycle = 0; cycle < 50; cycle++)
        {
            await container.StartAsync(cancellationToken: ct);
            Assert.Single(Directory.GetDirectories($"/sys/class/net/{bridge}/brif"));
            if (cycle % 10 != 9)
            {
                await container.KillAsync(ct);
            }
            else
            {
                await container.StopAsync(TimeSpan.FromSeconds(10), ct);
            }
        }

        Assert.Empty(Directory.GetDirectories($"/sys/class/net/{bridge}/brif"));
        Assert.Empty(Leaks.CgroupsOf("cycle"));
        Assert.Empty(Leaks.MountsUnder(host.LxcPath));
        Assert.Empty(Leaks.ProcessesMentioning(host.LxcPath));
    }
}
