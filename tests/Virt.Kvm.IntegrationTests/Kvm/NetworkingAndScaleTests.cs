using System.Diagnostics;
using Virt.Kvm.IntegrationTests.Infrastructure;
using Virt.Kvm.VirtualMachines;
using Virt.Processes;
using Virt.VirtualMachines;

namespace Virt.Kvm.IntegrationTests.Kvm;

/// <summary>Bridged NICs on a test-created bridge, and many VMs at once.</summary>
[Collection(TestGuestCollection.Name)]
public sealed class NetworkingAndScaleTests
{
    [Fact(Timeout = 180_000)]
    public async Task A_bridged_NIC_gets_an_SDK_made_tap_on_the_bridge_that_is_removed_after_stop()
    {
        await using var host = VmTestHost.Create();
        HostRequirement.Require(File.Exists("/dev/net/tun") && File.Exists("/usr/sbin/ip") || File.Exists("/sbin/ip"), "/dev/net/tun and iproute2");
        var ct = TestContext.Current.CancellationToken;
        var bridge = $"vtb{Environment.ProcessId % 100000:00000}";
        var runner = new ProcessRunner();
        (await runner.RunAsync(new ProcessSpec("ip", ["link", "add", "name", bridge, "type", "bridge"]), ct)).EnsureSuccess();
        try
        {
            (await runner.RunAsync(new ProcessSpec("ip", ["link", "set", bridge, "up"]), ct)).EnsureSuccess();
            var vm = await host.Manager.CreateAsync(VmTestHost.GuestSpec("bridged") with { Nics = [new VmNic("lan") { Backend = VmNicBackend.Bridge, Bridge = bridge }] }, ct);
            var tap = MacAddresses.TapName("bridged", "lan");

            await vm.StartAsync(ct);
            await VmTestHost.WaitForSerialAsync(vm, TestGuest.ReadyMarker);

            Assert.Equal(bridge, Path.GetFileName(new DirectoryInfo($"/sys/class/net/{tap}/master").LinkTarget));
            await using (var agent = await Virt.Kvm.GuestAgent.GuestAgentClient.ConnectAsync(vm.Endpoints.GuestAgentSocket!, cancellationToken: ct))
            {
                await agent.WaitForReadyAsync(TimeSpan.FromSeconds(30), ct);
                var mac = await agent.ExecAsync("/bin/sh", ["-c", "cat /sys/class/net/eth0/address"], cancellationToken: ct);
                Assert.Equal(MacAddresses.Derive("bridged", "lan"), mac.StandardOutputText.Trim());
            }

            await vm.ShutdownAsync(TimeSpan.FromSeconds(60), killAfterTimeout: true, ct);
            Assert.False(Directory.Exists($"/sys/class/net/{tap}"), "the tap outlived the VM");
        }
        finally
        {
            await runner.RunAsync(new ProcessSpec("ip", ["link", "del", bridge]), CancellationToken.None);
        }
    }

    [Fact(Timeout = 180_000)]
    public async Task A_NIC_on_a_network_with_MTU_1450_is_seen_by_the_guest_at_1450_and_its_port_is_named_after_the_VM()
    {
        await using var host = VmTestHost.Create();
        HostRequirement.Require(File.Exists("/dev/net/tun"), "/dev/net/tun");
        var ct = TestContext.Current.CancellationToken;
        var ports = new OverlayPorts(1450);
        await using var manager = new KvmVirtualMachineManager(host.Options, new ProcessRunner(), new QemuCapabilityProbe(new ProcessRunner()), new Virt.Kvm.Host.AcceleratorProbe(new System.IO.Abstractions.FileSystem()), TimeProvider.System, networkPorts: ports);
        var vm = await manager.CreateAsync(VmTestHost.GuestSpec("mtu1450") with { Nics = [VmNic.OnNetwork("net0", "ovl")] }, ct);

        await vm.StartAsync(ct);
        await VmTestHost.WaitForSerialAsync(vm, TestGuest.ReadyMarker);

        await using (var agent = await Virt.Kvm.GuestAgent.GuestAgentClient.ConnectAsync(vm.Endpoints.GuestAgentSocket!, cancellationToken: ct))
        {
            await agent.WaitForReadyAsync(TimeSpan.FromSeconds(30), ct);
            var mtu = await agent.ExecAsync("/bin/sh", ["-c", "cat /sys/class/net/eth0/mtu"], cancellationToken: ct);
            Assert.Equal("1450", mtu.StandardOutputText.Trim());
        }

        Assert.Equal("mtu1450", Assert.Single(ports.Prepared).Hostname);
        await vm.ShutdownAsync(TimeSpan.FromSeconds(60), killAfterTimeout: true, ct);
        Assert.False(Directory.Exists($"/sys/class/net/{MacAddresses.TapName("mtu1450", "net0")}"), "the tap outlived the VM");
    }

