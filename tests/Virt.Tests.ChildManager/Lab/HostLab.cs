using System.Diagnostics;
using Virt.Processes;

namespace Virt.Tests.Lab;

/// <summary>What a <see cref="HostLab"/> runs and whether the root namespace joins its network.</summary>
public sealed record HostLabOptions
{
    /// <summary>The QEMU every host's manager runs.</summary>
    public required string QemuBinary { get; init; }

    /// <summary>The test guest's directory (kernel, initramfs).</summary>
    public required string GuestDirectory { get; init; }

    /// <summary>The start of every namespace's name, so a leftover one says which suite made it.</summary>
    public string NamespacePrefix { get; init; } = "virt-lab";

    /// <summary>
    /// Joins the root namespace to the lab's switch on <see cref="HostLab.RootLinkSubnet"/>.0/24 (root
    /// <see cref="HostLab.RootAddress"/>; host N also gets 203.0.113.(N+1) unless that is already its address) and gives
    /// every host a route to <see cref="HostLab.ServicesNetwork"/> through it, so the root namespace reaches the hosts
    /// and the hosts reach services the test runs in the root namespace (a Ceph cluster bound to an address of that
    /// network, etcd) over their link. Two labs with a root link cannot run at the same time (both would give the root
    /// namespace the same address).
    /// </summary>
    public bool WithRootLink { get; init; }

    /// <summary>
    /// The first three octets of the hosts' /24 (a documentation range: 192.0.2 or 203.0.113; not the services network
    /// 198.51.100). A lab whose hosts must be reached from the root namespace at their own addresses (e.g. panels with
    /// certificates for those addresses) takes the root link's 203.0.113. With a
    /// root link, pick one the root namespace does not already route: where the machine itself sits in 192.0.2.0/24
    /// (some CI runners do), the root's route to its own network wins and the hosts cannot be reached from it.
    /// </summary>
    public string Subnet { get; init; } = "192.0.2";

    /// <summary>
    /// Whether every host runs a host agent (default). Off, the lab makes only the namespaces, links, state directories
    /// and certificates (<see cref="HostLab.Machines"/>); the test starts its own processes in them with
    /// <see cref="HostLab.StartIn"/> (e.g. a panel per host) and ends them itself.
    /// </summary>
    public bool StartHostAgents { get; init; } = true;

    /// <summary>
    /// Makes every host agent a node of this cluster (named as the host; its VM manager's start gate the cluster, with an HA
    /// agent and a migration agent receiving on the host's address). Its etcd must be reachable from the hosts: with
    /// <see cref="WithRootLink"/>, on an address of <see cref="HostLab.ServicesNetwork"/>.
    /// </summary>
    public LabCluster? Cluster { get; init; }
}

/// <summary>The cluster a lab's hosts join (see <see cref="HostLabOptions.Cluster"/>).</summary>
/// <param name="Endpoints">etcd's client URLs.</param>
/// <param name="KeyPrefix">The cluster's key prefix (one per test).</param>
/// <param name="LeaseSeconds">The nodes' lease.</param>
public sealed record LabCluster(IReadOnlyList<string> Endpoints, string KeyPrefix, int LeaseSeconds);

/// <summary>A lab host's place, with or without its agent: its name, namespace, address, state directory and TLS material.</summary>
/// <param name="Name">The host's name (the CN of its certificate).</param>
/// <param name="Namespace">The network namespace that is the host.</param>
/// <param name="Address">The host's address on the lab's switch.</param>
/// <param name="StateDirectory">A state directory for the host (not made by the lab: the agent or the test makes it).</param>
/// <param name="TlsDirectory">The host's TLS material in QEMU's layout (<c>ca-cert.pem</c>, <c>server-cert.pem</c>, ...).</param>
public sealed record LabMachine(string Name, string Namespace, string Address, string StateDirectory, string TlsDirectory);

