using Virt.Containers;

namespace Virt.Lxc.Tests.Containers;

/// <summary>Every value that reaches an LXC config line is refused when LXC would split, trim or reinterpret it.</summary>
public sealed class ContainerSpecValidatorTests
{
    private static readonly ContainerSpec Valid = new("web-1", ContainerRootfs.Busybox());

    public static TheoryData<string, ContainerSpec> Injections => new()
    {
        { "Hostname", Valid with { Hostname = "web\nlxc.hook.pre-start = /bin/false" } },
        { "Hostname", Valid with { Hostname = "web\r" } },
        { "Hostname", Valid with { Hostname = "web\0" } },
        { "Init.Environment[X]", Valid with { Init = new ContainerInit(["/sbin/init"]) { Environment = new Dictionary<string, string> { ["X"] = "1\nlxc.hook.pre-start = /bin/false" } } } },
        { "Init.Environment[X]", Valid with { Init = new ContainerInit(["/sbin/init"]) { Environment = new Dictionary<string, string> { ["X"] = " padded " } } } },
        { "Init.Command[1]", Valid with { Init = new ContainerInit(["/bin/sh", "-c echo hi"]) } },
        { "Init.Command[1]", Valid with { Init = new ContainerInit(["/bin/sh", "a\nb"]) } },
        { "Mounts[0].Target", Valid with { Mounts = [ContainerMount.Tmpfs("/tmp\nlxc.hook.pre-start = /bin/false")] } },
        { "Mounts[0].Target", Valid with { Mounts = [ContainerMount.Tmpfs("/data dir")] } },
        { "Mounts[0].Target", Valid with { Mounts = [ContainerMount.Tmpfs("/a/../../etc")] } },
        { "Mounts[0].Source", Valid with { Mounts = [ContainerMount.Bind("/srv/with space", "/srv")] } },
        { "Mounts[0].Source", Valid with { Mounts = [ContainerMount.Bind("/srv\0", "/srv")] } },
        { "Network[0].Link", Valid with { Network = [new ContainerNic(ContainerNicKind.Veth, "br0\nlxc.net.1.type = phys")] } },
        { "Network[0].MacAddress", Valid with { Network = [new ContainerNic(ContainerNicKind.Veth, "br0") { MacAddress = "01:00:00:00:00:01" }] } },
        { "Network[0].Ipv4Address", Valid with { Network = [new ContainerNic(ContainerNicKind.Veth, "br0") { Ipv4Address = "10.0.0.1" }] } },
        { "Network[0].Ipv4Gateway", Valid with { Network = [new ContainerNic(ContainerNicKind.Veth, "br0") { Ipv4Gateway = "10.0.0.1" }] } },
        { "Network[1].Name", Valid with { Network = [new ContainerNic(ContainerNicKind.Veth, "br0") { Name = "eth1" }, new ContainerNic(ContainerNicKind.Veth, "br0")] } },
        { "Name", Valid with { Name = "../etc" } },
        { "Name", Valid with { Name = "Web" } },
        { "Capabilities", Valid with { Capabilities = new ContainerCapabilities { Drop = ["sys_admin"], Keep = ["chown"] } } },
        { "Capabilities.Drop", Valid with { Capabilities = new ContainerCapabilities { Drop = ["CAP_SYS_ADMIN"] } } },
        { "Limits.SwapMiB", Valid with { Limits = new ContainerLimits { SwapMiB = 64 } } },
        { "Limits.Cpuset", Valid with { Limits = new ContainerLimits { Cpuset = "0-1\n" } } },
        { "Limits.CpuWeight", Valid with { Limits = new ContainerLimits { CpuWeight = 0 } } },
        { "Rootfs.Path", Valid with { Rootfs = ContainerRootfs.Tarball("relative.tar") } },
        { "AppArmorProfile", Valid with { AppArmorProfile = "p\nlxc.hook.pre-start = /bin/false" } },
    };

    [Theory]
    [MemberData(nameof(Injections))]
    public void A_value_LXC_would_split_trim_or_misread_is_refused_naming_its_field(string field, ContainerSpec spec)
    {
        var error = Assert.Throws<InvalidContainerSpecException>(() => ContainerSpecValidator.Validate(spec));
        Assert.Contains(error.Problems, problem => problem.Field == field);
        Assert.Contains(field, error.Message, StringComparison.Ordinal);
    }