    /// <summary>A managed network of the given MTU (a VXLAN overlay's) that records the ports asked for; the tap stays off any bridge.</summary>
    private sealed class OverlayPorts(int mtu) : Virt.Networking.INetworkPorts
    {
        public System.Collections.Concurrent.ConcurrentQueue<Virt.Networking.NetworkPortRequest> Prepared { get; } = new();

        public Task<int?> GetPortMtuAsync(string network, CancellationToken cancellationToken = default) => Task.FromResult<int?>(mtu);

        public Task<Virt.Networking.NetworkPort> PrepareAsync(Virt.Networking.NetworkPortRequest request, CancellationToken cancellationToken = default)
        {
            Prepared.Enqueue(request);
            return Task.FromResult(new Virt.Networking.NetworkPort(request, "vn-ovl", mtu, null, null));
        }

        public Task ConnectAsync(string owner, string nicId, CancellationToken cancellationToken = default) => Task.CompletedTask;

        public Task ReleaseAsync(string owner, string? nicId = null, CancellationToken cancellationToken = default) => Task.CompletedTask;

        public Task CheckAsync(Virt.Networking.NetworkPortRequest request, CancellationToken cancellationToken = default) => Task.CompletedTask;

        public async Task<IReadOnlyList<Virt.Networking.NetworkPort>> PrepareManyAsync(IReadOnlyList<Virt.Networking.NetworkPortRequest> requests, CancellationToken cancellationToken = default) =>
            await Task.WhenAll(requests.Select(request => PrepareAsync(request, cancellationToken)));

        public Task ConnectManyAsync(IReadOnlyList<Virt.Networking.NetworkPortId> ports, CancellationToken cancellationToken = default) => Task.CompletedTask;
    }

    [Fact(Timeout = 60_000)]
    public async Task A_missing_bridge_is_refused_before_QEMU_starts_and_leaves_no_tap()
    {
        await using var host = VmTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var vm = await host.Manager.CreateAsync(VmTestHost.GuestSpec("nobridge") with { Nics = [new VmNic("lan") { Backend = VmNicBackend.Bridge, Bridge = "vtbmissing" }] }, ct);

        var error = await Assert.ThrowsAsync<VmStartException>(() => vm.StartAsync(ct));

        Assert.Contains("bridge 'vtbmissing' of NIC 'lan' does not exist", error.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists($"/sys/class/net/{MacAddresses.TapName("nobridge", "lan")}"));
        Assert.False(File.Exists(Path.Combine(host.StateDirectory, "nobridge", "qemu.log")), "QEMU was started");
    }

    [Fact(Timeout = 600_000)]
    public async Task Twenty_VMs_started_concurrently_all_boot_and_all_stop()
    {
        await using var host = VmTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var vms = new List<IVirtualMachine>();
        for (var i = 0; i < 20; i++)
        {
            vms.Add(await host.Manager.CreateAsync(VmTestHost.GuestSpec($"many-{i:00}", 128), ct));
        }

        var watch = Stopwatch.StartNew();
        await Task.WhenAll(vms.Select(vm => vm.StartAsync(ct)));
        var pids = new List<int>();
        foreach (var vm in vms)
        {
            pids.Add((await vm.GetStatusAsync(ct)).Pid!.Value);
        }

        await Task.WhenAll(vms.Select(vm => VmTestHost.WaitForSerialAsync(vm, TestGuest.ReadyMarker, timeout: TimeSpan.FromMinutes(6))));
        TestContext.Current.SendDiagnosticMessage($"20 VMs reached the marker in {watch.Elapsed.TotalSeconds:0.0} s");
        await Task.WhenAll(vms.Select(vm => vm.ShutdownAsync(TimeSpan.FromMinutes(2), killAfterTimeout: true, ct)));

        foreach (var vm in vms)
        {
            Assert.Equal(VmState.Stopped, (await vm.GetStatusAsync(ct)).State);
        }

        Assert.All(pids, pid => Assert.True(Native.HasEnded(pid), $"QEMU {pid} still runs"));
    }
}
