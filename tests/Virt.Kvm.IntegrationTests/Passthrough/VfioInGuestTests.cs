using Virt.Kvm.IntegrationTests.Infrastructure;
using Virt.Kvm.IntegrationTests.Kvm;

namespace Virt.Kvm.IntegrationTests.Passthrough;

/// <summary>
/// Real VFIO: the host has no IOMMU, so the test guest boots with an emulated Intel IOMMU (interrupt
/// remapping, caching mode) and the edu and e1000e devices, mounts this host's root read-only over 9p,
/// and runs tests/Virt.Passthrough.Probe from this build in a chroot; the verdicts come back on the serial console.
/// </summary>
[Collection(TestGuestCollection.Name)]
public sealed class VfioInGuestTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(240);

    [Fact(Timeout = 300_000)]
    public async Task Edu_and_e1000e_are_bound_to_vfio_pci_and_given_back_then_a_vm_gets_edu_for_its_life_even_when_qemu_dies_watched_or_not()
    {
        TestGuest.Require();
        HostRootInGuest.Require();
        var ct = TestContext.Current.CancellationToken;
        var probe = Path.Combine(AppContext.BaseDirectory, "Virt.Passthrough.Probe.dll");
        var script = Path.Combine(Path.GetTempPath(), $"virt-vfio-{Guid.NewGuid():N}.sh");
        await File.WriteAllTextAsync(
            script,
            $"""
            set -e
            {HostRootInGuest.Mount}
            set +e
            {HostRootInGuest.Dotnet} {probe} bind-cycle /run/virt-passthrough
            {HostRootInGuest.Dotnet} {probe} vm-cycle /run/virt-vm
            """,
            ct);
        try
        {
            await using var qemu = await QemuProcess.StartAsync(
            [
                "-machine", "q35,kernel-irqchip=split", "-accel", "tcg", "-smp", "2", "-m", "2048",
                "-device", "intel-iommu,intremap=on,caching-mode=on",
                "-bios", "/usr/share/qemu/qboot.rom",
                "-kernel", TestGuest.Kernel, "-initrd", TestGuest.Initramfs,
                "-append", "console=ttyS0 panic=-1 quiet no_timer_check intel_iommu=on iommu=pt",
                "-serial", "file:{dir}/serial.log", "-no-reboot",
                "-device", "edu", "-device", "e1000e",
                .. HostRootInGuest.QemuArguments,
                "-fw_cfg", $"name=opt/virt/script,file={script}",
            ]);
            var serial = await qemu.WaitForSerialAsync("VIRT-GUEST-SCRIPT-EXIT", Deadline);
            TestContext.Current.SendDiagnosticMessage(serial);

            string[] expected =
            [
                "readiness Pass iommu.interrupt-remapping",
                "ok: both on vfio-pci",
                "release refused while held",
                "ok: e1000e back on e1000e with its override cleared",
                "VFIO-VERDICT PASS",
                "ok: edu on vfio-pci while the VM runs",
                "ok: edu given back after stop",
                "ok: edu given back after QEMU was killed",
                "ok: edu given back after a re-attach found QEMU dead",
                "VM-VERDICT PASS",
            ];

            // The whole console on failure: the probe's own lines say which step went wrong and why.
            var missing = expected.Where(line => !serial.Contains(line, StringComparison.Ordinal)).ToList();
            Assert.True(missing.Count == 0, $"missing from the guest's output: {string.Join("; ", missing)}\n--- guest console ---\n{serial}");
        }
        finally
        {
            File.Delete(script);
        }
    }
}
