using System.IO.Abstractions;
using Virt.Processes;
using Virt.VirtualMachines;

namespace Virt.Kvm.VirtualMachines;

/// <summary>Creates and removes the tap devices of bridged NICs with iproute2, checking the bridge first.</summary>
internal sealed class TapDevices(IProcessRunner processRunner, IFileSystem fileSystem)
{
    public async Task<IReadOnlyList<string>> CreateAsync(VmSpec spec, CancellationToken cancellationToken)
    {
        var created = new List<string>();
        try
        {
            foreach (var nic in spec.Nics.Where(n => n.Backend == VmNicBackend.Bridge))
            {
                var bridge = nic.Bridge!;
                if (!fileSystem.Directory.Exists($"/sys/class/net/{bridge}/bridge"))
                {
                    throw new VmStartException(spec.Name,
                        $"cannot start VM '{spec.Name}': bridge '{bridge}' of NIC '{nic.Id}' does not exist (no /sys/class/net/{bridge}/bridge); create it (ip link add {bridge} type bridge) or set Nics[].Bridge",
                        null, string.Empty);
                }

                var tap = MacAddresses.TapName(spec.Name, nic.Id);
                await DeleteIfPresentAsync(tap, cancellationToken).ConfigureAwait(false);
                await RunAsync(["tuntap", "add", "dev", tap, "mode", "tap"], cancellationToken).ConfigureAwait(false);
                created.Add(tap);
                await RunAsync(["link", "set", "dev", tap, "master", bridge], cancellationToken).ConfigureAwait(false);
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
