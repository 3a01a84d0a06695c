using System.IO.Abstractions.TestingHelpers;
using Moq;
using Virt.Kvm.Host;
using Virt.Kvm.Hosting;
using Virt.Kvm.VirtualMachines;
using Virt.Networking;
using Virt.Processes;
using Virt.Testing;
using Virt.VirtualMachines;

namespace Virt.Kvm.Tests.VirtualMachines.Lifecycle;

/// <summary>
/// A VM's NICs on managed networks, on the lifecycle fakes (<see cref="FakeQemuHost"/>) with <see cref="InMemoryNetworkPorts"/>:
/// the port is prepared before QEMU is spawned, the tap is made (iproute2, through a runner that makes and removes the
/// tap in the fake sysfs as the kernel would) and connected by the network, and every way a run ends releases the port.
/// </summary>
public sealed class VmNetworkPortTests : IAsyncDisposable
{
    private const string Disk = "/images/root.qcow2";

    private readonly string _realDirectory = Directory.CreateTempSubdirectory("virt-kvm-net-").FullName;
    private readonly ModeKeepingFileSystem _files = new();
    private readonly FakeQemuHost _qemu;
    private readonly KvmOptions _options;
    private readonly List<KvmVirtualMachineManager> _managers = [];
    private readonly List<string> _ipCommands = [];
    private readonly CancellationToken _ct = TestContext.Current.CancellationToken;

    public VmNetworkPortTests()
    {
        _qemu = new FakeQemuHost(_files);
        _options = new KvmOptions { StateDirectory = Path.Combine(_realDirectory, "vms"), AllowResourcesBeyondHost = true };
        _files.AddFile(_options.QemuBinary, new MockFileData("ELF"));
        _files.AddFile(Disk, new MockFileData("QFI"));
    }

    private static string Owner => "vm:web";

    private static string Tap => MacAddresses.TapName("web", "net0");

    public async ValueTask DisposeAsync()
    {
        foreach (var manager in _managers)
        {
            await manager.DisposeAsync();
        }

        await _qemu.DisposeAsync();
        Directory.Delete(_realDirectory, recursive: true);
    }

