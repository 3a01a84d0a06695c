using Virt.Kvm.VirtualMachines;
using Virt.Passthrough;
using Virt.VirtualMachines;

namespace Virt.Kvm.Tests.VirtualMachines;

/// <summary>Host devices become vfio-pci devices behind root ports of their own; bad ones are refused at the edge.</summary>
public sealed class HostDeviceArgumentsTests
{
    private static readonly QemuCapabilities Qemu72 = new("/usr/bin/qemu-system-x86_64", new Version(7, 2, 22), new HashSet<string> { "q35", "pc", "microvm" }, new HashSet<string> { "kvm", "tcg" });

    [Fact]
    public void A_gpu_slot_and_a_single_vf_become_root_ports_with_vfio_functions()
    {
        var spec = new VmSpec("gamer")
        {
            HotplugPorts = 0,
            HostDevices = [new VmHostDevice("0000:01:00.0") { AllFunctions = true, XVga = true, RomBar = false }, new VmHostDevice("0000:03:10.1") { RomFile = "/var/lib/roms/vf.rom" }],
        };
        var bound = new[] { "0000:01:00.1", "0000:01:00.0", "0000:03:10.1" }.Select(PciAddress.Parse).ToList();

        var argv = QemuCommandLine.Build(spec, new QemuLaunchContext(Qemu72, "kvm", "/s/gamer") { HostFunctions = bound });
        var devices = argv.Select((argument, index) => (argument, index)).Where(pair => pair.argument == "-device").Select(pair => argv[pair.index + 1]).Where(device => device.Contains("host", StringComparison.Ordinal)).ToList();
        Assert.Equal(
            [
                "pcie-root-port,id=virt-hostport0,chassis=100,bus=pcie.0",
                "vfio-pci,host=0000:01:00.0,id=virt-hostdev0-0,bus=virt-hostport0,addr=0x0.0,multifunction=on,x-vga=on,rombar=0",
                "vfio-pci,host=0000:01:00.1,id=virt-hostdev0-1,bus=virt-hostport0,addr=0x0.1,rombar=0",
                "pcie-root-port,id=virt-hostport1,chassis=101,bus=pcie.0",
                "vfio-pci,host=0000:03:10.1,id=virt-hostdev1-1,bus=virt-hostport1,addr=0x0.1,romfile=/var/lib/roms/vf.rom",
            ],
            devices);
    }

    [Fact]
    public void Bad_host_devices_are_named_with_their_fix()
    {
        var spec = new VmSpec("bad")
        {
            Machine = VmMachineType.Pc,
            HostDevices = [new VmHostDevice("01:00.0"), new VmHostDevice("0000:02:00.0"), new VmHostDevice("0000:03:00.0") { RootPort = false, RomFile = "rom,file" }],
        };
        var problems = Assert.Throws<InvalidVmSpecException>(() => VmSpecValidator.Validate(spec)).Problems.Select(problem => problem.Field).ToList();
        Assert.Equal(["HostDevices[0]", "HostDevices[1].RootPort", "HostDevices[2].RomFile"], problems);
    }
}
