using Virt.VirtualMachines;

namespace Virt.Abstractions.Tests.Security;

/// <summary>
/// ExtraArguments is an allowlist: each option that could reach a host file, a host socket, the
/// monitor or the SDK's own devices is refused, naming the option and the fix.
/// </summary>
public sealed class ExtraArgumentsSecurityTests
{
    private static readonly VmSpec Valid = new("web-01") { Disks = [new VmDisk("root", "/var/lib/images/web.qcow2") { BootIndex = 0 }] };

    public static TheoryData<string[], string> Dangerous => new()
    {
        { ["-readconfig", "/etc/qemu/evil.cfg"], "-readconfig" },
        { ["-set", "device.virt-qmp.path=/tmp/x"], "-set" },
        { ["-global", "cfi.pflash01.secure=off"], "-global" },
        { ["-global", "isa-serial.chardev=virt-qmp"], "-global" },
        { ["-global", "driver=kvm-pit,property=lost_tick_policy,value=delay"], "-global" },
        { ["-gdb", "tcp::1234"], "-gdb" },
        { ["-s"], "-s" },
        { ["-D", "/etc/passwd"], "-D" },
        { ["-d", "guest_errors"], "-d" },
        { ["-object", "memory-backend-file,id=m0,size=1G,mem-path=/etc,share=on"], "-object" },
        { ["-object", "secret,id=s0,file=/etc/shadow"], "-object" },
        { ["--object", "rng-random,id=r,filename=/dev/mem"], "-object" },
        { ["-chardev", "socket,id=c0,path=/run/x.sock"], "-chardev" },
        { ["-drive", "file=/etc/shadow,format=raw"], "-drive" },
        { ["-blockdev", "driver=file,node-name=x,filename=/etc/shadow"], "-blockdev" },
        { ["-netdev", "user,id=n0,hostfwd=tcp::22-:22"], "-netdev" },
        { ["-monitor", "unix:/tmp/m.sock,server=on"], "-monitor" },
        { ["-qmp", "tcp:0.0.0.0:4444"], "-qmp" },
        { ["-serial", "file:/etc/cron.d/x"], "-serial" },
        { ["-virtfs", "local,path=/,mount_tag=root,security_model=none"], "-virtfs" },
        { ["-fsdev", "local,id=f,path=/"], "-fsdev" },
        { ["-sandbox", "off"], "-sandbox" },
        { ["-runas", "root"], "-runas" },
        { ["-run-with", "chroot=/"], "-run-with" },
        { ["-pidfile", "/etc/passwd"], "-pidfile" },
        { ["-daemonize"], "-daemonize" },
        { ["-incoming", "unix:/tmp/x"], "-incoming" },
        { ["-loadvm", "x"], "-loadvm" },
        { ["-L", "/tmp"], "-L" },
        { ["-plugin", "/tmp/evil.so"], "-plugin" },
        { ["-add-fd", "fd=3,set=1"], "-add-fd" },
        { ["-device", "virtserialport,chardev=virt-qmp,name=x"], "virtserialport" },
        { ["-device", "vfio-pci,host=0000:01:00.0"], "vfio-pci" },
        { ["-device", "virtio-blk-pci,drive=root"], "virtio-blk-pci" },
        { ["-device", "isa-debugcon,chardev=virt-serial0"], "isa-debugcon" },
        { ["-device", "driver=ivshmem-plain,memdev=m0"], "ivshmem-plain" },
        { ["-device", "VGA,romfile=/etc/shadow"], "romfile" },
        { ["-device", "qemu-xhci,id=virt-hp0"], "virt-" },
        { ["-device", "usb-tablet,bus=virt-hp0"], "virt-" },
        { ["-device", "pcie-root-port,id=rp1,chassis=1,,romfile=/etc/shadow"], "plain value" },
        { ["-fw_cfg", "name=opt/virt/script,file=/etc/shadow"], "file=" },
        { ["-fw_cfg", "name=etc/boot-menu-wait,string=1"], "name=opt/" },
        { ["-fw_cfg", "name=opt/../../x,string=1"], "name=opt/" },
        { ["-smbios", "file=/etc/shadow"], "type=N" },
        { ["-smbios", "type=11,path=/etc/shadow"], "path" },
        { ["-boot", "splash=/etc/shadow"], "splash" },
        { ["-rtc", "base=localtime,clock=/dev/rtc"], "clock=host" },
        { ["name=opt/x,file=/etc/shadow"], "not an option" },
    };

