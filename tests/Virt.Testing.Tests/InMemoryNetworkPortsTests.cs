using Virt.Containers;
using Virt.Networking;
using Virt.VirtualMachines;

namespace Virt.Testing.Tests;

/// <summary>
/// The in-memory network ports: the refusals the network manager makes (with its error kinds), what it records, and the
/// in-memory VM and container managers using it the way the QEMU and LXC backends do.
/// </summary>
public sealed class InMemoryNetworkPortsTests
{
    private static readonly NetworkSubnet Subnet = new("192.0.2.0/24", "192.0.2.1") { Reservations = [new DhcpReservation("02:00:00:00:00:09", "192.0.2.9")] };
    private readonly InMemoryNetworkPorts _ports = new(new NatNetworkDefinition("lan", Subnet) { Mtu = 1450 }, new VlanNetworkDefinition("trunk") { BridgeName = "br-trunk" });

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static NetworkPortRequest Request(string network = "lan", string nic = "net0", string mac = "02:00:00:00:00:01") =>
        new(network, "vm:web", nic, "vt" + nic, NetworkPortKind.Tap, mac);

    [Fact]
    public async Task A_port_gets_the_bridge_the_MTU_and_its_fixed_or_reserved_address_with_prefix_and_gateway()
    {
        var fixedAddress = await _ports.PrepareAsync(Request() with { Ipv4Address = "192.0.2.10" }, Ct);
        var reserved = await _ports.PrepareAsync(Request(nic: "net1", mac: "02:00:00:00:00:09"), Ct);
        var dynamic = await _ports.PrepareAsync(Request(nic: "net2", mac: "02:00:00:00:00:02"), Ct);
        var tagged = await _ports.PrepareAsync(Request("trunk", "net3") with { VlanTag = 30 }, Ct);

        Assert.Equal(("vn-lan", 1450, "192.0.2.10/24", "192.0.2.1"), (fixedAddress.Bridge, fixedAddress.Mtu, fixedAddress.Ipv4Address, fixedAddress.Ipv4Gateway));
        Assert.Equal("192.0.2.9/24", reserved.Ipv4Address);
        Assert.Null(dynamic.Ipv4Address);
        Assert.Equal(("br-trunk", 1500, null), (tagged.Bridge, tagged.Mtu, tagged.Ipv4Address));
        Assert.Equal(4, _ports.Ports.Count);
    }

    [Fact]
    public async Task The_port_MTU_is_known_before_a_port_is_prepared_and_asking_is_not_a_recorded_call()
    {
        Assert.Equal(1450, await _ports.GetPortMtuAsync("lan", Ct));
        Assert.Null(await _ports.GetPortMtuAsync("trunk", Ct)); // names none: the bridge's default
        Assert.Null(await _ports.GetPortMtuAsync("nowhere", Ct));
        Assert.Empty(_ports.Calls);
    }

    [Fact]
    public async Task An_unknown_network_is_NotFound_naming_it_and_records_nothing_but_the_call()
    {
        var error = await Assert.ThrowsAsync<NetworkException>(() => _ports.PrepareAsync(Request("nowhere"), Ct));

        Assert.Equal(VirtErrorKind.NotFound, error.ErrorKind);
        Assert.Contains("network 'nowhere' is not defined", error.Message, StringComparison.Ordinal);
        Assert.Empty(_ports.Ports);
        Assert.Equal([new InMemoryNetworkPortCall(InMemoryNetworkPortOperation.Prepare, "vm:web", "net0")], _ports.Calls);

        _ports.AddNetwork("nowhere");
        Assert.Equal("vn-nowhere", (await _ports.PrepareAsync(Request("nowhere"), Ct)).Bridge);
    }

    public static TheoryData<NetworkPortRequest, string> InvalidRequests => new()
    {
        { Request() with { VlanTag = 5 }, "VLAN tags apply only on a vlan network" },
        { Request() with { Ipv4Address = "198.51.100.7" }, "not a free host address of 192.0.2.0/24" },
        { Request() with { Ipv4Address = "192.0.2.1" }, "not a free host address" },
        { Request("trunk") with { Ipv4Address = "192.0.2.7" }, "has no IPv4 subnet" },
    };

