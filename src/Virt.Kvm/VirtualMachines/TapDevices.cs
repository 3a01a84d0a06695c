using System.IO.Abstractions;
using Virt.Networking;
using Virt.Processes;
using Virt.VirtualMachines;

namespace Virt.Kvm.VirtualMachines;

/// <summary>
/// Creates and removes the tap devices of bridged NICs with iproute2. A NIC on an existing bridge has the bridge checked
/// first and its tap put on it; a NIC on a managed network (its port prepared beforehand) has its tap connected by
/// <see cref="INetworkPorts.ConnectAsync"/>, which puts it on the network's bridge and VLAN.
/// </summary>
internal sealed class TapDevices(IProcessRunner processRunner, IFileSystem fileSystem, INetworkPorts? networkPorts = null)
{
    public async Task<IReadOnlyList<string>> CreateAsync(VmSpec spec, CancellationToken cancellationToken)
    {
        var created = new List<string>();
        try
        {
            foreach (var nic in spec.Nics.Where(n => n.Backend == VmNicBackend.Bridge))
            {
                var bridge = nic.Bridge;
                if (bridge is not null && !fileSystem.Directory.Exists($"/sys/class/net/{bridge}/bridge"))
                {
                    throw new VmStartException(spec.Name,
                        $"cannot start VM '{spec.Name}': bridge '{bridge}' of NIC '{nic.Id}' does not exist (no /sys/class/net/{bridge}/bridge); create it (ip link add {bridge} type bridge) or set Nics[].Bridge",
                        null, string.Empty);
                }

                var tap = MacAddresses.TapName(spec.Name, nic.Id);
                await DeleteIfPresentAsync(tap, cancellationToken).ConfigureAwait(false);
                await RunAsync(["tuntap", "add", "dev", tap, "mode", "tap"], cancellationToken).ConfigureAwait(false);
                created.Add(tap);
                if (nic.Network is not null)
                {
                    // Connected by ConnectManagedAsync once QEMU holds the tap: a network managed in another namespace
                    // moves it there, which only works after QEMU has opened it by name here.
                    _ = networkPorts ?? throw new VmStartException(spec.Name, $"cannot start VM '{spec.Name}': {ManagedNics.NoBackend(nic)}", null, string.Empty);
                    continue;
                }

                await RunAsync(["link", "set", "dev", tap, "master", bridge!], cancellationToken).ConfigureAwait(false);
                await RunAsync(["link", "set", "dev", tap, "up"], cancellationToken).ConfigureAwait(false);
            }

            return created;
        }
        catch
        {
            await DeleteAsync(created, CancellationToken.None).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Hands the taps of the NICs on managed networks to their networks (bridge, VLAN, link up). Called once QEMU has opened
    /// them (after its monitor answers, before the guest runs), so that a network managed in another network namespace can
    /// move the tap into it without QEMU opening a fresh one of the same name.
    /// </summary>
    public async Task ConnectManagedAsync(string vmName, IEnumerable<VmNic> nics, CancellationToken cancellationToken)
    {
        foreach (var nic in nics.Where(n => n.Network is not null))
        {
            var ports = networkPorts ?? throw new VmStartException(vmName, $"cannot start VM '{vmName}': {ManagedNics.NoBackend(nic)}", null, string.Empty);
            await ports.ConnectAsync(ManagedNics.Owner(vmName), nic.Id, cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task DeleteAsync(IEnumerable<string> taps, CancellationToken cancellationToken)
    {
        foreach (var tap in taps)
        {
            await DeleteIfPresentAsync(tap, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task DeleteIfPresentAsync(string tap, CancellationToken cancellationToken)
    {
        if (fileSystem.Directory.Exists($"/sys/class/net/{tap}"))
        {
            await RunAsync(["link", "del", "dev", tap], cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task RunAsync(string[] arguments, CancellationToken cancellationToken) =>
        (await processRunner.RunAsync(new ProcessSpec("ip", arguments) { Timeout = TimeSpan.FromSeconds(10) }, cancellationToken).ConfigureAwait(false)).EnsureSuccess();
}
