using Virt.Networking;
using Virt.VirtualMachines;

namespace Virt.Abstractions.Tests.VirtualMachines;

/// <summary>A VM NIC on a managed network: what the validator accepts, and what it refuses with the field and the fix.</summary>
public sealed class ManagedNicValidationTests
{
    private static readonly VmSpec Valid = new("web-01") { Disks = [new VmDisk("root", "/var/lib/images/web.qcow2")] };

    [Fact]
    public void A_NIC_made_by_OnNetwork_with_a_tag_a_firewall_and_a_fixed_address_passes()
    {
        var nic = VmNic.OnNetwork("net0", "lan") with { VlanTag = 4094, Firewall = new NicFirewall(), Ipv4Address = "192.0.2.10" };

        VmSpecValidator.Validate(Valid with { Nics = [nic] });

        Assert.Equal((VmNicBackend.Bridge, null, "lan"), (nic.Backend, nic.Bridge, nic.Network));
    }

    public static TheoryData<string, VmNic, string> Refused => new()
    {
        { "Nics[0].Network", VmNic.OnNetwork("net0", "Lan"), "1–11 characters of a-z 0-9 -" },
        { "Nics[0].Network", VmNic.OnNetwork("net0", "1lan"), "starting with a letter" },
        { "Nics[0].Network", VmNic.OnNetwork("net0", "twelve-chars"), "1–11 characters" },
        { "Nics[0].Backend", new VmNic("net0") { Network = "lan" }, "set Backend = Bridge" },
        { "Nics[0].Bridge", VmNic.OnNetwork("net0", "lan") with { Bridge = "vmbr0" }, "remove Bridge" },
        { "Nics[0].VlanTag", VmNic.OnNetwork("net0", "lan") with { VlanTag = 0 }, "use 1 to 4094" },
        { "Nics[0].VlanTag", VmNic.OnNetwork("net0", "lan") with { VlanTag = 4095 }, "use 1 to 4094" },
        { "Nics[0].VlanTag", new VmNic("net0") { VlanTag = 10 }, "set Network, or remove VlanTag" },
        { "Nics[0].Firewall", new VmNic("net0") { Firewall = new NicFirewall() }, "set Network, or remove Firewall" },
        { "Nics[0].Ipv4Address", new VmNic("net0") { Ipv4Address = "192.0.2.10" }, "set Network, or remove Ipv4Address" },
        { "Nics[0].Ipv4Address", VmNic.OnNetwork("net0", "lan") with { Ipv4Address = "192.0.2.10/24" }, "without a prefix" },
        { "Nics[0].Ipv4Address", VmNic.OnNetwork("net0", "lan") with { Ipv4Address = "2001:db8::1" }, "not an IPv4 address" },
        { "Nics[0].Ipv4Address", VmNic.OnNetwork("net0", "lan") with { Ipv4Address = "192.0.2.300" }, "not an IPv4 address" },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public void A_wrong_managed_NIC_is_refused_naming_the_field_and_the_fix(string field, VmNic nic, string fix)
    {
        var error = Assert.Throws<InvalidVmSpecException>(() => VmSpecValidator.Validate(Valid with { Nics = [nic] }));

        var problem = Assert.Single(error.Problems);
        Assert.Equal(field, problem.Field);
        Assert.Contains(fix, problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_bridge_NIC_without_a_network_still_needs_its_bridge()
    {
        var error = Assert.Throws<InvalidVmSpecException>(() => VmSpecValidator.Validate(Valid with { Nics = [new VmNic("net0") { Backend = VmNicBackend.Bridge }] }));

        Assert.Equal("Nics[0].Bridge", Assert.Single(error.Problems).Field);
    }
}
