using System.IO.Abstractions.TestingHelpers;
using Virt.Kvm.Host;

namespace Virt.Kvm.Tests.Host;

public sealed class AcceleratorProbeTests
{
    private const string IntelFlags = "processor\t: 0\nflags\t\t: fpu vme de pse tsc msr pae vmx ept\n";

    [Fact]
    public void A_real_host_with_vmx_and_a_usable_dev_kvm_gets_KVM()
    {
        var fs = new MockFileSystem(new Dictionary<string, MockFileData> { ["/dev/kvm"] = new(""), ["/proc/cpuinfo"] = new(IntelFlags) });

        var choice = new AcceleratorProbe(fs).Detect();

        Assert.Equal(AcceleratorKind.Kvm, choice.Kind);
        Assert.Equal("kvm", choice.QemuName);
        Assert.Contains("vmx", choice.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Nested_PVM_gets_TCG_even_though_dev_kvm_exists()
    {
        var fs = new MockFileSystem(new Dictionary<string, MockFileData> { ["/dev/kvm"] = new(""), ["/proc/cpuinfo"] = new("flags\t: fpu hypervisor\n") });
        fs.AddDirectory("/sys/module/kvm_pvm");

        var choice = new AcceleratorProbe(fs).Detect();

        Assert.Equal(AcceleratorKind.Tcg, choice.Kind);
        Assert.Contains("nested PVM", choice.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void No_dev_kvm_gets_TCG()
    {
        var choice = new AcceleratorProbe(new MockFileSystem()).Detect();

        Assert.Equal(AcceleratorKind.Tcg, choice.Kind);
        Assert.Contains("does not exist", choice.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_CPU_without_virtualization_flags_gets_TCG()
    {
        var fs = new MockFileSystem(new Dictionary<string, MockFileData> { ["/dev/kvm"] = new(""), ["/proc/cpuinfo"] = new("flags\t: fpu sse2 hypervisor\n") });

        var choice = new AcceleratorProbe(fs).Detect();

        Assert.Equal(AcceleratorKind.Tcg, choice.Kind);
        Assert.Contains("neither the vmx nor the svm", choice.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unopenable_dev_kvm_gets_TCG_with_the_fix()
    {
        var fs = new MockFileSystem(new Dictionary<string, MockFileData> { ["/dev/kvm"] = new("") { AllowedFileShare = FileShare.None }, ["/proc/cpuinfo"] = new("flags : svm\n") });

        var choice = new AcceleratorProbe(fs).Detect();

        Assert.Equal(AcceleratorKind.Tcg, choice.Kind);
        Assert.Contains("'kvm' group", choice.Reason, StringComparison.Ordinal);
    }
}
