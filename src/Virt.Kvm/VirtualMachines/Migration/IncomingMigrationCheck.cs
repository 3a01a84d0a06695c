using System.Net;
using Virt.VirtualMachines;

namespace Virt.Kvm.VirtualMachines.Migration;

/// <summary>
/// What a destination refuses before it starts anything for an incoming VM. The rest of the spec (bridges by name,
/// managed networks, volumes, files) is checked by the start of the waiting QEMU itself, as for any start; which disks
/// are copied from the source, by <see cref="CrossHostDiskCopy.Plan"/>.
/// </summary>
internal static class IncomingMigrationCheck
{
    /// <summary>Checks the spec and options; returns where the gate listens.</summary>
    public static IPEndPoint Validate(VmSpec spec, IncomingMigrationOptions options)
    {
        if (!IPAddress.TryParse(options.ListenAddress, out var address))
        {
            throw new ArgumentException($"VM '{spec.Name}': ListenAddress '{options.ListenAddress}' is not an IP address; give this host's address on the link the source reaches", nameof(options));
        }

        if (address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any))
        {
            // The ticket carries this address to the source, which cannot connect to "any".
            throw new ArgumentException($"VM '{spec.Name}': ListenAddress '{options.ListenAddress}' is the unspecified address, which the ticket cannot send a source to; give this host's address on the link the source reaches", nameof(options));
        }

        if (options.Port is < 0 or > 65535)
        {
            throw new ArgumentException($"VM '{spec.Name}': port {options.Port} is outside 0-65535 (0 picks a free one)", nameof(options));
        }

        if (options.TicketLifetime <= TimeSpan.Zero)
        {
            throw new ArgumentException($"VM '{spec.Name}': TicketLifetime must be positive", nameof(options));
        }

        if (options.SourceHost is { } source)
        {
            // Validated as a host name: it goes into the TLS authorization's match and the volume lock holder.
            _ = new Virt.Hosting.VirtHostIdentity(source);
        }

        if (spec.HostDevices.Count > 0)
        {
            throw new VmMigrationException(spec.Name, $"it has host devices ({string.Join(", ", spec.HostDevices.Select(device => device.Address))}), whose state cannot move between hosts; detach them on the source before migrating, and attach this host's own after");
        }

        if (spec.Tpm)
        {
            throw new VmMigrationException(spec.Name, "it has a TPM, whose swtpm state cannot move between hosts yet");
        }

        return new IPEndPoint(address, options.Port);
    }
}
