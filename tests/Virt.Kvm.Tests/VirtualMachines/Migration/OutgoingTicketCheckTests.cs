using Virt.Kvm.VirtualMachines.Migration;
using Virt.VirtualMachines;

namespace Virt.Kvm.Tests.VirtualMachines.Migration;

/// <summary>What the source refuses in a destination's ticket before it touches QEMU.</summary>
public sealed class OutgoingTicketCheckTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 7, 8, 0, 0, TimeSpan.Zero);

    private static readonly MigrationTicket Ticket = new()
    {
        VmName = "web",
        DestinationHost = "host-b",
        Address = "192.0.2.2:49152",
        Token = "secret",
        ExpiresAt = Now.AddMinutes(5),
        MachineType = "pc-q35-7.2",
        CpuModel = "qemu64",
        QemuVersion = "7.2.22",
        Security = MigrationSecurity.Tls,
    };

    [Fact]
    public void A_TLS_ticket_for_this_VM_in_its_lifetime_passes()
    {
        OutgoingTicketCheck.Validate("web", Ticket, new VmMigrationOptions { Ticket = Ticket }, Now);
    }

    [Fact]
    public void A_clear_text_ticket_is_refused_unless_the_source_allows_clear_text()
    {
        var clear = Ticket with { Security = MigrationSecurity.ClearText };

        var refused = Assert.Throws<VmMigrationException>(() => OutgoingTicketCheck.Validate("web", clear, new VmMigrationOptions { Ticket = clear }, Now));

        Assert.Contains("host-b asks for clear-text streams", refused.Message, StringComparison.Ordinal);
        Assert.Contains("AllowClearText", refused.Message, StringComparison.Ordinal);
        OutgoingTicketCheck.Validate("web", clear, new VmMigrationOptions { Ticket = clear, AllowClearText = true }, Now);
    }

    [Fact]
    public void A_ticket_for_another_VM_or_past_its_expiry_is_refused_with_the_fix()
    {
        var options = new VmMigrationOptions { Ticket = Ticket };

        Assert.Contains("ask host-b for a ticket for 'db'", Assert.Throws<VmMigrationException>(() => OutgoingTicketCheck.Validate("db", Ticket, options, Now)).Message, StringComparison.Ordinal);
        Assert.Contains("ask it for a new one", Assert.Throws<VmMigrationException>(() => OutgoingTicketCheck.Validate("web", Ticket, options, Ticket.ExpiresAt)).Message, StringComparison.Ordinal);
    }
}