/// <summary>
/// Several "hosts" on one machine, for tests and benchmarks of what crosses hosts: each host is an SDK manager in its
/// own child process (the <c>host</c> mode of this program, see HostAgent) with its own state directory, in its own
/// network namespace. The hosts' links meet on a bridge in a switch namespace of their own, so traffic between hosts
/// crosses two veth links and a bridge, and taking one host's link down partitions it. Host N (from 0) has address
/// 192.0.2.(N+1)/24 (or <see cref="HostLabOptions.Subnet"/>.(N+1)) and TLS material (CN = its name) from one throwaway CA. Disposing ends the host processes and
/// every QEMU they left (by the pids in their state directories), then deletes the namespaces this lab made (their
/// veths go with them) and the root link by its name.
/// </summary>
public sealed class HostLab : IAsyncDisposable
{
    /// <summary>
    /// The subnet of the root link (TEST-NET-3), not the hosts' default 192.0.2.0/24: the machine's own uplink may be in
    /// 192.0.2.0/24 (on the test machines eth0 is 192.0.2.2/24 with its gateway at 192.0.2.1, host-b's and host-a's
    /// addresses), and the root namespace would send its answers to the hosts out of that uplink instead.
    /// </summary>
    public const string RootLinkSubnet = "203.0.113";

    /// <summary>The root namespace's address on the switch when <see cref="HostLabOptions.WithRootLink"/> is set.</summary>
    public const string RootAddress = RootLinkSubnet + ".254";

    /// <summary>
    /// Where services of the root namespace live for the hosts (TEST-NET-2): with a root link, hosts route it via
    /// <see cref="RootAddress"/>; the root namespace holds such an address on its <c>lo</c> (the Ceph test fixture does).
    /// A lab's <see cref="HostLabOptions.Subnet"/> may not be this network.
    /// </summary>
    public const string ServicesNetwork = "198.51.100.0/24";

    private const string HostInterface = "lab0";
    private readonly string _root;
    private readonly HostLabOptions _options;
    private readonly List<string> _namespaces = [];
    private readonly List<LabHost> _hosts = [];
    private readonly List<LabMachine> _machines = [];
    private string? _rootLink;

    private HostLab(string root, HostLabOptions options)
    {
        (_root, _options) = (root, options);
    }

    /// <summary>The hosts, in the order they were named.</summary>
    public IReadOnlyList<LabHost> Hosts => _hosts;

    /// <summary>The host with this name.</summary>
    public LabHost this[string name] => _hosts.Single(h => h.Name == name);

    /// <summary>Every host's place (namespace, address, TLS material), also when no agents run.</summary>
    public IReadOnlyList<LabMachine> Machines => _machines;

    /// <summary>The address of the host at <paramref name="index"/> in the default subnet.</summary>
    public static string AddressOf(int index) => $"192.0.2.{index + 1}";

    /// <summary>The address of the host at <paramref name="index"/> in this lab's <see cref="HostLabOptions.Subnet"/>.</summary>
    public string HostAddress(int index) => $"{_options.Subnet}.{index + 1}";