    [Fact]
    public async Task Start_checks_the_port_before_anything_is_made_then_prepares_and_connects_it_on_the_made_tap_while_QEMU_starts()
    {
        var ports = new InMemoryNetworkPorts(new NatNetworkDefinition("lan", new NetworkSubnet("192.0.2.0/24", "192.0.2.1")));
        var seen = new List<string>();
        var observed = new ObservingNetworkPorts(ports, call => seen.Add(call.StartsWith("check", StringComparison.Ordinal) ? $"{call}: qemu {_qemu.Processes.Count}, tap {TapExists}" : $"{call}: tap {TapExists}"));
        var vm = await CreateAsync(NewManager(observed), VmNic.OnNetwork("net0", "lan") with { Ipv4Address = "192.0.2.10" });

        await vm.StartAsync(_ct);

        // (A release of what a crashed start could have left comes first; there was nothing.) The check refuses a bad
        // NIC before a tap or QEMU exists; the prepare and connect run while QEMU starts, and the start awaits them
        // before cont (the guest is Running only after both).
        Assert.Equal(["check: qemu 0, tap False", "prepare: tap True", "connect: tap True"], seen.Where(call => !call.StartsWith("release", StringComparison.Ordinal)));
        var port = Assert.Single(ports.Ports);
        Assert.Equal(new NetworkPortRequest("lan", Owner, "net0", Tap, NetworkPortKind.Tap, MacAddresses.Derive("web", "net0")) { Ipv4Address = "192.0.2.10", Hostname = "web" }, port.Request);
        Assert.Equal(("vn-lan", "192.0.2.10/24"), (port.Bridge, port.Ipv4Address));
        Assert.True(ports.IsConnected(Owner, "net0"));
        Assert.Contains($"tuntap add dev {Tap} mode tap", _ipCommands);
        Assert.DoesNotContain(_ipCommands, command => command.Contains("master", StringComparison.Ordinal));
        Assert.Contains($"ifname={Tap},", string.Join(' ', _qemu.Processes.Single().Arguments), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_NIC_on_a_network_with_a_smaller_MTU_starts_with_host_mtu_and_its_port_carries_the_VMs_name_as_hostname()
    {
        var ports = new InMemoryNetworkPorts(new VxlanNetworkDefinition("ovl", 42, "192.0.2.10") { Mtu = 1450 });
        var vm = await CreateAsync(NewManager(ports), VmNic.OnNetwork("net0", "ovl"));

        await vm.StartAsync(_ct);

        var qemu = Assert.Single(_qemu.Processes);
        Assert.Contains($"virtio-net-pci,netdev=virt-net-net0,id=net0,mac={MacAddresses.Derive("web", "net0")},host_mtu=1450", qemu.Arguments);
        Assert.Equal("web", Assert.Single(ports.Ports).Request.Hostname);
    }

    [Fact]
    public async Task A_hotplugged_NIC_on_a_network_with_a_smaller_MTU_gets_host_mtu_from_its_port()
    {
        var ports = new InMemoryNetworkPorts(new IsolatedNetworkDefinition("lan") { Mtu = 9000 });
        var vm = await CreateAsync(NewManager(ports));
        await vm.StartAsync(_ct);

        await vm.Nics.AttachAsync(VmNic.OnNetwork("net0", "lan"), _ct);

        var qemu = Assert.Single(_qemu.Processes);
        Assert.Equal(9000, Assert.Single(qemu.DevicesAdded)["host_mtu"]!.GetValue<int>());
    }

    [Fact]
    public async Task An_unknown_network_fails_the_start_before_QEMU_and_leaves_no_tap_and_no_port()
    {
        var ports = new InMemoryNetworkPorts(new IsolatedNetworkDefinition("lan"));
        var vm = await CreateAsync(NewManager(ports), VmNic.OnNetwork("net0", "lan"), VmNic.OnNetwork("net1", "nowhere"));

        var error = await Assert.ThrowsAsync<VmStartException>(() => vm.StartAsync(_ct));

        Assert.Contains("NIC 'net1' cannot join network 'nowhere'", error.Message, StringComparison.Ordinal);
        Assert.Equal(VirtErrorKind.NotFound, Assert.IsType<NetworkException>(error.InnerException).ErrorKind);
        Assert.Empty(_qemu.Processes);
        Assert.DoesNotContain(_ipCommands, command => command.StartsWith("tuntap", StringComparison.Ordinal));
        Assert.Empty(ports.Ports);
        Assert.DoesNotContain(ports.Calls, call => call.Operation == InMemoryNetworkPortOperation.Prepare);
        Assert.Equal(VmState.Stopped, (await vm.GetStatusAsync(_ct)).State);
    }

    [Fact]
    public async Task A_network_in_another_namespace_gets_the_tap_only_once_QEMU_holds_it_and_before_the_guest_runs()
    {
        var ports = new InMemoryNetworkPorts(new IsolatedNetworkDefinition("lan")) { ConnectMovesInterface = true };
        var seen = new List<string>();
        var observed = new ObservingNetworkPorts(ports, call => seen.Add($"{call}: qemu {_qemu.Processes.Count}, tap {TapExists}"));
        var vm = await CreateAsync(NewManager(observed), VmNic.OnNetwork("net0", "lan"));

        await vm.StartAsync(_ct);

        // Moving the tap into the network's namespace before QEMU opened it by name would leave QEMU a fresh tap here.
        Assert.Equal("connect: qemu 1, tap True", seen[^1]);
        Assert.True(ports.IsConnected(Owner, "net0"));
        Assert.Equal(VmState.Running, (await vm.GetStatusAsync(_ct)).State);
    }

    [Fact]
    public async Task A_port_the_network_refuses_while_QEMU_starts_stops_QEMU_and_leaves_no_tap_no_port_and_no_run()
    {
        var ports = new InMemoryNetworkPorts(new IsolatedNetworkDefinition("lan"));
        ports.FailNext(InMemoryNetworkPortOperation.Prepare, new NetworkException(VirtErrorKind.Refused, "nftables refused to add the port's chains"));
        var vm = await CreateAsync(NewManager(ports), VmNic.OnNetwork("net0", "lan"));

        var error = await Assert.ThrowsAsync<VmStartException>(() => vm.StartAsync(_ct));

        Assert.Contains("NIC 'net0' cannot join network 'lan': nftables refused", error.Message, StringComparison.Ordinal);
        Assert.Empty(ports.Ports);
        Assert.False(TapExists);
        Assert.All(_qemu.Processes, process => Assert.False(process.IsAlive, "QEMU outlived the refused port"));
        Assert.Equal(VmState.Stopped, (await vm.GetStatusAsync(_ct)).State);
    }

    [Fact]
    public async Task Without_a_network_backend_the_start_fails_naming_the_NIC_the_network_and_AddNetwork()
    {
        var vm = await CreateAsync(NewManager(null), VmNic.OnNetwork("net0", "lan"));

        var error = await Assert.ThrowsAsync<VmStartException>(() => vm.StartAsync(_ct));

        Assert.Contains("NIC 'net0' is on network 'lan'", error.Message, StringComparison.Ordinal);
        Assert.Contains("AddNetwork()", error.Message, StringComparison.Ordinal);
        Assert.Empty(_qemu.Processes);
        Assert.Empty(_ipCommands);
    }

    [Fact]
    public async Task A_start_QEMU_refuses_releases_the_port_and_removes_the_tap()
    {
        var ports = new InMemoryNetworkPorts(new IsolatedNetworkDefinition("lan"));
        var vm = await CreateAsync(NewManager(ports), VmNic.OnNetwork("net0", "lan"));
        _qemu.FailNextSpawnWith = "qemu-system-x86_64: could not configure /dev/net/tun: Operation not permitted";

        await Assert.ThrowsAsync<VmStartException>(() => vm.StartAsync(_ct));

        Assert.Empty(ports.Ports);
        Assert.False(TapExists);
    }

    [Fact]
    public async Task A_connect_the_network_refuses_ends_QEMU_before_the_guest_runs_removes_the_tap_and_releases_the_port()
    {
        var ports = new InMemoryNetworkPorts(new IsolatedNetworkDefinition("lan"));
        ports.FailNext(InMemoryNetworkPortOperation.Connect, new NetworkException(VirtErrorKind.Failed, "bridge 'vn-lan' is gone"));
        var vm = await CreateAsync(NewManager(ports), VmNic.OnNetwork("net0", "lan"));

        var error = await Assert.ThrowsAsync<NetworkException>(() => vm.StartAsync(_ct));

        Assert.Contains("vn-lan", error.Message, StringComparison.Ordinal);
        Assert.False(_qemu.Processes.Single().IsAlive, "QEMU outlived the refused connect");
        Assert.Equal(VmState.Stopped, (await vm.GetStatusAsync(_ct)).State);
        Assert.Empty(ports.Ports);
        Assert.False(TapExists);
    }

    [Fact]
    public async Task Kill_releases_the_port_and_removes_the_tap()
    {
        var ports = new InMemoryNetworkPorts(new IsolatedNetworkDefinition("lan"));
        var vm = await CreateAsync(NewManager(ports), VmNic.OnNetwork("net0", "lan"));
        await vm.StartAsync(_ct);

        await vm.KillAsync(_ct);

        Assert.Empty(ports.Ports);
        Assert.False(TapExists);
    }

    [Fact]
    public async Task QEMU_exiting_on_its_own_releases_the_port()
    {
        var ports = new InMemoryNetworkPorts(new IsolatedNetworkDefinition("lan"));
        var vm = await CreateAsync(NewManager(ports), VmNic.OnNetwork("net0", "lan"));
        await vm.StartAsync(_ct);
        await using var events = VmEventLog.Watch(vm, _ct);

        _qemu.Processes.Single().Exit(1);

        await events.WaitForAsync(VmEventKind.Stopped);
        Assert.Empty(ports.Ports);
        Assert.False(TapExists);
    }

    [Fact]
    public async Task A_new_manager_that_finds_QEMU_died_unwatched_releases_the_port()
    {
        var ports = new InMemoryNetworkPorts(new IsolatedNetworkDefinition("lan"));
        var first = NewManager(ports);
        await (await CreateAsync(first, VmNic.OnNetwork("net0", "lan"))).StartAsync(_ct);
        await first.DisposeAsync();
        _qemu.Processes.Single().Exit(0);

        await NewManager(ports).GetAsync("web", _ct);

        Assert.Empty(ports.Ports);
        Assert.False(TapExists);
    }

    [Fact]
    public async Task Delete_releases_a_port_a_start_left_behind()
    {
        var ports = new InMemoryNetworkPorts(new IsolatedNetworkDefinition("lan"));
        var manager = NewManager(ports);
        await CreateAsync(manager, VmNic.OnNetwork("net0", "lan"));

        // What a process that died between prepare and QEMU's spawn leaves.
        await ports.PrepareAsync(new NetworkPortRequest("lan", Owner, "net0", Tap, NetworkPortKind.Tap, MacAddresses.Derive("web", "net0")), _ct);
        await manager.DeleteAsync("web", cancellationToken: _ct);

        Assert.Empty(ports.Ports);
    }

    [Fact]
    public async Task NIC_hotplug_prepares_and_connects_the_port_before_the_device_is_added_and_detach_releases_it()
    {
        var ports = new InMemoryNetworkPorts(new IsolatedNetworkDefinition("lan"));
        var vm = await CreateAsync(NewManager(ports));
        await vm.StartAsync(_ct);

        await vm.Nics.AttachAsync(VmNic.OnNetwork("net0", "lan"), _ct);

        Assert.True(ports.IsConnected(Owner, "net0"));
        Assert.True(TapExists);
        Assert.Contains(vm.Spec.Nics, nic => nic.Id == "net0");

        await vm.Nics.DetachAsync("net0", _ct);

        Assert.Empty(ports.Ports);
        Assert.False(TapExists);
    }

    [Fact]
    public async Task A_NIC_attach_QEMU_refuses_releases_its_port_and_removes_its_tap_and_an_unknown_network_makes_nothing()
    {
        var ports = new InMemoryNetworkPorts(new IsolatedNetworkDefinition("lan"));
        var vm = await CreateAsync(NewManager(ports), new VmNic("user0"));
        await vm.StartAsync(_ct);
        await vm.Nics.AttachAsync(new VmNic("user1"), _ct);

        // The fake QEMU's one hotplug port is taken: the attach fails after the port and the tap were made.
        var full = await Assert.ThrowsAsync<VmHotplugException>(() => vm.Nics.AttachAsync(VmNic.OnNetwork("net0", "lan"), _ct));
        Assert.Contains("no free hotplug root port", full.Message, StringComparison.Ordinal);
        // The device never came: the tap was not handed to the network.
        Assert.Equal([InMemoryNetworkPortOperation.Prepare, InMemoryNetworkPortOperation.Release], ports.Calls.Select(call => call.Operation));
        Assert.Empty(ports.Ports);
        Assert.False(TapExists);
        Assert.DoesNotContain(vm.Spec.Nics, nic => nic.Id == "net0");

        var refused = await Assert.ThrowsAsync<VmHotplugException>(() => vm.Nics.AttachAsync(VmNic.OnNetwork("net0", "nowhere"), _ct));
        Assert.Contains("network 'nowhere'", refused.Message, StringComparison.Ordinal);
        Assert.Single(_ipCommands, command => command.StartsWith("tuntap", StringComparison.Ordinal));
        Assert.Empty(ports.Ports);
    }

    private bool TapExists => _files.Directory.Exists("/sys/class/net/" + Tap);

    private KvmVirtualMachineManager NewManager(INetworkPorts? ports)
    {
        var runner = new Mock<IProcessRunner>();
        runner.Setup(r => r.RunAsync(It.IsAny<ProcessSpec>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync((ProcessSpec spec, CancellationToken _) => new ProcessResult(spec, 0, spec.FileName == "ip" ? RunIp(spec.Arguments) : spec.Arguments[^1] switch
            {
                "-version" => "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18)\n",
                "help" when spec.Arguments[0] == "-machine" => "Supported machines are:\nq35                  Standard PC (Q35 + ICH9, 2009)\npc                   Standard PC (i440FX + PIIX, 1996)\n",
                _ => "Accelerators supported in QEMU binary:\ntcg\n",
            }, string.Empty, TimeSpan.Zero));
        var manager = new KvmVirtualMachineManager(_options, runner.Object, new QemuCapabilityProbe(runner.Object, _files), new AcceleratorProbe(_files), TimeProvider.System, null, null, null, _files, _qemu, ports);
        _managers.Add(manager);
        return manager;
    }

    /// <summary>iproute2 as the kernel answers it: a tap appears in sysfs when added and goes when deleted.</summary>
    private string RunIp(IReadOnlyList<string> arguments)
    {
        lock (_ipCommands)
        {
            _ipCommands.Add(string.Join(' ', arguments));
        }

        if (arguments is ["tuntap", "add", "dev", var added, ..])
        {
            _files.AddDirectory("/sys/class/net/" + added);
        }
        else if (arguments is ["link", "del", "dev", var deleted])
        {
            _files.Directory.Delete("/sys/class/net/" + deleted, recursive: true);
        }

        return string.Empty;
    }

    private async Task<IVirtualMachine> CreateAsync(KvmVirtualMachineManager manager, params VmNic[] nics)
    {
        // The VM's lock files are real (flock): their directory exists on the real file system too.
        Directory.CreateDirectory(Path.Combine(_options.StateDirectory, "web"));
        return await manager.CreateAsync(new VmSpec("web") { Disks = [new VmDisk("root", Disk)], GuestAgent = false, Nics = nics }, _ct);
    }

    /// <summary>Passes every call on, telling the test first which one it is (to see what the host looked like then).</summary>
    private sealed class ObservingNetworkPorts(INetworkPorts inner, Action<string> observe) : INetworkPorts
    {
        public Task<NetworkPort> PrepareAsync(NetworkPortRequest request, CancellationToken cancellationToken = default)
        {
            observe("prepare");
            return inner.PrepareAsync(request, cancellationToken);
        }

        public Task ConnectAsync(string owner, string nicId, CancellationToken cancellationToken = default)
        {
            observe("connect");
            return inner.ConnectAsync(owner, nicId, cancellationToken);
        }

        public Task ReleaseAsync(string owner, string? nicId = null, CancellationToken cancellationToken = default)
        {
            observe("release");
            return inner.ReleaseAsync(owner, nicId, cancellationToken);
        }

        public Task CheckAsync(NetworkPortRequest request, CancellationToken cancellationToken = default)
        {
            observe("check");
            return inner.CheckAsync(request, cancellationToken);
        }

        public Task<IReadOnlyList<NetworkPort>> PrepareManyAsync(IReadOnlyList<NetworkPortRequest> requests, CancellationToken cancellationToken = default)
        {
            observe("prepare many");
            return inner.PrepareManyAsync(requests, cancellationToken);
        }

        public Task ConnectManyAsync(IReadOnlyList<NetworkPortId> ports, CancellationToken cancellationToken = default)
        {
            observe("connect many");
            return inner.ConnectManyAsync(ports, cancellationToken);
        }

        public Task<int?> GetPortMtuAsync(string network, CancellationToken cancellationToken = default) => inner.GetPortMtuAsync(network, cancellationToken);
    }
}
