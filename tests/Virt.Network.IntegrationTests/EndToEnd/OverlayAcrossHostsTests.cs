using Virt.Containers;
using Virt.Networking;
using Virt.VirtualMachines;

namespace Virt.Network.IntegrationTests.EndToEnd;

/// <summary>
/// Two hosts (namespaces joined by a veth underlay), one VXLAN overlay defined on both: the test guest's NIC joins it on
/// the first host and a container's on the second, and they reach each other across the overlay; nothing of theirs
/// stays in the process's namespace.
/// </summary>
public sealed class OverlayAcrossHostsTests
{
    [Fact(Timeout = 300_000)]
    public async Task A_VM_on_one_host_and_a_container_on_another_share_a_subnet_over_a_VXLAN_overlay()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var lab = PlatformLab.Create();
        var hostA = lab.Host("ovl-a");
        var hostB = lab.Host("ovl-b");
        PlatformLab.Cable(hostA, "ul-a", "198.51.100.1/24", hostB, "ul-b", "198.51.100.2/24");

        var networksA = lab.Networks(hostA);
        var networksB = lab.Networks(hostB);
        await networksA.DefineAsync(new VxlanNetworkDefinition("ov", 4242, "198.51.100.1") { Peers = ["198.51.100.2"], UnderlayInterface = "ul-a" }, ct);
        // The overlay's subnet (and its gateway) lives on one host only; the container takes a fixed address from it.
        await networksB.DefineAsync(new VxlanNetworkDefinition("ov", 4242, "198.51.100.2") { Peers = ["198.51.100.1"], UnderlayInterface = "ul-b", Ipv4 = new NetworkSubnet("203.0.113.0/24", "203.0.113.1") }, ct);
        Assert.False((await networksA.ApplyAsync("ov", ct)).IsEmpty);
        Assert.False((await networksB.ApplyAsync("ov", ct)).IsEmpty);
        Assert.True((await networksA.PlanAsync("ov", ct)).IsEmpty);

        var containers = lab.Containers(networksB);
        var container = await containers.CreateAsync(PlatformLab.Busybox("ovct", ContainerNic.OnNetwork("ov") with { Ipv4Address = "203.0.113.20" }), ct);
        await container.StartAsync(cancellationToken: ct);

        var vms = lab.Vms(networksA);
        const string script = "ip addr add 203.0.113.10/24 dev eth0; ip link set eth0 up; i=0; while [ $i -lt 90 ]; do if ping -c 1 -W 1 203.0.113.20 >/dev/null 2>&1; then echo OVERLAY-PING-OK; break; fi; i=$((i+1)); done; echo OVERLAY-DONE";
        var vm = await vms.CreateAsync(PlatformLab.Guest("ovvm", script, VmNic.OnNetwork("net0", "ov")), ct);
        await vm.StartAsync(ct);

        var serial = await PlatformLab.WaitForSerialAsync(vm, "OVERLAY-DONE", TimeSpan.FromMinutes(3));
        Assert.Contains("OVERLAY-PING-OK", serial, StringComparison.Ordinal);
        var (exitCode, output) = await PlatformLab.ExecAsync(container, "ping", "-c", "1", "-W", "5", "203.0.113.10");
        Assert.True(exitCode == 0, "container → VM over the overlay: " + output);

        // The tap and the veth end were made in the process's namespace and moved into their hosts.
        var tap = Assert.Single(await networksA.ListPortsAsync("ov", ct)).Request.HostInterface;
        Assert.False(Directory.Exists("/sys/class/net/" + tap), $"tap {tap} is still in the process's namespace");
        Assert.Contains(tap, hostA.Exec("ip", "-o", "link", "show", "master", "vn-ov"), StringComparison.Ordinal);
        var portB = Assert.Single(await networksB.ListPortsAsync("ov", ct));
        Assert.False(Directory.Exists("/sys/class/net/" + portB.Request.HostInterface), "the container's veth end is still in the process's namespace");
        Assert.Contains(portB.Request.HostInterface, hostB.Exec("ip", "-o", "link", "show", "master", "vn-ov"), StringComparison.Ordinal);
        Assert.Empty(await networksA.CheckDriftAsync(ct));
        Assert.Empty(await networksB.CheckDriftAsync(ct));

        await vm.KillAsync(ct);
        await container.KillAsync(ct);
        Assert.Empty(await networksA.ListPortsAsync("ov", ct));
        Assert.Empty(await networksB.ListPortsAsync("ov", ct));
        Assert.DoesNotContain(tap, hostA.Exec("ip", "-o", "link", "show"), StringComparison.Ordinal);
    }
}
