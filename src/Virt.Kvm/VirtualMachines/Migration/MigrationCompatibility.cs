using System.Text.Json;
using Virt.Kvm.Qmp;
using Virt.Kvm.Qmp.Api;
using Virt.VirtualMachines;

namespace Virt.Kvm.VirtualMachines.Migration;

/// <summary>
/// What must match between the two QEMUs of a migration between hosts, read from QEMU itself (not the spec):
/// the resolved machine type (<c>pc-q35-7.2</c>, not the alias <c>q35</c>), the vCPU model, and the version.
/// The destination puts its values in the ticket; the source compares before any state moves.
/// </summary>
internal static class MigrationCompatibility
{
    public sealed record Facts(string MachineType, string CpuModel, Version QemuVersion);

    public static async Task<Facts> ReadAsync(QmpClient qmp, CancellationToken cancellationToken)
    {
        var machine = await QomTypeAsync(qmp, "/machine", cancellationToken).ConfigureAwait(false);
        var cpus = await qmp.QueryCpusFastAsync(cancellationToken).ConfigureAwait(false);
        var cpu = cpus.Count == 0 ? "none" : await QomTypeAsync(qmp, cpus[0].QomPath, cancellationToken).ConfigureAwait(false);
        return new Facts(Strip(machine, "-machine"), Strip(Strip(cpu, "-cpu"), "-x86_64"), qmp.Greeting.Version.AsVersion());
    }

    /// <summary>Null when this source may send to the ticket's destination, else what differs and the fix.</summary>
    public static string? Mismatch(Facts source, MigrationTicket ticket)
    {
        if (source.MachineType != ticket.MachineType)
        {
            return $"the machine types differ (this host runs {source.MachineType}, {ticket.DestinationHost} prepared {ticket.MachineType}); prepare the destination with the same VmSpec.Machine and a QEMU that offers {source.MachineType}";
        }

        if (source.CpuModel != ticket.CpuModel)
        {
            return $"the CPU models differ (this host runs {source.CpuModel}, {ticket.DestinationHost} prepared {ticket.CpuModel}); give both the same VmSpec.Cpu.Model";
        }

        if (!Version.TryParse(ticket.QemuVersion, out var destination))
        {
            return $"the ticket's QEMU version '{ticket.QemuVersion}' is not major.minor.micro";
        }

        return source.QemuVersion > destination
            ? $"this host's QEMU {source.QemuVersion} is newer than {ticket.DestinationHost}'s {destination}, which may not read its state; upgrade the destination's QEMU first"
            : null;
    }

    private static async Task<string> QomTypeAsync(QmpClient qmp, string path, CancellationToken cancellationToken)
    {
        var type = await qmp.QomGetAsync(new QomGetArguments { Path = path, Property = "type" }, cancellationToken).ConfigureAwait(false);
        return type.ValueKind == JsonValueKind.String ? type.GetString()! : type.ToString();
    }

    private static string Strip(string text, string suffix) => text.EndsWith(suffix, StringComparison.Ordinal) ? text[..^suffix.Length] : text;
}
