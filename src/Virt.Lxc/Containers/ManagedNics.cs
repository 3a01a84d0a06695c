using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Virt.Containers;
using Virt.Networking;

namespace Virt.Lxc.Containers;

/// <summary>
/// A container's NICs on managed networks (<see cref="ContainerNic.Network"/>), through <see cref="INetworkPorts"/>: each
/// port is prepared before <c>lxc-start</c> (owner <c>ct:NAME</c>, the NIC's name inside the container, the veth's host end
/// the SDK names), so its firewall rules are in force before the container sends anything; connected once LXC has made the
/// veth; released when the container stops, is killed or deleted, when a start fails, and at the next start or stop after
/// a crash (no process watches a container, so a crash is noticed there, as its other leftovers are).
/// </summary>
internal static class ManagedNics
{
    public static string Owner(string containerName) => "ct:" + containerName;

    /// <summary>The NIC's id to the network: its name inside the container (eth0, eth1... by default).</summary>
    public static string NicId(ContainerSpec spec, int index) => spec.Network[index].Name ?? "eth" + index.ToString(CultureInfo.InvariantCulture);

    /// <summary>The MAC the container's NIC gets: the spec's, or one derived for a NIC on a managed network (LXC's random one would change at every start).</summary>
    public static string? MacAddress(ContainerSpec spec, int index) =>
        spec.Network[index].MacAddress?.ToLowerInvariant() ?? (spec.Network[index].Network is null ? null : DeriveMacAddress(spec.Name, index));

    /// <summary>A locally administered unicast MAC, the same for the same container and NIC index every time.</summary>
    /// <param name="containerName">The container's name.</param>
    /// <param name="index">The NIC's index in the spec.</param>
    /// <returns>e.g. "be:3f:a1:07:c2:d9".</returns>
    public static string DeriveMacAddress(string containerName, int index)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"ct/{containerName}/{index.ToString(CultureInfo.InvariantCulture)}"));

        // First octet: the locally administered bit set, the multicast bit clear.
        hash[0] = (byte)((hash[0] & 0xfc) | 0x02);
        return string.Join(':', hash.Take(6).Select(octet => octet.ToString("x2", CultureInfo.InvariantCulture)));
    }

    /// <summary>The managed NICs' indexes in the spec.</summary>
    public static IEnumerable<int> Indexes(ContainerSpec spec) => Enumerable.Range(0, spec.Network.Count).Where(index => spec.Network[index].Network is not null);

    /// <summary>Refuses, before anything is made, a NIC on a network when no network backend is registered.</summary>
    public static void RequireBackend(LxcContext context, ContainerSpec spec)
    {
        if (context.NetworkPorts is null && Indexes(spec).Select(index => (int?)index).FirstOrDefault() is { } first)
        {
            throw new ContainerPreflightException(spec.Name, [$"NIC '{NicId(spec, first)}' is on network '{spec.Network[first].Network}', but no network backend is registered: call AddNetwork() when composing the SDK (services.AddVirt().AddLxc().AddNetwork()), or give LxcContainerManager an INetworkPorts"]);
        }
    }

    /// <summary>
    /// Prepares the port of each NIC on a network, in order, and returns them by NIC index. When one is refused (an unknown
    /// network, a bad tag, an address taken), the ports prepared before it are released and the start fails, naming the
    /// NIC, the network and what the network said.
    /// </summary>
    public static async Task<IReadOnlyDictionary<int, NetworkPort>> PrepareAsync(LxcContext context, ContainerSpec spec, string startLog, CancellationToken cancellationToken)
    {
        var prepared = new Dictionary<int, NetworkPort>();
        if (!Indexes(spec).Any())
        {
            return prepared;
        }

        RequireBackend(context, spec);
        var ports = context.NetworkPorts!;
        var paths = context.PathsOf(spec.Name);
        foreach (var index in Indexes(spec))
        {
            var nic = spec.Network[index];
            var request = new NetworkPortRequest(nic.Network!, Owner(spec.Name), NicId(spec, index), paths.HostInterfaceName(index), NetworkPortKind.Veth, MacAddress(spec, index)!)
            {
                VlanTag = nic.VlanTag,
                Firewall = nic.Firewall,
                Ipv4Address = nic.Ipv4Address,

                // The name the container calls itself (its host name, else its name), so the network's DNS answers for it.
                Hostname = NetworkNames.HostnameFrom(spec.Hostname ?? spec.Name),
            };
            try
            {
                prepared[index] = await ports.PrepareAsync(request, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception exception) when (exception is VirtException or TimeoutException or OperationCanceledException)
            {
                foreach (var attempted in prepared.Keys.Append(index))
                {
                    await ReleaseAsync(context, spec, NicId(spec, attempted)).ConfigureAwait(false);
                }

                if (exception is OperationCanceledException)
                {
                    throw;
                }

                throw new ContainerStartException(spec.Name, ContainerStartFailure.MissingNetworkLink, $"NIC '{request.NicId}' cannot join network '{request.Network}': {exception.Message}", startLog, string.Empty);
            }
        }

        return prepared;
    }

    /// <summary>Puts the host ends LXC made on their networks' bridges (after <c>lxc-start</c> returned).</summary>
    public static async Task ConnectAsync(LxcContext context, ContainerSpec spec, CancellationToken cancellationToken)
    {
        foreach (var index in Indexes(spec))
        {
            await context.NetworkPorts!.ConnectAsync(Owner(spec.Name), NicId(spec, index), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Releases the container's ports (one NIC's, or all). Idempotent; never throws, since it runs on cleanup paths, but logs.</summary>
    public static async Task ReleaseAsync(LxcContext context, ContainerSpec spec, string? nicId = null)
    {
        if (context.NetworkPorts is not { } ports || !Indexes(spec).Any())
        {
            return;
        }

        try
        {
            await ports.ReleaseAsync(Owner(spec.Name), nicId, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is VirtException or TimeoutException)
        {
            Log.NetworkPortReleaseFailed(context.Logger, exception, spec.Name);
        }
    }
}
