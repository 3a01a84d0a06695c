using Virt.Kvm.VirtualMachines.Migration;
using Virt.VirtualMachines;

namespace Virt.Kvm.Tests.VirtualMachines.Migration;

/// <summary>Which disks a migration between hosts copies, and what either end refuses before anything moves.</summary>
public sealed class CrossHostDiskCopyTests
{
    private const long Size = 64L << 20;

    private static readonly VmSpec Spec = new("web")
    {
        Disks = [new VmDisk("root", "ceph:web-root"), new VmDisk("data", "/var/lib/vms/web-data.qcow2") { Format = VmDiskFormat.Raw }],
    };

    private static IncomingMigrationOptions Options(long size = Size) =>
        new() { ListenAddress = "192.0.2.2", SourceHost = "host-a", LocalDiskSizes = new Dictionary<string, long> { ["data"] = size } };

    private static MigrationTicket Ticket(params MigrationDiskPlan[] disks) => new()
    {
        VmName = "web",
        DestinationHost = "host-b",
        Address = "192.0.2.2:49152",
        Token = "t",
        ExpiresAt = DateTimeOffset.UnixEpoch,
        MachineType = "pc-q35-7.2",
        CpuModel = "qemu64",
        QemuVersion = "7.2.0",
        Security = MigrationSecurity.Tls,
        Disks = disks,
    };

    [Fact]
    public void Disks_given_by_a_file_path_are_copied_at_the_sources_size_volumes_without_a_size_are_not()
    {
        var copies = CrossHostDiskCopy.Plan(Spec, Options());

        Assert.Equal(new Dictionary<string, long> { ["data"] = Size }, copies);
    }

