using Virt.Containers;
using Virt.Lxc.IntegrationTests.Infrastructure;

namespace Virt.Lxc.IntegrationTests.Containers;

/// <summary>Containers on a bridge the test creates (no address on the host side, nothing routed out).</summary>
public sealed class NetworkTests
{
    [Fact(Timeout = 120_000)]
    public async Task Two_containers_on_a_test_bridge_reach_each_other_and_their_veths_go_with_them()
    {
        await using var host = LxcTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var bridge = host.CreateBridge();
        var first = await host.Manager.CreateAsync(LxcTestHost.Busybox("net-a") with { Network = [new ContainerNic(ContainerNicKind.Veth, bridge) { Ipv4Address = "10.231.7.2/24", MacAddress = "02:00:0a:e7:07:02", Mtu = 1400 }] }, ct);
        var second = await host.Manager.CreateAsync(LxcTestHost.Busybox("net-b") with { Network = [new ContainerNic(ContainerNicKind.Veth, bridge) { Ipv4Address = "10.231.7.3/24" }] }, ct);
        await first.StartAsync(cancellationToken: ct);
        await second.StartAsync(cancellationToken: ct);

        var link = await InContainer.OutputAsync(first, "ip", "-o", "link", "show", "eth0");
        Assert.Contains("mtu 1400", link, StringComparison.Ordinal);
        Assert.Contains("02:00:0a:e7:07:02", link, StringComparison.Ordinal);
        Assert.Contains("10.231.7.2/24", await InContainer.OutputAsync(first, "ip", "-o", "addr", "show", "eth0"), StringComparison.Ordinal);
        Assert.DoesNotContain("default", await InContainer.OutputAsync(first, "ip", "route"), StringComparison.Ordinal);

        var ping = await InContainer.RunAsync(first, "ping", "-c", "3", "-W", "2", "10.231.7.3");
        Assert.True(ping.ExitCode == 0, ping.StandardOutput + ping.StandardError);
        var stats = await first.GetStatsAsync(ct);
        Assert.True(stats.NetworkSentBytes > 0 && stats.NetworkReceivedBytes > 0, $"sent {stats.NetworkSentBytes} received {stats.NetworkReceivedBytes}");

        var hostEnds = Directory.GetDirectories("/sys/class/net/" + bridge + "/brif").Select(Path.GetFileName).ToList();
        Assert.Equal(2, hostEnds.Count);
        await first.StopAsync(TimeSpan.FromSeconds(10), ct);
        await second.KillAsync(ct);
        foreach (var end in hostEnds)
        {
            Assert.False(Directory.Exists("/sys/class/net/" + end), $"veth {end} outlived its container");
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task A_macvlan_interface_sits_on_its_parent()
    {
        await using var host = LxcTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        // This host kernel has no dummy driver; a bridge of its own is an Ethernet parent that leads nowhere.
        var parent = host.CreateBridge();
        var container = await host.Manager.CreateAsync(LxcTestHost.Busybox("macvlan") with { Network = [new ContainerNic(ContainerNicKind.Macvlan, parent) { Name = "mv0", Ipv4Address = "10.231.8.2/24" }] }, ct);
        await container.StartAsync(cancellationToken: ct);
        var details = await InContainer.OutputAsync(container, "cat", "/sys/class/net/mv0/address");
        Assert.Matches("^[0-9a-f:]{17}\n$", details);
        Assert.Contains("10.231.8.2/24", await InContainer.OutputAsync(container, "ip", "-o", "addr", "show", "mv0"), StringComparison.Ordinal);
        await container.KillAsync(ct);
    }
}
