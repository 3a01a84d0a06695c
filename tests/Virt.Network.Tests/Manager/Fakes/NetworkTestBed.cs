using System.IO.Abstractions;
using Virt.Network.Hosting;
using Virt.Network.Manager;
using Virt.Networking;

namespace Virt.Network.Tests.Manager.Fakes;

/// <summary>
/// One "host" for the manager's tests: a state directory of its own (on the real file system, so that the state
/// directory's flock is the kernel's) and the fake kernel, nftables and dnsmasq. Managers made from it share all of
/// them, as two processes on one host would.
/// </summary>
internal sealed class NetworkTestBed : IDisposable
{
    public NetworkTestBed()
    {
        StateDirectory = Path.Combine(Path.GetTempPath(), "virt-network-tests-" + Guid.NewGuid().ToString("N"));
    }

    public string StateDirectory { get; }

    public FakeLinkHost Links { get; } = new();

    public FakeFirewallHost Firewall { get; } = new();

    public FakeDhcpHost Dhcp { get; } = new();

    public FakeValidation Validation { get; } = new();

    /// <summary>The namespace's switches: a NAT or routed network turns IP forwarding on here, never in the test host's kernel.</summary>
    public FakeSysctl Sysctl { get; } = new();

    public NetworkManager NewManager(TimeSpan? lockTimeout = null) =>
        new(new NetworkOptions { StateDirectory = StateDirectory, LockTimeout = lockTimeout ?? TimeSpan.FromSeconds(30) }, new FileSystem(), (Links, Firewall, Dhcp, Validation), null) { Sysctl = Sysctl };

    public static NatNetworkDefinition Nat(string name = "nat1") =>
        new(name, new NetworkSubnet("192.0.2.0/24", "192.0.2.1") { DhcpStart = "192.0.2.100", DhcpEnd = "192.0.2.199" });

    public static NetworkPortRequest Port(string network, string owner = "vm:web", string nic = "net0", string tap = "tap-web0") =>
        new(network, owner, nic, tap, NetworkPortKind.Tap, "52:54:00:12:34:56");

    public async Task<NetworkManager> AppliedAsync(params NetworkDefinition[] definitions)
    {
        var manager = NewManager();
        foreach (var definition in definitions)
        {
            await manager.DefineAsync(definition, TestContext.Current.CancellationToken);
            await manager.ApplyAsync(definition.Name, TestContext.Current.CancellationToken);
        }

        return manager;
    }

    public void Dispose()
    {
        if (Directory.Exists(StateDirectory))
        {
            Directory.Delete(StateDirectory, recursive: true);
        }
    }
}
