using System.IO.Abstractions.TestingHelpers;
using Virt.Containers;
using Virt.Lxc.Containers;
using Virt.Lxc.Hosting;
using Virt.Lxc.Tests.Containers.Fakes;
using Virt.Networking;
using Virt.Testing;

namespace Virt.Lxc.Tests.Containers;

/// <summary>
/// A container's NICs on managed networks, on an in-memory host with <see cref="InMemoryNetworkPorts"/>: the port is
/// prepared before <c>lxc-start</c> runs, the config puts the veth on the port's bridge with its MTU, address and a stable
/// MAC, the host end is connected once lxc-start returned, and a failed start, a stop and a delete release the port. No
/// LXC monitor listens on these containers' command sockets, so an lxc-start that "succeeds" is followed by the backend
/// finding no init: a start that fails after the connect.
/// </summary>
public sealed class ContainerNetworkPortTests
{
    private const string RootfsDirectory = "/srv/rootfs";
    private const string Tools = "/opt/lxc-tools";
    private readonly HostFileSystem _files = new();
    private readonly ScriptedTools _tools = new();
    private readonly string _lxcPath = "/lxc-" + Guid.NewGuid().ToString("N")[..8];
    private readonly InMemoryNetworkPorts _ports = new(new NatNetworkDefinition("lan", new NetworkSubnet("192.0.2.0/24", "192.0.2.1")) { Mtu = 1450 });

