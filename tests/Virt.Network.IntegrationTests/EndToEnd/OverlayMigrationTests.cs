using Virt.Containers;
using Virt.Networking;
using Virt.VirtualMachines;

namespace Virt.Network.IntegrationTests.EndToEnd;

/// <summary>
/// A VM on a managed network moves between two hosts: two namespaces joined by a veth underlay, the same VXLAN overlay
/// defined on both, each host its own network and VM manager. Migrated from A to B (a ticket from B's manager, the
/// stream over loopback), the guest's NIC is re-created on B's network of the same name before the guest runs there:
/// a container on B reaches it on B's own bridge, A's network has no port left, and no tap stays anywhere else.
/// </summary>
public sealed class OverlayMigrationTests
{
    [Fact(Timeout = 300_000)]
    public async Task A_NIC_on_a_managed_network_rejoins_the_network_of_the_same_name_on_the_destination()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var lab = PlatformLab.Create();
        var hostA = lab.Host("mig-a");
        var hostB = lab.Host("mig-b");
        PlatformLab.Cable(hostA, "ul-a", "198.51.100.1/24", hostB, "ul-b", "198.51.100.2/24");
        var networksA = lab.Networks(hostA);
        var networksB = lab.Networks(hostB);
        await networksA.DefineAsync(new VxlanNetworkDefinition("ov", 4343, "198.51.100.1") { Peers = ["198.51.100.2"], UnderlayInterface = "ul-a" }, ct);
        await networksB.DefineAsync(new VxlanNetworkDefinition("ov", 4343, "198.51.100.2") { Peers = ["198.51.100.1"], UnderlayInterface = "ul-b", Ipv4 = new NetworkSubnet("203.0.113.0/24", "203.0.113.1") }, ct);
        await networksA.ApplyAsync("ov", ct);
        await networksB.ApplyAsync("ov", ct);

        var container = await lab.Containers(networksB).CreateAsync(PlatformLab.Busybox("peer", ContainerNic.OnNetwork("ov") with { Ipv4Address = "203.0.113.20" }), ct);
        await container.StartAsync(cancellationToken: ct);

        var vmsA = lab.Vms(networksA);
        var vmsB = lab.Vms(networksB);
        const string script = "ip addr add 203.0.113.10/24 dev eth0; ip link set eth0 up; echo NIC-UP";
        var vm = await vmsA.CreateAsync(PlatformLab.Guest("roamer", script, VmNic.OnNetwork("net0", "ov")), ct);
        await vm.StartAsync(ct);
        await PlatformLab.WaitForSerialAsync(vm, "NIC-UP", TimeSpan.FromMinutes(3));
        Assert.True(await PingsAsync(container, ct), "the container on host B does not reach the VM on host A over the overlay");
        var tapOnA = Assert.Single(await networksA.ListPortsAsync("ov", ct)).Request.HostInterface;

        var ticket = await vmsB.PrepareIncomingAsync(vm.Spec, new IncomingMigrationOptions { ListenAddress = "127.0.0.1", Security = MigrationSecurity.ClearText }, ct);

        // The waiting QEMU's port is on B's network before the switch-over.
        var tapOnB = Assert.Single(await networksB.ListPortsAsync("ov", ct), port => port.Request.Owner.Contains("roamer", StringComparison.Ordinal)).Request.HostInterface;
        Assert.Contains(tapOnB, hostB.Exec("ip", "-o", "link", "show", "master", "vn-ov"), StringComparison.Ordinal);
        VmMigrationProgress? last = null;
        await foreach (var progress in vm.Migration.MigrateAsync(new VmMigrationOptions { Ticket = ticket, AllowClearText = true }, ct))
        {
            last = progress;
        }

        Assert.True(last?.Completed, last?.Status);
        var arrived = await vmsB.GetAsync("roamer", ct);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((await arrived.GetStatusAsync(ct)).State != VmState.Running)
        {
            Assert.True(DateTime.UtcNow < deadline, "the VM does not run on host B 30 s after the migration completed");
            await Task.Delay(50, ct);
        }

        // Host A let go of everything: no port on its network, its tap gone; the guest answers on B's own bridge.
        await Assert.ThrowsAsync<VmNotFoundException>(() => vmsA.GetAsync("roamer", ct));
        Assert.Empty(await networksA.ListPortsAsync("ov", ct));
        Assert.DoesNotContain(tapOnA, hostA.Exec("ip", "-o", "link", "show"), StringComparison.Ordinal);
        Assert.True(await PingsAsync(container, ct), "the container does not reach the VM after it moved to its host");
        Assert.Empty(await networksA.CheckDriftAsync(ct));
        Assert.Empty(await networksB.CheckDriftAsync(ct));

        await arrived.KillAsync(ct);
        await container.KillAsync(ct);
        Assert.Empty(await networksB.ListPortsAsync("ov", ct));
    }

    private static async Task<bool> PingsAsync(IContainer container, CancellationToken ct)
    {
        for (var attempt = 0; attempt < 30; attempt++)
        {
            if ((await PlatformLab.ExecAsync(container, "ping", "-c", "1", "-W", "2", "203.0.113.10")).ExitCode == 0)
            {
                return true;
            }

            await Task.Delay(500, ct);
        }

        return false;
    }
}