    [Theory]
    [MemberData(nameof(InvalidRequests))]
    public async Task A_request_the_network_cannot_take_is_InvalidInput_with_the_fix(NetworkPortRequest request, string problem)
    {
        var error = await Assert.ThrowsAsync<NetworkException>(() => _ports.PrepareAsync(request, Ct));

        Assert.Equal(VirtErrorKind.InvalidInput, error.ErrorKind);
        Assert.Contains(problem, error.Message, StringComparison.Ordinal);
        Assert.Empty(_ports.Ports);
    }

    [Fact]
    public async Task A_taken_address_is_refused_a_port_prepared_again_is_replaced_and_moving_it_to_another_network_is_a_Conflict()
    {
        await _ports.PrepareAsync(Request() with { Ipv4Address = "192.0.2.10" }, Ct);

        var taken = await Assert.ThrowsAsync<NetworkException>(() => _ports.PrepareAsync(Request(nic: "net1", mac: "02:00:00:00:00:02") with { Ipv4Address = "192.0.2.10" }, Ct));
        Assert.Contains("taken by port vm:web/net0", taken.Message, StringComparison.Ordinal);

        var again = await _ports.PrepareAsync(Request() with { Ipv4Address = "192.0.2.11" }, Ct);
        Assert.Equal("192.0.2.11/24", Assert.Single(_ports.Ports).Ipv4Address);
        Assert.Equal(again, _ports.Ports[0]);

        var moved = await Assert.ThrowsAsync<NetworkException>(() => _ports.PrepareAsync(Request("trunk"), Ct));
        Assert.Equal(VirtErrorKind.Conflict, moved.ErrorKind);
    }

    [Fact]
    public async Task Connect_needs_a_prepared_port_and_release_drops_one_NIC_or_every_port_of_the_owner()
    {
        var notPrepared = await Assert.ThrowsAsync<NetworkException>(() => _ports.ConnectAsync("vm:web", "net0", Ct));
        Assert.Equal(VirtErrorKind.NotFound, notPrepared.ErrorKind);

        await _ports.PrepareAsync(Request(), Ct);
        await _ports.PrepareAsync(Request(nic: "net1", mac: "02:00:00:00:00:02"), Ct);
        await _ports.ConnectAsync("vm:web", "net0", Ct);
        Assert.True(_ports.IsConnected("vm:web", "net0"));
        Assert.False(_ports.IsConnected("vm:web", "net1"));

        await _ports.ReleaseAsync("vm:web", "net0", Ct);
        Assert.Equal(["net1"], _ports.Ports.Select(port => port.Request.NicId));
        await _ports.ReleaseAsync("vm:other", cancellationToken: Ct);
        await _ports.ReleaseAsync("vm:web", cancellationToken: Ct);
        Assert.Empty(_ports.Ports);
        Assert.False(_ports.IsConnected("vm:web", "net0"));
    }

    [Fact]
    public async Task FailNext_makes_one_call_throw_after_recording_it()
    {
        _ports.FailNext(InMemoryNetworkPortOperation.Prepare, new NetworkException(VirtErrorKind.Failed, "nft: no such table"));

        await Assert.ThrowsAsync<NetworkException>(() => _ports.PrepareAsync(Request(), Ct));
        await _ports.PrepareAsync(Request(), Ct);

        Assert.Equal(2, _ports.Calls.Count);
        Assert.Single(_ports.Ports);
    }

