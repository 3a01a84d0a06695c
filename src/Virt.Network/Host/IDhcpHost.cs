namespace Virt.Network.Host;

/// <summary>One supervised dnsmasq per network that serves DHCP or DNS; faked in unit tests.</summary>
internal interface IDhcpHost
{
    /// <summary>Whether the network's dnsmasq runs and serves exactly this instance.</summary>
    Task<DhcpStatus> InspectAsync(DhcpInstance instance, CancellationToken cancellationToken);

    /// <summary>
    /// Writes the configuration and hosts file atomically and starts dnsmasq, or — when it runs and only hosts changed —
    /// makes it re-read them (SIGHUP), or restarts it when the configuration changed. Returns once it answers (pid file written).
    /// </summary>
    Task EnsureAsync(DhcpInstance instance, CancellationToken cancellationToken);

    /// <summary>Stops the network's dnsmasq (by its pid file) and removes its files, keeping the leases file unless told otherwise.</summary>
    Task StopAsync(string network, bool removeLeases, CancellationToken cancellationToken);

    /// <summary>Whether a dnsmasq runs for the network at all (for drift and delete).</summary>
    Task<bool> IsRunningAsync(string network, CancellationToken cancellationToken);

    /// <summary>The leases in the network's leases file.</summary>
    Task<IReadOnlyList<Virt.Networking.DhcpLease>> ReadLeasesAsync(string network, CancellationToken cancellationToken);
}