    public static TheoryData<string, ContainerNic, string> RefusedManagedNics => new()
    {
        { "Network[0].Network", ContainerNic.OnNetwork("LAN"), "1–11 characters of a-z 0-9 -" },
        { "Network[0].Kind", new ContainerNic(ContainerNicKind.Macvlan, string.Empty) { Network = "lan" }, "ContainerNic.OnNetwork(\"lan\")" },
        { "Network[0].Link", new ContainerNic(ContainerNicKind.Veth, "br0") { Network = "lan" }, "leave Link empty" },
        { "Network[0].VlanTag", ContainerNic.OnNetwork("lan") with { VlanTag = 5000 }, "use 1 to 4094" },
        { "Network[0].VlanTag", new ContainerNic(ContainerNicKind.Veth, "br0") { VlanTag = 10 }, "set Network, or remove VlanTag" },
        { "Network[0].Firewall", new ContainerNic(ContainerNicKind.Veth, "br0") { Firewall = new Virt.Networking.NicFirewall() }, "set Network, or remove Firewall" },
        { "Network[0].Ipv4Address", ContainerNic.OnNetwork("lan") with { Ipv4Address = "192.0.2.10/24" }, "without a prefix" },
        { "Network[0].Ipv4Gateway", ContainerNic.OnNetwork("lan") with { Ipv4Address = "192.0.2.10", Ipv4Gateway = "192.0.2.1" }, "gives the gateway" },
    };

    [Theory]
    [MemberData(nameof(RefusedManagedNics))]
    public void A_wrong_NIC_on_a_managed_network_is_refused_naming_the_field_and_the_fix(string field, ContainerNic nic, string fix)
    {
        var error = Assert.Throws<InvalidContainerSpecException>(() => ContainerSpecValidator.Validate(Valid with { Network = [nic] }));

        var problem = Assert.Single(error.Problems);
        Assert.Equal(field, problem.Field);
        Assert.Contains(fix, problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_veth_on_a_managed_network_with_an_empty_link_a_tag_a_firewall_and_an_address_is_valid() =>
        ContainerSpecValidator.Validate(Valid with { Network = [ContainerNic.OnNetwork("lan") with { VlanTag = 7, Firewall = new Virt.Networking.NicFirewall(), Ipv4Address = "192.0.2.10" }] });

    [Fact]
    public void A_full_spec_is_valid()
    {
        ContainerSpecValidator.Validate(Valid with
        {
            Hostname = "web-1",
            Init = new ContainerInit(["/sbin/init"]) { Environment = new Dictionary<string, string> { ["MODE"] = "production mode" }, WorkingDirectory = "/srv" },
            Limits = new ContainerLimits { MemoryMiB = 256, SwapMiB = 0, CpuWeight = 200, CpuQuota = 1.5, Cpuset = "0-1,3", Pids = 512 },
            Network = [new ContainerNic(ContainerNicKind.Veth, "vmbr0") { MacAddress = "02:00:00:00:00:01", Mtu = 1500, Ipv4Address = "10.0.3.2/24", Ipv4Gateway = "10.0.3.1" }],
            Mounts = [ContainerMount.Bind("/srv/data", "/srv/data", readOnly: false), ContainerMount.Tmpfs("/run/cache", 64)],
            Unprivileged = true,
            Capabilities = new ContainerCapabilities { Drop = ["sys_module", "sys_time"] },
            Autostart = true,
        });
    }

    [Fact]
    public void Exec_requests_are_checked_too()
    {
        Assert.Throws<ArgumentException>(() => ContainerSpecValidator.ValidateExecRequest(new ContainerExecRequest(["sh"]) { Environment = new Dictionary<string, string> { ["A"] = "x\ny" } }));
        Assert.Throws<ArgumentException>(() => ContainerSpecValidator.ValidateExecRequest(new ContainerExecRequest([])));
        Assert.Throws<ArgumentException>(() => ContainerSpecValidator.ValidateExecRequest(new ContainerExecRequest(["a\0b"])));
        ContainerSpecValidator.ValidateExecRequest(new ContainerExecRequest(["sh", "-c", "echo two words"]) { WorkingDirectory = "/tmp" });
    }
}
