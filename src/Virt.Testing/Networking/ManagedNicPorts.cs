using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Virt.Containers;
using Virt.Networking;
using Virt.VirtualMachines;

namespace Virt.Testing;

/// <summary>
/// How the in-memory VMs and containers use an <see cref="INetworkPorts"/> (optional), in the backends' order: every NIC on
/// a managed network is prepared, then connected (the in-memory host interface exists at once); when one is refused, those
/// prepared before it are released and the start or hotplug fails; stopping, a crash and deleting release the owner's ports.
/// </summary>
internal sealed class ManagedNicPorts(INetworkPorts? ports)
{
    /// <summary>The port requests of a VM's NICs on managed networks (owner <c>vm:NAME</c>, the NIC's id).</summary>
    public static IReadOnlyList<NetworkPortRequest> Of(VmSpec spec, IEnumerable<VmNic> nics) =>
        [.. nics.Where(nic => nic.Network is not null).Select(nic => Request(nic.Network!, "vm:" + spec.Name, nic.Id, NetworkPortKind.Tap, nic.MacAddress, nic.VlanTag, nic.Firewall, nic.Ipv4Address))];

    /// <summary>The port requests of a container's NICs on managed networks (owner <c>ct:NAME</c>, the NIC's name inside: eth0...).</summary>
    public static IReadOnlyList<NetworkPortRequest> Of(ContainerSpec spec) =>
        [.. spec.Network.Select((nic, index) => (nic, index)).Where(entry => entry.nic.Network is not null)
            .Select(entry => Request(entry.nic.Network!, "ct:" + spec.Name, entry.nic.Name ?? "eth" + entry.index.ToString(CultureInfo.InvariantCulture), NetworkPortKind.Veth, entry.nic.MacAddress, entry.nic.VlanTag, entry.nic.Firewall, entry.nic.Ipv4Address))];

    /// <summary>Prepares and connects every request; <paramref name="fail"/> makes the exception for a missing backend or a refusal (the NIC's request, the reason, the network's exception).</summary>
    public async Task JoinAsync(IReadOnlyList<NetworkPortRequest> requests, Func<NetworkPortRequest, string, Exception?, Exception> fail, CancellationToken cancellationToken)
    {
        if (requests.Count == 0)
        {
            return;
        }

        if (ports is null)
        {
            throw fail(requests[0], $"NIC '{requests[0].NicId}' is on network '{requests[0].Network}', but no network backend is registered: call AddNetwork() when composing the SDK, or give the in-memory manager an INetworkPorts (InMemoryNetworkPorts)", null);
        }

        var attempted = new List<NetworkPortRequest>();
        try
        {
            foreach (var request in requests)
            {
                attempted.Add(request);
                await ports.PrepareAsync(request, cancellationToken).ConfigureAwait(false);
            }

            foreach (var request in requests)
            {
                await ports.ConnectAsync(request.Owner, request.NicId, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (VirtException exception)
        {
            foreach (var request in attempted)
            {
                await ports.ReleaseAsync(request.Owner, request.NicId, CancellationToken.None).ConfigureAwait(false);
            }

            var failed = attempted[^1];
            throw fail(failed, $"NIC '{failed.NicId}' cannot join network '{failed.Network}': {exception.Message}", exception);
        }
    }

    /// <summary>Releases the owner's ports (one NIC's, or all).</summary>
    public Task ReleaseAsync(string owner, string? nicId = null) =>
        ports?.ReleaseAsync(owner, nicId, CancellationToken.None) ?? Task.CompletedTask;

    /// <summary>
    /// Releases the owner's ports from a synchronous fault injection (a crash). The backends release them as they clean up
    /// after the crash; the double does it before returning, so a test sees the result at once.
    /// </summary>
    public void ReleaseNow(string owner) => ReleaseAsync(owner).GetAwaiter().GetResult();

    private static NetworkPortRequest Request(string network, string owner, string nicId, NetworkPortKind kind, string? macAddress, int? vlanTag, NicFirewall? firewall, string? ipv4Address)
    {
        // Stable per owner and NIC, like the backends' names: "vi" + 10 hex digits, and a locally administered unicast MAC.
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(owner + "/" + nicId));
        var mac = macAddress ?? "02:" + string.Join(':', hash.Skip(1).Take(5).Select(octet => octet.ToString("x2", CultureInfo.InvariantCulture)));
        return new NetworkPortRequest(network, owner, nicId, "vi" + Convert.ToHexStringLower(hash, 0, 5), kind, mac)
        {
            VlanTag = vlanTag,
            Firewall = firewall,
            Ipv4Address = ipv4Address,
        };
    }
}
