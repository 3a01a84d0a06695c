using Virt.VirtualMachines;

namespace Virt.Kvm.VirtualMachines.Migration;

/// <summary>
/// What the source refuses in a destination's ticket before it touches QEMU: a ticket for another VM, an expired one,
/// and clear-text streams the application did not allow. The ticket comes from the destination over whatever channel
/// the application used, so its word on encryption is not enough: the source decides whether the guest's memory and
/// disks may cross the network unencrypted.
/// </summary>
internal static class OutgoingTicketCheck
{
    public static void Validate(string vmName, MigrationTicket ticket, VmMigrationOptions options, DateTimeOffset now)
    {
        if (ticket.VmName != vmName)
        {
            throw new VmMigrationException(vmName, $"the ticket is for VM '{ticket.VmName}'; ask {ticket.DestinationHost} for a ticket for '{vmName}'");
        }

        if (now >= ticket.ExpiresAt)
        {
            throw new VmMigrationException(vmName, $"the ticket from {ticket.DestinationHost} expired at {ticket.ExpiresAt:O} (the destination has removed what it prepared); ask it for a new one with PrepareIncomingAsync");
        }

        if (ticket.Security != MigrationSecurity.Tls && !options.AllowClearText)
        {
            throw new VmMigrationException(vmName, $"the ticket from {ticket.DestinationHost} asks for clear-text streams ({ticket.Security}), which would carry the guest's memory unencrypted; ask it for a TLS ticket (MigrationSecurity.Tls), or set VmMigrationOptions.AllowClearText on a network only these hosts can reach");
        }
    }
}