    [Theory]
    [MemberData(nameof(Dangerous))]
    public void An_option_that_can_reach_the_host_is_refused_with_the_option_and_the_fix(string[] arguments, string named)
    {
        var error = Assert.Throws<InvalidVmSpecException>(() => VmSpecValidator.Validate(Valid with { ExtraArguments = arguments }));

        var problem = Assert.Single(error.Problems);
        Assert.StartsWith("ExtraArguments[", problem.Field, StringComparison.Ordinal);
        Assert.Contains(named, problem.Message, StringComparison.Ordinal);
        Assert.Matches("use|Use|allowed|needs|must", problem.Message);
    }

    [Fact]
    public void Refused_options_name_the_typed_field_to_use_instead()
    {
        string MessageFor(params string[] arguments) =>
            Assert.Single(Assert.Throws<InvalidVmSpecException>(() => VmSpecValidator.Validate(Valid with { ExtraArguments = arguments })).Problems).Message;

        Assert.Contains("VmSpec.Disks", MessageFor("-drive", "file=/x"), StringComparison.Ordinal);
        Assert.Contains("VmSpec.Nics", MessageFor("-netdev", "user,id=n"), StringComparison.Ordinal);
        Assert.Contains("KvmOptions.RunAsUser", MessageFor("-runas", "nobody"), StringComparison.Ordinal);
        Assert.Contains("VmSpec.HostDevices", MessageFor("-device", "vfio-pci,host=0000:01:00.0"), StringComparison.Ordinal);
        Assert.Contains("VmSpec.Firmware.KernelCommandLine", MessageFor("-append", "quiet"), StringComparison.Ordinal);
        Assert.Contains("'-readconfig' is not an option ExtraArguments allows", MessageFor("-readconfig", "/x"), StringComparison.Ordinal);
    }

    public static TheoryData<string[]> Allowed => new()
    {
        { ["-no-reboot"] },
        { ["-rtc", "base=localtime,clock=host,driftfix=slew"] },
        { ["-rtc", "base=2020-01-01T00:00:00"] },
        { ["-boot", "menu=on,strict=on,reboot-timeout=-1"] },
        { ["-smbios", "type=1,manufacturer=Acme,,Inc,product=Box,serial=123"] },
        { ["-smbios", "type=11,value=io.systemd.credential:x=y"] },
        { ["-fw_cfg", "name=opt/virt/script,string=echo c > /proc/sysrq-trigger"] },
        { ["-uuid", "5f1a7b2c-1d3e-4f5a-8b9c-0d1e2f3a4b5c"] },
        { ["-watchdog-action", "reset", "-device", "i6300esb,id=wdt"] },
        { ["-global", "kvm-pit.lost_tick_policy=delay", "-global", "ICH9-LPC.disable_s3=1"] },
        { ["-device", "qemu-xhci,id=xhci", "-device", "usb-tablet,bus=xhci.0"] },
        { ["-device", "pcie-root-port,id=rp1,chassis=1,slot=1,bus=pcie.0", "-device", "edu,bus=rp1"] },
        { ["--device", "driver=intel-iommu,intremap=on,caching-mode=on"] },
    };

    [Theory]
    [MemberData(nameof(Allowed))]
    public void Host_free_options_are_accepted(string[] arguments) => VmSpecValidator.Validate(Valid with { ExtraArguments = arguments });

    [Fact]
    public void Every_refused_argument_is_reported_and_an_option_list_is_read_with_escaped_commas()
    {
        var error = Assert.Throws<InvalidVmSpecException>(() => VmSpecValidator.Validate(Valid with { ExtraArguments = ["-gdb", "tcp::1", "-no-reboot", "-D", "/x", "-device", "edu,romfile=/y"] }));

        Assert.Equal(["ExtraArguments[0]", "ExtraArguments[3]", "ExtraArguments[6]"], error.Problems.Select(p => p.Field).ToArray());
    }
}
