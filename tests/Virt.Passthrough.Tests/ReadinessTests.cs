using System.IO.Abstractions;
using Virt.Passthrough.Hosting;
using Virt.Passthrough.Readiness;
using Virt.Passthrough.Testing;

namespace Virt.Passthrough.Tests;

/// <summary>The readiness report on fake hosts (ready, IOMMU off, no interrupt remapping, no vfio) and on this machine.</summary>
public sealed class ReadinessTests
{
    private static ReadinessReport Check(FakePciHost host) => new PassthroughManager(host.FileSystem, host.Options).CheckReadiness();

    [Fact]
    public void A_host_with_vt_d_interrupt_remapping_and_vfio_is_ready()
    {
        var report = Check(Scenarios.SecondaryNvidiaGpu());
        Assert.True(report.IsReady, string.Join("\n", report.Checks));
        foreach (var code in new[] { "kvm.device", "cpu.virtualization", "iommu.acpi-table", "iommu.enabled", "iommu.groups", "iommu.interrupt-remapping", "vfio.modules", "vfio.device", "kernel.cmdline" })
        {
            Assert.Equal(ReadinessStatus.Pass, report[code].Status);
        }

        Assert.Equal(ReadinessStatus.Info, report["memory.hugepages"].Status);
    }

    [Fact]
    public void Iommu_off_fails_the_iommu_checks_with_the_fix()
    {
        var report = Check(Scenarios.IommuOff());
        Assert.False(report.IsReady);
        Assert.Equal(ReadinessStatus.Fail, report["iommu.acpi-table"].Status);
        Assert.Equal(ReadinessStatus.Fail, report["iommu.enabled"].Status);
        Assert.Contains("intel_iommu=on", report["iommu.enabled"].Fix, StringComparison.Ordinal);
        Assert.Equal(ReadinessStatus.Warn, report["kernel.cmdline"].Status);
    }

    [Fact]
    public void No_interrupt_remapping_fails_unless_unsafe_interrupts_are_allowed()
    {
        var host = Scenarios.NoInterruptRemapping();
        Assert.Equal(ReadinessStatus.Fail, Check(host)["iommu.interrupt-remapping"].Status);
        host.Files.File.WriteAllText("/sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts", "Y\n");
        Assert.Equal(ReadinessStatus.Warn, Check(host)["iommu.interrupt-remapping"].Status);
    }

    [Fact]
    public void Missing_vfio_fails_with_modprobe_as_the_fix()
    {
        var report = Check(Scenarios.VfioNotLoaded());
        Assert.Equal(ReadinessStatus.Fail, report["vfio.modules"].Status);
        Assert.Contains("modprobe vfio-pci", report["vfio.modules"].Fix, StringComparison.Ordinal);
        Assert.Equal(ReadinessStatus.Fail, report["vfio.device"].Status);
    }

    [Fact]
    public void This_machine_is_reported_as_it_is()
    {
        var report = new HostReadinessChecker(new FileSystem(), new PassthroughOptions()).Check();
        Assert.Equal(11, report.Checks.Count);
        Assert.Equal(File.Exists("/dev/kvm") ? ReadinessStatus.Pass : ReadinessStatus.Fail, report["kvm.device"].Status);
        Assert.Equal(Directory.Exists("/sys/module/kvm_pvm") ? ReadinessStatus.Warn : ReadinessStatus.Pass, report["kvm.nested-pvm"].Status);
        var hasGroups = Directory.Exists("/sys/kernel/iommu_groups") && Directory.EnumerateFileSystemEntries("/sys/kernel/iommu_groups").Any();
        Assert.Equal(hasGroups ? ReadinessStatus.Pass : ReadinessStatus.Fail, report["iommu.groups"].Status);
        Assert.All(report.Checks.Where(check => check.Status is ReadinessStatus.Fail or ReadinessStatus.Warn), check => Assert.False(string.IsNullOrEmpty(check.Fix)));
    }
}
