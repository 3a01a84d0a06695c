using System.Net;
using Virt.Kvm.VirtualMachines.Migration;
using Virt.VirtualMachines;

namespace Virt.Kvm.Tests.VirtualMachines.Migration;

/// <summary>What a destination refuses before it starts anything for an incoming VM.</summary>
public sealed class IncomingMigrationCheckTests
{
    private static readonly VmSpec Spec = new("web");

    private static IncomingMigrationOptions Options(string address = "192.0.2.2") => new() { ListenAddress = address };

    [Fact]
    public void A_good_request_gives_the_gates_endpoint()
    {
        var endpoint = IncomingMigrationCheck.Validate(Spec with { Disks = [new VmDisk("root", "ceph:web-root")] }, Options() with { Port = 49152, SourceHost = "host-a" });

        Assert.Equal(new IPEndPoint(IPAddress.Parse("192.0.2.2"), 49152), endpoint);
    }

    [Theory]
    [InlineData("0.0.0.0", "the unspecified address")]
    [InlineData("::", "the unspecified address")]
    [InlineData("host-b.example", "is not an IP address")]
    public void An_address_a_source_cannot_be_sent_to_is_refused(string address, string reason)
    {
        var error = Assert.Throws<ArgumentException>(() => IncomingMigrationCheck.Validate(Spec, Options(address)));

        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
        Assert.Contains("give this host's address on the link the source reaches", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_options_are_refused_naming_the_VM()
    {
        Assert.Contains("outside 0-65535", Assert.Throws<ArgumentException>(() => IncomingMigrationCheck.Validate(Spec, Options() with { Port = 70000 })).Message, StringComparison.Ordinal);
        Assert.Contains("TicketLifetime must be positive", Assert.Throws<ArgumentException>(() => IncomingMigrationCheck.Validate(Spec, Options() with { TicketLifetime = TimeSpan.Zero })).Message, StringComparison.Ordinal);
        Assert.Contains("host name 'host a'", Assert.Throws<ArgumentException>(() => IncomingMigrationCheck.Validate(Spec, Options() with { SourceHost = "host a" })).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void What_cannot_move_between_hosts_is_refused_with_the_fix()
    {
        var device = Assert.Throws<VmMigrationException>(() => IncomingMigrationCheck.Validate(Spec with { HostDevices = [new VmHostDevice("0000:01:00.0")] }, Options()));
        Assert.Contains("0000:01:00.0", device.Message, StringComparison.Ordinal);
        Assert.Contains("detach them on the source", device.Message, StringComparison.Ordinal);

        Assert.Contains("TPM", Assert.Throws<VmMigrationException>(() => IncomingMigrationCheck.Validate(Spec with { Tpm = true }, Options())).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_disk_given_by_a_file_path_passes_the_gate_check_it_is_copied_see_CrossHostDiskCopyTests()
    {
        var endpoint = IncomingMigrationCheck.Validate(Spec with { Disks = [new VmDisk("data", "/var/lib/vms/data.qcow2")] }, Options());

        Assert.Equal(IPAddress.Parse("192.0.2.2"), endpoint.Address);
    }
}