    [Fact]
    public void A_volume_is_copied_when_the_source_sends_its_size_and_keeps_its_id_on_the_destination()
    {
        // The source sends sizes for volumes on pools only it reaches (dir, btrfs); the destination makes a volume of the same id.
        var options = Options() with { LocalDiskSizes = new Dictionary<string, long> { ["data"] = Size, ["root"] = 2 * Size } };

        var copies = CrossHostDiskCopy.Plan(Spec, options);
        var spec = CrossHostDiskCopy.DestinationSpec(Spec, copies, "/var/lib/virt/vms/web");

        Assert.Equal(new Dictionary<string, long> { ["root"] = 2 * Size, ["data"] = Size }, copies);
        Assert.Equal(new VmDisk("root", "ceph:web-root"), spec.Disks[0]);
        Assert.Equal("/var/lib/virt/vms/web/disk-data.qcow2", spec.Disks[1].Path);
        var readOnly = Assert.Throws<VmMigrationException>(() => CrossHostDiskCopy.Plan(Spec with { Disks = [Spec.Disks[0] with { ReadOnly = true }, Spec.Disks[1]] }, options));
        Assert.Contains("'root' (ceph:web-root) is read-only", readOnly.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_destination_records_each_copy_as_a_new_qcow2_image_in_the_VMs_directory()
    {
        var spec = CrossHostDiskCopy.DestinationSpec(Spec, CrossHostDiskCopy.Plan(Spec, Options()), "/var/lib/virt/vms/web");

        Assert.Equal(new VmDisk("root", "ceph:web-root"), spec.Disks[0]);
        Assert.Equal(new VmDisk("data", "/var/lib/virt/vms/web/disk-data.qcow2") { Format = VmDiskFormat.Qcow2 }, spec.Disks[1]);
    }

    [Fact]
    public void A_copied_disk_without_a_size_or_with_a_wrong_one_is_refused_with_the_fix()
    {
        var missing = Assert.Throws<ArgumentException>(() => CrossHostDiskCopy.Plan(Spec, new IncomingMigrationOptions { ListenAddress = "192.0.2.2", SourceHost = "host-a" }));
        Assert.Contains("disk 'data' (/var/lib/vms/web-data.qcow2)", missing.Message, StringComparison.Ordinal);
        Assert.Contains("GetLocalDiskSizesAsync", missing.Message, StringComparison.Ordinal);

        Assert.Contains("LocalDiskSizes['data'] is 0", Assert.Throws<ArgumentException>(() => CrossHostDiskCopy.Plan(Spec, Options(0))).Message, StringComparison.Ordinal);

        var unknown = Assert.Throws<ArgumentException>(() => CrossHostDiskCopy.Plan(Spec, Options() with { LocalDiskSizes = new Dictionary<string, long> { ["data"] = Size, ["swap"] = Size } }));
        Assert.Contains("names 'swap', which is not a disk of the spec", unknown.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_copy_without_a_named_source_host_is_refused_because_any_host_of_the_CA_could_write_the_export()
    {
        var unnamed = Assert.Throws<ArgumentException>(() => CrossHostDiskCopy.Plan(Spec, Options() with { SourceHost = null }));

        Assert.Contains("disk 'data' would be copied over NBD", unnamed.Message, StringComparison.Ordinal);
        Assert.Contains("IncomingMigrationOptions.SourceHost", unnamed.Message, StringComparison.Ordinal);

        // Without a local disk the source may stay unnamed: the migration stream has the ticket's token as well.
        Assert.Empty(CrossHostDiskCopy.Plan(Spec with { Disks = [Spec.Disks[0]] }, new IncomingMigrationOptions { ListenAddress = "192.0.2.2" }));
    }

    [Fact]
    public void Clear_text_and_read_only_file_disks_are_not_copied()
    {
        var clear = Assert.Throws<VmMigrationException>(() => CrossHostDiskCopy.Plan(Spec, Options() with { Security = MigrationSecurity.ClearText }));
        Assert.Contains("only offered over TLS", clear.Message, StringComparison.Ordinal);

        // Without a local disk clear text stays possible.
        Assert.Empty(CrossHostDiskCopy.Plan(Spec with { Disks = [Spec.Disks[0]] }, new IncomingMigrationOptions { ListenAddress = "192.0.2.2", Security = MigrationSecurity.ClearText }));

        var readOnly = Assert.Throws<VmMigrationException>(() => CrossHostDiskCopy.Plan(Spec with { Disks = [new VmDisk("iso", "/srv/base.qcow2") { ReadOnly = true }] }, Options()));
        Assert.Contains("'iso' (/srv/base.qcow2) is read-only and on the source host only", readOnly.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_source_copies_what_the_ticket_plans_as_copied()
    {
        var copies = CrossHostDiskCopy.CopiesOf(Spec, Ticket(new MigrationDiskPlan("root", MigrationDiskTransfer.Shared), new MigrationDiskPlan("data", MigrationDiskTransfer.Copy, "192.0.2.2:40000", "virt-copy-data")));

        Assert.Equal([new MigrationDiskPlan("data", MigrationDiskTransfer.Copy, "192.0.2.2:40000", "virt-copy-data")], copies);
    }

    [Fact]
    public void The_source_refuses_a_plan_that_does_not_fit_its_disks()
    {
        var shared = new MigrationDiskPlan("root", MigrationDiskTransfer.Shared);
        var copy = new MigrationDiskPlan("data", MigrationDiskTransfer.Copy, "192.0.2.2:40000", "virt-copy-data");

        Assert.Contains("no plan for disk 'data'", Assert.Throws<VmMigrationException>(() => CrossHostDiskCopy.CopiesOf(Spec, Ticket(shared))).Message, StringComparison.Ordinal);
        Assert.Contains("plans it as shared", Assert.Throws<VmMigrationException>(() => CrossHostDiskCopy.CopiesOf(Spec, Ticket(shared, copy with { Transfer = MigrationDiskTransfer.Shared }))).Message, StringComparison.Ordinal);
        Assert.Contains("but it is read-only", Assert.Throws<VmMigrationException>(() => CrossHostDiskCopy.CopiesOf(Spec with { Disks = [Spec.Disks[0], Spec.Disks[1] with { ReadOnly = true }] }, Ticket(shared, copy))).Message, StringComparison.Ordinal);
        Assert.Contains("in clear text", Assert.Throws<VmMigrationException>(() => CrossHostDiskCopy.CopiesOf(Spec, Ticket(shared, copy) with { Security = MigrationSecurity.ClearText })).Message, StringComparison.Ordinal);
        Assert.Contains("does not name an NBD export", Assert.Throws<VmMigrationException>(() => CrossHostDiskCopy.CopiesOf(Spec, Ticket(shared, copy with { NbdAddress = "host-b:40000" }))).Message, StringComparison.Ordinal);
        Assert.Contains("does not name an NBD export", Assert.Throws<VmMigrationException>(() => CrossHostDiskCopy.CopiesOf(Spec, Ticket(shared, copy with { ExportName = null }))).Message, StringComparison.Ordinal);
    }
}