    /// <summary>Makes the namespaces, links and certificates and starts one host process per name.</summary>
    public static async Task<HostLab> CreateAsync(IReadOnlyList<string> hostNames, HostLabOptions options, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(hostNames.Count, 250);
        if (ServicesNetwork.StartsWith(options.Subnet + ".", StringComparison.Ordinal))
        {
            throw new ArgumentException($"the lab's subnet {options.Subnet}.0/24 is the services network {ServicesNetwork}; take 192.0.2 or {RootLinkSubnet}", nameof(options));
        }

        var suffix = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(3)).ToLowerInvariant();
        var lab = new HostLab(Directory.CreateTempSubdirectory("virt-lab-").FullName, options);
        try
        {
            var addresses = hostNames.Select((name, i) => (name, lab.HostAddress(i))).ToDictionary(p => p.name, p => p.Item2);
            var tls = await LabCertificates.CreateAsync(Path.Combine(lab._root, "tls"), addresses, cancellationToken);
            var switchNamespace = await lab.AddNamespaceAsync($"{options.NamespacePrefix}-sw-{suffix}", cancellationToken);
            await IpAsync(cancellationToken, "-n", switchNamespace, "link", "add", "br0", "type", "bridge");
            await IpAsync(cancellationToken, "-n", switchNamespace, "link", "set", "br0", "up");
            for (var i = 0; i < hostNames.Count; i++)
            {
                var hostNamespace = await lab.AddNamespaceAsync($"{options.NamespacePrefix}-{i}-{suffix}", cancellationToken);
                await IpAsync(cancellationToken, "link", "add", HostInterface, "netns", hostNamespace, "type", "veth", "peer", "name", $"h{i}", "netns", switchNamespace);
                await PlugAsync(switchNamespace, $"h{i}", cancellationToken);
                await IpAsync(cancellationToken, "-n", hostNamespace, "addr", "add", $"{lab.HostAddress(i)}/24", "dev", HostInterface);
                await IpAsync(cancellationToken, "-n", hostNamespace, "link", "set", HostInterface, "up");
            }

            if (options.WithRootLink)
            {
                lab._rootLink = $"vlab{suffix}";
                await IpAsync(cancellationToken, "link", "add", lab._rootLink, "type", "veth", "peer", "name", "root", "netns", switchNamespace);
                await PlugAsync(switchNamespace, "root", cancellationToken);
                await IpAsync(cancellationToken, "addr", "add", $"{RootAddress}/24", "dev", lab._rootLink);

                // The root namespace answers ARP for all its addresses on every link by default: on the test machines it
                // answered "who has 192.0.2.2" (its eth0's address, host-b's in the lab) on the root link, racing host-b,
                // and host-a's packets to host-b went to the root namespace (measured: ping host-a -> host-b 100 % lost).
                // arp_ignore=1 answers only for addresses on the link the question came in on.
                await File.WriteAllTextAsync($"/proc/sys/net/ipv4/conf/{lab._rootLink}/arp_ignore", "1", cancellationToken);
                await IpAsync(cancellationToken, "link", "set", lab._rootLink, "up");
                for (var i = 0; i < hostNames.Count; i++)
                {
                    var rootLinkAddress = $"{RootLinkSubnet}.{i + 1}";
                    if (options.Subnet != RootLinkSubnet)
                    {
                        await IpAsync(cancellationToken, "-n", lab._namespaces[i + 1], "addr", "add", rootLinkAddress + "/24", "dev", HostInterface);
                    }

                    await IpAsync(cancellationToken, "-n", lab._namespaces[i + 1], "route", "add", ServicesNetwork, "via", RootAddress, "dev", HostInterface, "src", rootLinkAddress);
                }
            }

            for (var i = 0; i < hostNames.Count; i++)
            {
                var name = hostNames[i];
                lab._machines.Add(new LabMachine(name, lab._namespaces[i + 1], lab.HostAddress(i), Path.Combine(lab._root, $"state-{name}"), tls[name]));
            }

            foreach (var machine in options.StartHostAgents ? lab._machines : [])
            {
                lab._hosts.Add(await LabHost.StartAsync(machine.Name, machine.Namespace, machine.StateDirectory, machine.TlsDirectory, machine.Address, options));
            }

            return lab;
        }
        catch
        {
            await lab.DisposeAsync();
            throw;
        }
    }

    /// <summary>Ends a host's process (its manager lets go of its VMs, QEMU runs on) and starts a new one on the same state.</summary>
    /// <param name="name">The host.</param>
    /// <param name="whileDown">
    /// When given, the process is killed instead (the host "dies" mid-operation), and this runs before the new one starts
    /// (to kill what the dead process left, say).
    /// </param>
    public async Task<LabHost> RestartAsync(string name, Func<Task>? whileDown = null)
    {
        var index = _hosts.FindIndex(h => h.Name == name);
        var old = _hosts[index];
        if (whileDown is null)
        {
            await old.ExitAsync();
        }
        else
        {
            await old.KillAsync();
            await whileDown();
        }

        _hosts[index] = await LabHost.StartAsync(old.Name, old.Namespace, old.StateDirectory, old.TlsDirectory, old.Address, _options);
        return _hosts[index];
    }

    /// <summary>
    /// Starts <paramref name="start"/> in the namespace of host <paramref name="name"/> (<c>ip netns exec</c>, which
    /// execs it: the process's pid is the program's, so the caller ends it by that pid).
    /// </summary>
    public Process StartIn(string name, ProcessStartInfo start)
    {
        var inNamespace = new ProcessStartInfo("ip")
        {
            UseShellExecute = false,
            RedirectStandardInput = start.RedirectStandardInput,
            RedirectStandardOutput = start.RedirectStandardOutput,
            RedirectStandardError = start.RedirectStandardError,
            WorkingDirectory = start.WorkingDirectory,
        };
        foreach (var argument in new[] { "netns", "exec", NamespaceOf(name), start.FileName }.Concat(start.ArgumentList))
        {
            inNamespace.ArgumentList.Add(argument);
        }

        inNamespace.Environment.Clear();
        foreach (var (key, value) in start.Environment)
        {
            inNamespace.Environment[key] = value;
        }

        return Process.Start(inNamespace)!;
    }

    /// <summary>Runs a program to its end in the namespace of host <paramref name="name"/>; throws with its stderr when it fails.</summary>
    public async Task<string> RunInAsync(string name, string program, params string[] arguments) =>
        (await new ProcessRunner().RunAsync(new ProcessSpec("ip", ["netns", "exec", NamespaceOf(name), program, .. arguments]), CancellationToken.None)).EnsureSuccess().StandardOutput;

    /// <summary>Takes a host's link down (it is cut off from the others and the root namespace) or brings it back.</summary>
    public async Task SetLinkAsync(string name, bool up)
    {
        var ns = NamespaceOf(name);
        await IpAsync(CancellationToken.None, "-n", ns, "link", "set", HostInterface, up ? "up" : "down");
        if (up && _rootLink is not null)
        {
            // Taking the link down deleted the route to the services network through it (the kernel drops a link's routes
            // with it); only the connected routes come back with the link.
            var index = _machines.FindIndex(m => m.Name == name);
            await IpAsync(CancellationToken.None, "-n", ns, "route", "replace", ServicesNetwork, "via", RootAddress, "dev", HostInterface, "src", $"{RootLinkSubnet}.{index + 1}");
        }
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        // Each step on its own: one that fails (a QEMU that ended between the look and the kill) leaves no other undone.
        var failures = new List<Exception>();
        async Task StepAsync(Func<Task> step)
        {
            try
            {
                await step();
            }
            catch (Exception e)
            {
                failures.Add(e);
            }
        }

        foreach (var host in _hosts)
        {
            await StepAsync(async () => await host.DisposeAsync());
        }

        if (_rootLink is { } rootLink)
        {
            await StepAsync(() => new ProcessRunner().RunAsync(new ProcessSpec("ip", ["link", "delete", rootLink]), CancellationToken.None));
        }

        foreach (var ns in _namespaces)
        {
            await StepAsync(() => IpAsync(CancellationToken.None, "netns", "delete", ns));
        }

        await StepAsync(() =>
        {
            Directory.Delete(_root, recursive: true);
            return Task.CompletedTask;
        });
        if (failures.Count > 0)
        {
            throw new AggregateException("the lab was cleaned up, but some steps failed", failures);
        }
    }

    private string NamespaceOf(string name) => _machines.Single(m => m.Name == name).Namespace;

    private static async Task PlugAsync(string switchNamespace, string port, CancellationToken cancellationToken)
    {
        await IpAsync(cancellationToken, "-n", switchNamespace, "link", "set", port, "master", "br0");
        await IpAsync(cancellationToken, "-n", switchNamespace, "link", "set", port, "up");
    }

    private async Task<string> AddNamespaceAsync(string name, CancellationToken cancellationToken)
    {
        await IpAsync(cancellationToken, "netns", "add", name);
        _namespaces.Add(name);
        await IpAsync(cancellationToken, "-n", name, "link", "set", "lo", "up");
        return name;
    }

    private static async Task IpAsync(CancellationToken cancellationToken, params string[] arguments) =>
        (await new ProcessRunner().RunAsync(new ProcessSpec("ip", arguments), cancellationToken)).EnsureSuccess();
}