    public ContainerNetworkPortTests()
    {
        _files.AddDirectory(RootfsDirectory);
        _files.AddFile(Tools + "/lxc-start", new MockFileData("ELF"));
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private ContainerPaths Paths => new(_lxcPath, "web");

    private LxcContainerManager Manager(INetworkPorts? ports) => new(new LxcOptions { LxcPath = _lxcPath, ToolsDirectory = Tools }, _files, _tools, networkPorts: ports);

    private async Task<IContainer> CreateAsync(LxcContainerManager manager, params ContainerNic[] nics) =>
        await manager.CreateAsync(new ContainerSpec("web", ContainerRootfs.Directory(RootfsDirectory)) { Network = nics }, Ct);

    [Fact]
    public async Task The_port_is_prepared_before_lxc_start_its_MTU_address_and_a_stable_MAC_go_into_the_config_and_the_network_connects_the_host_end_after()
    {
        var container = await CreateAsync(Manager(_ports), ContainerNic.OnNetwork("lan") with { Ipv4Address = "192.0.2.20" });
        IReadOnlyList<InMemoryNetworkPortCall>? callsWhenLxcStartRan = null;
        _tools.Answer = spec =>
        {
            if (spec.FileName.EndsWith("/lxc-start", StringComparison.Ordinal))
            {
                callsWhenLxcStartRan = _ports.Calls;
            }

            return (0, string.Empty);
        };

        // lxc-start "succeeds", but no monitor answers: the start fails after the connect and releases the port.
        var error = await Assert.ThrowsAsync<ContainerStartException>(() => container.StartAsync(cancellationToken: Ct));

        Assert.Equal(ContainerStartFailure.Init, error.Failure);
        var owner = "ct:web";
        Assert.Equal(
            [new InMemoryNetworkPortCall(InMemoryNetworkPortOperation.Release, owner, null), new InMemoryNetworkPortCall(InMemoryNetworkPortOperation.Prepare, owner, "eth0")],
            callsWhenLxcStartRan);
        Assert.Equal(
            [new InMemoryNetworkPortCall(InMemoryNetworkPortOperation.Connect, owner, "eth0"), new InMemoryNetworkPortCall(InMemoryNetworkPortOperation.Release, owner, null)],
            _ports.Calls.Skip(2));
        Assert.Empty(_ports.Ports);

        var config = _files.GetFile(Paths.Config).TextContents;
        var mac = ManagedNics.DeriveMacAddress("web", 0);
        foreach (var line in new[] { "lxc.net.0.type = veth", $"lxc.net.0.veth.pair = {Paths.HostInterfaceName(0)}", $"lxc.net.0.hwaddr = {mac}", "lxc.net.0.mtu = 1450", "lxc.net.0.ipv4.address = 192.0.2.20/24", "lxc.net.0.ipv4.gateway = 192.0.2.1" })
        {
            Assert.Contains(line + "\n", config, StringComparison.Ordinal);
        }

        // No link: the network puts the host end on its bridge, which may be in another namespace than LXC's.
        Assert.DoesNotContain("lxc.net.0.link", config, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_port_carries_the_containers_host_name_else_its_name_as_its_DNS_name()
    {
        var manager = Manager(_ports);
        var named = await manager.CreateAsync(new ContainerSpec("web", ContainerRootfs.Directory(RootfsDirectory)) { Hostname = "Front-1", Network = [ContainerNic.OnNetwork("lan")] }, Ct);
        var plain = await manager.CreateAsync(new ContainerSpec("db", ContainerRootfs.Directory(RootfsDirectory)) { Network = [ContainerNic.OnNetwork("lan")] }, Ct);
        var hostnames = new List<string?>();
        _tools.Answer = spec =>
        {
            if (spec.FileName.EndsWith("/lxc-start", StringComparison.Ordinal))
            {
                hostnames.AddRange(_ports.Ports.Select(port => port.Request.Hostname));
            }

            return (0, string.Empty);
        };

        // lxc-start "succeeds", but no monitor answers: each start fails after its port was prepared, and releases it.
        await Assert.ThrowsAsync<ContainerStartException>(() => named.StartAsync(cancellationToken: Ct));
        await Assert.ThrowsAsync<ContainerStartException>(() => plain.StartAsync(cancellationToken: Ct));

        Assert.Equal(["front-1", "db"], hostnames);
    }

    [Fact]
    public async Task The_request_names_the_owner_the_NIC_the_veth_host_end_and_the_MAC_a_DHCP_reservation_can_match()
    {
        var seen = new List<NetworkPortRequest>();
        _tools.Answer = spec =>
        {
            seen.AddRange(_ports.Ports.Select(port => port.Request));
            return (1, string.Empty);
        };
        var container = await CreateAsync(Manager(_ports), ContainerNic.OnNetwork("lan") with { Name = "lan0", MacAddress = "02:00:00:00:00:01" }, ContainerNic.OnNetwork("lan"));

        await Assert.ThrowsAsync<ContainerStartException>(() => container.StartAsync(cancellationToken: Ct));

        Assert.Equal(
            [
                new NetworkPortRequest("lan", "ct:web", "lan0", Paths.HostInterfaceName(0), NetworkPortKind.Veth, "02:00:00:00:00:01") { Hostname = "web" },
                new NetworkPortRequest("lan", "ct:web", "eth1", Paths.HostInterfaceName(1), NetworkPortKind.Veth, ManagedNics.DeriveMacAddress("web", 1)) { Hostname = "web" },
            ],
            seen.Take(2));
    }

    [Fact]
    public async Task An_unknown_network_fails_the_start_before_lxc_start_and_leaves_no_port()
    {
        var container = await CreateAsync(Manager(_ports), ContainerNic.OnNetwork("lan"), ContainerNic.OnNetwork("nowhere"));

        var error = await Assert.ThrowsAsync<ContainerStartException>(() => container.StartAsync(cancellationToken: Ct));

        Assert.Equal(ContainerStartFailure.MissingNetworkLink, error.Failure);
        Assert.Contains("NIC 'eth1' cannot join network 'nowhere'", error.Message, StringComparison.Ordinal);
        Assert.Contains("is not defined", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(_tools.Commands, command => command.Contains("lxc-start", StringComparison.Ordinal));
        Assert.Empty(_ports.Ports);
    }

    [Fact]
    public async Task Without_a_network_backend_the_start_fails_naming_the_NIC_the_network_and_AddNetwork()
    {
        var container = await CreateAsync(Manager(null), ContainerNic.OnNetwork("lan"));

        var error = await Assert.ThrowsAsync<ContainerPreflightException>(() => container.StartAsync(cancellationToken: Ct));

        var problem = Assert.Single(error.Problems);
        Assert.Contains("NIC 'eth0' is on network 'lan'", problem, StringComparison.Ordinal);
        Assert.Contains("AddNetwork()", problem, StringComparison.Ordinal);
        Assert.DoesNotContain(_tools.Commands, command => command.Contains("lxc-start", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_failed_lxc_start_releases_the_port()
    {
        _tools.Answer = spec => (spec.FileName.EndsWith("/lxc-start", StringComparison.Ordinal) ? 1 : 0, string.Empty);
        var container = await CreateAsync(Manager(_ports), ContainerNic.OnNetwork("lan"));

        await Assert.ThrowsAsync<ContainerStartException>(() => container.StartAsync(cancellationToken: Ct));

        Assert.DoesNotContain(_ports.Calls, call => call.Operation == InMemoryNetworkPortOperation.Connect);
        Assert.Empty(_ports.Ports);
    }

    [Fact]
    public async Task A_stop_after_a_crash_and_a_delete_release_what_a_run_left()
    {
        var manager = Manager(_ports);
        var container = await CreateAsync(manager, ContainerNic.OnNetwork("lan"));
        var leftover = new NetworkPortRequest("lan", "ct:web", "eth0", Paths.HostInterfaceName(0), NetworkPortKind.Veth, ManagedNics.DeriveMacAddress("web", 0));

        // What a container that crashed leaves: its port, recorded by the network.
        await _ports.PrepareAsync(leftover, Ct);
        await container.StopAsync(TimeSpan.FromSeconds(1), Ct);
        Assert.Empty(_ports.Ports);

        await _ports.PrepareAsync(leftover, Ct);
        await manager.DeleteAsync("web", cancellationToken: Ct);
        Assert.Empty(_ports.Ports);
    }

    [Fact]
    public void A_derived_MAC_is_stable_unicast_and_locally_administered_and_differs_per_container_and_NIC()
    {
        var mac = ManagedNics.DeriveMacAddress("web", 0);
        var first = Convert.ToByte(mac[..2], 16);

        Assert.Equal(mac, ManagedNics.DeriveMacAddress("web", 0));
        Assert.Matches("^[0-9a-f]{2}(:[0-9a-f]{2}){5}$", mac);
        Assert.Equal((0, 2), (first & 1, first & 2));
        Assert.NotEqual(mac, ManagedNics.DeriveMacAddress("web", 1));
        Assert.NotEqual(mac, ManagedNics.DeriveMacAddress("db", 0));
    }
}
