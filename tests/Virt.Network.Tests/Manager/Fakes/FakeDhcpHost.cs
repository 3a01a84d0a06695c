using Virt.Network.Host;
using Virt.Networking;

namespace Virt.Network.Tests.Manager.Fakes;

/// <summary>dnsmasq instances in memory: one per network, running with the configuration it was last ensured with.</summary>
internal sealed class FakeDhcpHost : IDhcpHost
{
    public Dictionary<string, DhcpInstance> Running { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, List<DhcpLease>> Leases { get; } = new(StringComparer.Ordinal);

    public bool FailNextEnsure { get; set; }

    public Task<DhcpStatus> InspectAsync(DhcpInstance instance, CancellationToken cancellationToken) =>
        Task.FromResult(Running.TryGetValue(instance.Network, out var running)
            ? new DhcpStatus(true, Describe(running) == Describe(instance), 4242)
            : new DhcpStatus(false, false, null));

    public Task EnsureAsync(DhcpInstance instance, CancellationToken cancellationToken)
    {
        if (FailNextEnsure)
        {
            FailNextEnsure = false;
            throw new NetworkException(VirtErrorKind.Failed, $"dnsmasq for network '{instance.Network}' exited with 2: dnsmasq: failed to create listening socket for {instance.Ipv4Gateway}: Address already in use");
        }

        Running[instance.Network] = instance;
        return Task.CompletedTask;
    }

    public Task StopAsync(string network, bool removeLeases, CancellationToken cancellationToken)
    {
        Running.Remove(network);
        if (removeLeases)
        {
            Leases.Remove(network);
        }

        return Task.CompletedTask;
    }

    public Task<bool> IsRunningAsync(string network, CancellationToken cancellationToken) => Task.FromResult(Running.ContainsKey(network));

    public Task<IReadOnlyList<DhcpLease>> ReadLeasesAsync(string network, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<DhcpLease>>(Leases.TryGetValue(network, out var leases) ? leases : []);

    public static string Describe(DhcpInstance instance) =>
        $"{instance.Network} {instance.Bridge} {instance.Ipv4Gateway} {instance.Ipv4Subnet} {instance.Ipv4RangeStart}-{instance.Ipv4RangeEnd} {instance.LeaseTime} {instance.Dns} {instance.DnsDomain} {instance.Ipv6Subnet} {string.Join(',', instance.Hosts.Select(h => $"{h.MacAddress}={h.Address}/{h.Hostname}"))}";
}