    [Fact]
    public async Task The_in_memory_VM_joins_its_networks_at_start_and_hotplug_and_leaves_them_at_detach_stop_and_crash()
    {
        var manager = new InMemoryVirtualMachineManager(networkPorts: _ports);
        var vm = (InMemoryVirtualMachine)await manager.CreateAsync(new VmSpec("web") { Nics = [VmNic.OnNetwork("net0", "lan")] }, Ct);

        await vm.StartAsync(Ct);
        Assert.True(_ports.IsConnected("vm:web", "net0"));
        Assert.Equal(NetworkPortKind.Tap, Assert.Single(_ports.Ports).Request.Kind);

        await vm.Nics.AttachAsync(VmNic.OnNetwork("net1", "trunk") with { VlanTag = 30 }, Ct);
        Assert.True(_ports.IsConnected("vm:web", "net1"));
        await vm.Nics.DetachAsync("net1", Ct);
        Assert.Single(_ports.Ports);
        var refused = await Assert.ThrowsAsync<VmHotplugException>(() => vm.Nics.AttachAsync(VmNic.OnNetwork("net2", "nowhere"), Ct));
        Assert.Contains("network 'nowhere'", refused.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(vm.Spec.Nics, nic => nic.Id == "net2");

        await vm.ShutdownAsync(TimeSpan.FromSeconds(1), cancellationToken: Ct);
        Assert.Empty(_ports.Ports);

        await vm.StartAsync(Ct);
        vm.Crash();
        Assert.Empty(_ports.Ports);
    }

    [Fact]
    public async Task The_in_memory_VM_with_an_unknown_network_or_no_ports_does_not_start()
    {
        var spec = new VmSpec("web") { Nics = [VmNic.OnNetwork("net0", "lan"), VmNic.OnNetwork("net1", "nowhere")] };
        var vm = await new InMemoryVirtualMachineManager(networkPorts: _ports).CreateAsync(spec, Ct);

        var refused = await Assert.ThrowsAsync<VmStartException>(() => vm.StartAsync(Ct));
        Assert.Equal(VirtErrorKind.NotFound, Assert.IsType<NetworkException>(refused.InnerException).ErrorKind);
        Assert.Equal(VmState.Stopped, (await vm.GetStatusAsync(Ct)).State);
        Assert.Empty(_ports.Ports);

        var alone = await new InMemoryVirtualMachineManager().CreateAsync(spec, Ct);
        var noBackend = await Assert.ThrowsAsync<VmStartException>(() => alone.StartAsync(Ct));
        Assert.Contains("AddNetwork()", noBackend.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_in_memory_container_joins_at_start_and_leaves_at_a_failed_start_stop_and_delete()
    {
        var manager = new InMemoryContainerManager(networkPorts: _ports);
        var container = (InMemoryContainer)await manager.CreateAsync(new ContainerSpec("db", ContainerRootfs.Busybox()) { Network = [ContainerNic.OnNetwork("lan") with { Ipv4Address = "192.0.2.20" }] }, Ct);

        await container.StartAsync(cancellationToken: Ct);
        var port = Assert.Single(_ports.Ports);
        Assert.Equal(("ct:db", "eth0", NetworkPortKind.Veth, "192.0.2.20/24"), (port.Request.Owner, port.Request.NicId, port.Request.Kind, port.Ipv4Address));
        Assert.True(_ports.IsConnected("ct:db", "eth0"));

        await container.StopAsync(TimeSpan.FromSeconds(1), Ct);
        Assert.Empty(_ports.Ports);

        container.FailNextStart(ContainerStartFailure.Init);
        await Assert.ThrowsAsync<ContainerStartException>(() => container.StartAsync(cancellationToken: Ct));
        Assert.Empty(_ports.Ports);

        await container.StartAsync(cancellationToken: Ct);
        await manager.DeleteAsync("db", force: true, Ct);
        Assert.Empty(_ports.Ports);

        var alone = await new InMemoryContainerManager().CreateAsync(new ContainerSpec("db", ContainerRootfs.Busybox()) { Network = [ContainerNic.OnNetwork("lan")] }, Ct);
        var noBackend = await Assert.ThrowsAsync<ContainerPreflightException>(() => alone.StartAsync(cancellationToken: Ct));
        Assert.Contains("AddNetwork()", Assert.Single(noBackend.Problems), StringComparison.Ordinal);
    }
}
