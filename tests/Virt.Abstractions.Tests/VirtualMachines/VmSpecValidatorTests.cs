using Virt.VirtualMachines;

namespace Virt.Abstractions.Tests.VirtualMachines;

public sealed class VmSpecValidatorTests
{
    private static readonly VmSpec Valid = new("web-01")
    {
        Disks = [new VmDisk("root", "/var/lib/images/web.qcow2") { BootIndex = 0 }],
        Cdroms = [new VmCdrom("install", "/srv/iso/debian.iso") { BootIndex = 1 }],
        Nics = [new VmNic("lan") { MacAddress = "52:54:00:12:34:56" }, new VmNic("wan")],
    };

    [Fact]
    public void A_sound_spec_passes() => VmSpecValidator.Validate(Valid);

    [Theory]
    [InlineData("")]
    [InlineData("../etc")]
    [InlineData("a/b")]
    [InlineData("-dash-first")]
    [InlineData("has space")]
    [InlineData("a,b")]
    [InlineData("a=b")]
    [InlineData("a\nb")]
    [InlineData("web\n")]
    [InlineData("..")]
    [InlineData("x234567890123456789012345678901234567890123456789012345678901234")]
    public void Unsafe_names_are_refused_with_the_rule(string name)
    {
        var error = Assert.Throws<InvalidVmSpecException>(() => VmSpecValidator.Validate(Valid with { Name = name }));

        var problem = Assert.Single(error.Problems);
        Assert.Equal("Name", problem.Field);
        Assert.Contains("1–63 characters", problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_problem_is_reported_at_once_with_its_field()
    {
        var spec = Valid with
        {
            Cpu = new VmCpu { Sockets = 0 },
            Memory = new VmMemory { SizeMiB = 512, MaxSizeMiB = 256 },
            Disks = [new VmDisk("root", "relative.qcow2"), new VmDisk("root", "/a.qcow2") { BootIndex = 0 }, new VmDisk("virt-x", "/b.qcow2") { BootIndex = 0 }],
            Nics = [new VmNic("lan") { MacAddress = "zz:54:00:12:34:56" }, new VmNic("br") { Backend = VmNicBackend.Bridge }],
            ExtraArguments = ["-qmp", "-device", "e1000,id=virt-nic"],
        };

        var error = Assert.Throws<InvalidVmSpecException>(() => VmSpecValidator.Validate(spec));

        Assert.Equal(
            ["Cpu.Sockets", "Memory.MaxSizeMiB", "Disks[0].Path", "Disks[1].Id", "Disks[2].Id", "Disks[2].BootIndex", "Nics[0].MacAddress", "Nics[1].Bridge", "ExtraArguments[0]", "ExtraArguments[2]"],
            error.Problems.Select(p => p.Field).ToArray());
        Assert.Contains("web-01", error.Message, StringComparison.Ordinal);
        Assert.Contains("used twice", error.Problems[3].Message, StringComparison.Ordinal);
        Assert.Contains("'-qmp' is not an option ExtraArguments allows", error.Problems[8].Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("01:00:5e:00:00:01", "multicast")]
    [InlineData("00:00:00:00:00:00", "zero")]
    [InlineData("52-54-00-12-34-56", "six hex pairs")]
    public void Bad_MAC_addresses_are_refused(string mac, string expected)
    {
        var error = Assert.Throws<InvalidVmSpecException>(() => VmSpecValidator.Validate(Valid with { Nics = [new VmNic("lan") { MacAddress = mac }] }));

        Assert.Contains(expected, Assert.Single(error.Problems).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Firmware_and_machine_must_fit_together()
    {
        var microvmWithBios = Valid with { Machine = VmMachineType.Microvm, Cdroms = [], Disks = [] };
        var kernelWithoutKind = Valid with { Firmware = new VmFirmware { KernelPath = "/boot/vmlinuz" } };
        var directWithoutKernel = Valid with { Firmware = new VmFirmware { Kind = VmFirmwareKind.DirectKernel } };
        var newlineAppend = Valid with { Firmware = new VmFirmware { Kind = VmFirmwareKind.DirectKernel, KernelPath = "/k", KernelCommandLine = "quiet\n-qmp" } };

        Assert.Equal("Machine", Assert.Single(Assert.Throws<InvalidVmSpecException>(() => VmSpecValidator.Validate(microvmWithBios)).Problems).Field);
        Assert.Equal("Firmware.Kind", Assert.Single(Assert.Throws<InvalidVmSpecException>(() => VmSpecValidator.Validate(kernelWithoutKind)).Problems).Field);
        Assert.Equal("Firmware.KernelPath", Assert.Single(Assert.Throws<InvalidVmSpecException>(() => VmSpecValidator.Validate(directWithoutKernel)).Problems).Field);
        Assert.Equal("Disks[0].ReadOnly", Assert.Single(Assert.Throws<InvalidVmSpecException>(() => VmSpecValidator.Validate(Valid with { Disks = [new VmDisk("d", "/d.raw") { Bus = VmDiskBus.Sata, ReadOnly = true }] })).Problems).Field);
        Assert.Equal("Firmware.KernelCommandLine", Assert.Single(Assert.Throws<InvalidVmSpecException>(() => VmSpecValidator.Validate(newlineAppend)).Problems).Field);
    }

    [Theory]
    [InlineData("-qmp\ntcp:0.0.0.0:4444", "ExtraArguments[0]")]
    [InlineData("-sandbox", "ExtraArguments[0]")]
    [InlineData("id=virt-qmp", "ExtraArguments[0]")]
    [InlineData("--qmp", "ExtraArguments[0]")]
    public void Extra_arguments_cannot_carry_newlines_or_take_over_what_the_SDK_manages(string argument, string field)
    {
        var error = Assert.Throws<InvalidVmSpecException>(() => VmSpecValidator.Validate(Valid with { ExtraArguments = [argument] }));

        Assert.Contains(error.Problems, p => p.Field == field);
    }

    [Theory]
    [InlineData("nic,driver=e1000")]
    [InlineData("nic=x")]
    [InlineData("nic\n")]
    [InlineData("..")]
    public void Device_ids_with_commas_equals_newlines_or_dots_are_refused(string id)
    {
        var error = Assert.Throws<InvalidVmSpecException>(() => VmSpecValidator.Validate(Valid with { Nics = [new VmNic(id)] }));

        Assert.Contains(error.Problems, p => p.Field == "Nics[0].Id");
    }

    [Fact]
    public void Hotplug_TPM_cloud_init_and_Secure_Boot_limits_are_checked()
    {
        var microvm = Valid with { Machine = VmMachineType.Microvm, Cdroms = [], Disks = [], Nics = [], Firmware = new VmFirmware { Kind = VmFirmwareKind.DirectKernel, KernelPath = "/k" } };

        Assert.Contains(Assert.Throws<InvalidVmSpecException>(() => VmSpecValidator.Validate(Valid with { Cpu = new VmCpu { Cores = 2, MaxCount = 3 } })).Problems, p => p.Field == "Cpu.MaxCount");
        Assert.Contains(Assert.Throws<InvalidVmSpecException>(() => VmSpecValidator.Validate(Valid with { HotplugPorts = 33 })).Problems, p => p.Field == "HotplugPorts");
        Assert.Contains(Assert.Throws<InvalidVmSpecException>(() => VmSpecValidator.Validate(microvm with { Tpm = true })).Problems, p => p.Field == "Tpm");
        Assert.Contains(Assert.Throws<InvalidVmSpecException>(() => VmSpecValidator.Validate(microvm with { CloudInit = new CloudInitSpec() })).Problems, p => p.Field == "CloudInit");
        Assert.Contains(Assert.Throws<InvalidVmSpecException>(() => VmSpecValidator.Validate(Valid with { Machine = VmMachineType.Pc, Firmware = VmFirmware.OvmfSecureBoot() })).Problems, p => p.Field == "Firmware.SecureBoot");
        VmSpecValidator.Validate(Valid with { Cpu = new VmCpu { Cores = 2, MaxCount = 4 }, Tpm = true, CloudInit = new CloudInitSpec { Hostname = "ok" } });
    }
}
