using Virt.Kvm.IntegrationTests.Infrastructure;
using Virt.Kvm.GuestAgent;
using Virt.Processes;
using Virt.VirtualMachines;

namespace Virt.Kvm.IntegrationTests.Kvm;

/// <summary>Disks on every bus, a CD-ROM, and UEFI firmware, on real QEMU.</summary>
[Collection(TestGuestCollection.Name)]
public sealed class DiskAndFirmwareTests
{
    [Fact(Timeout = 180_000)]
    public async Task Disks_on_virtio_blk_virtio_scsi_and_SATA_and_a_CD_ROM_appear_in_the_guest()
    {
        await using var host = VmTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var images = Path.Combine(host.StateDirectory, "images, with a comma");
        Directory.CreateDirectory(images);
        var qcow2 = Path.Combine(images, "root.qcow2");
        (await new ProcessRunner().RunAsync(new ProcessSpec("qemu-img", ["create", "-q", "-f", "qcow2", qcow2, "64M"]), ct)).EnsureSuccess();
        var raw = Path.Combine(images, "data.raw");
        var sata = Path.Combine(images, "legacy.raw");
        var iso = Path.Combine(images, "media.iso");
        foreach (var file in new[] { raw, sata, iso })
        {
            await File.WriteAllBytesAsync(file, new byte[8 * 1024 * 1024], ct);
        }

        var vm = await host.Manager.CreateAsync(VmTestHost.GuestSpec("disks") with
        {
            Disks =
            [
                new VmDisk("root", qcow2),
                new VmDisk("data", raw) { Format = VmDiskFormat.Raw, Bus = VmDiskBus.VirtioScsi, Cache = VmDiskCache.Writeback, ReadOnly = true },
                new VmDisk("legacy", sata) { Format = VmDiskFormat.Raw, Bus = VmDiskBus.Sata },
            ],
            Cdroms = [new VmCdrom("media", iso)],
        }, ct);

        await vm.StartAsync(ct);
        await VmTestHost.WaitForSerialAsync(vm, TestGuest.ReadyMarker);
        await using var agent = await GuestAgentClient.ConnectAsync(vm.Endpoints.GuestAgentSocket!, cancellationToken: ct);
        await agent.WaitForReadyAsync(TimeSpan.FromSeconds(30), ct);
        var blocks = await agent.ExecAsync("/bin/sh", ["-c", "for b in /sys/block/*; do echo \"$(basename $b) $(cat $b/size) $(cat $b/ro)\"; done"], cancellationToken: ct);
        var devices = blocks.StandardOutputText.Split('\n', StringSplitOptions.RemoveEmptyEntries).ToDictionary(l => l.Split(' ')[0], l => l);

        Assert.Equal("vda 131072 0", devices["vda"]);
        Assert.Contains(devices.Values, d => d.StartsWith("sd", StringComparison.Ordinal) && d.EndsWith(" 16384 0", StringComparison.Ordinal));
        Assert.Contains(devices.Values, d => d.StartsWith("sd", StringComparison.Ordinal) && d.EndsWith(" 16384 1", StringComparison.Ordinal));
        Assert.Contains(devices.Keys, name => name.StartsWith("sr", StringComparison.Ordinal));
        await vm.KillAsync(ct);
    }

    [Fact(Timeout = 120_000)]
    public async Task A_UEFI_VM_starts_on_OVMF_with_its_own_variables_file()
    {
        await using var host = VmTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var firmware = new VmFirmware { Kind = VmFirmwareKind.Ovmf };
        HostRequirement.Require(File.Exists(firmware.OvmfCodePath), $"{firmware.OvmfCodePath} (apt-get install ovmf)");
        var vm = await host.Manager.CreateAsync(new VmSpec("uefi") { Firmware = firmware, Memory = new VmMemory { SizeMiB = 256 } }, ct);

        var template = await File.ReadAllBytesAsync(firmware.OvmfVarsTemplatePath, ct);
        var variables = Path.Combine(host.StateDirectory, "uefi", "OVMF_VARS.fd");

        await vm.StartAsync(ct);

        // OVMF's boot manager ran (it reports each boot option on the serial console) and stored its boot
        // variables in the VM's own copy; Debian's template is untouched.
        await VmTestHost.WaitForSerialAsync(vm, "BdsDxe: loading Boot", timeout: TimeSpan.FromSeconds(100));
        await WaitForVariablesWrittenAsync(variables, template, ct);
        Assert.Equal(template.Length, new FileInfo(variables).Length);
        Assert.Equal(template, await File.ReadAllBytesAsync(firmware.OvmfVarsTemplatePath, ct));
        await vm.KillAsync(ct);
    }

    [Fact(Timeout = 120_000)]
    public async Task A_Secure_Boot_VM_runs_on_the_SMM_build_of_OVMF_with_enrolled_keys()
    {
        await using var host = VmTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var firmware = VmFirmware.OvmfSecureBoot();
        HostRequirement.Require(File.Exists(firmware.OvmfCodePath), $"{firmware.OvmfCodePath} (apt-get install ovmf)");
        var vm = await host.Manager.CreateAsync(new VmSpec("secboot") { Firmware = firmware, Memory = new VmMemory { SizeMiB = 256 } }, ct);

        var template = await File.ReadAllBytesAsync(firmware.OvmfVarsTemplatePath, ct);
        await vm.StartAsync(ct);

        // Secure Boot is enforced: with Microsoft's keys enrolled, OVMF refuses to start its own unsigned
        // UEFI shell and says so on the serial console. The SMM build runs only with smm=on.
        await VmTestHost.WaitForSerialAsync(vm, "Security Violation", timeout: TimeSpan.FromSeconds(100));
        Assert.Contains("smm=on", await File.ReadAllTextAsync($"/proc/{(await vm.GetStatusAsync(ct)).Pid}/cmdline", ct), StringComparison.Ordinal);
        Assert.Equal(template.Length, new FileInfo(Path.Combine(host.StateDirectory, "secboot", "OVMF_VARS.fd")).Length);
        Assert.Equal(template, await File.ReadAllBytesAsync(firmware.OvmfVarsTemplatePath, ct));
        await vm.KillAsync(ct);
    }

    [Fact(Timeout = 240_000)]
    public async Task OVMF_boots_the_test_guest_kernel_to_its_ready_marker()
    {
        await using var host = VmTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var vmlinuz = Path.Combine(TestGuest.Directory, "vmlinuz");
        HostRequirement.Require(File.Exists(vmlinuz), $"{vmlinuz} (scripts/build-guest.sh keeps the EFI-stub kernel)");
        var spec = new VmSpec("uefi-boot")
        {
            Memory = new VmMemory { SizeMiB = 256 },
            Firmware = new VmFirmware { Kind = VmFirmwareKind.Ovmf, KernelPath = vmlinuz, InitrdPath = Path.Combine(TestGuest.Directory, "initramfs.gz"), KernelCommandLine = "console=ttyS0 panic=-1 quiet no_timer_check" },
        };
        var vm = await host.Manager.CreateAsync(spec, ct);

        await vm.StartAsync(ct);
        await VmTestHost.WaitForSerialAsync(vm, TestGuest.ReadyMarker, timeout: TimeSpan.FromSeconds(180));
        await GuestWait.ForAgentAsync(vm.Guest);

        // The kernel came up through UEFI: the EFI runtime is visible in the guest.
        Assert.Equal(0, (await vm.Guest.ExecAsync("/bin/sh", ["-c", "test -d /sys/firmware/efi"], cancellationToken: ct)).ExitCode);
        await vm.KillAsync(ct);
    }

    /// <summary>Waits until the firmware has written the VM's variables file (it differs from the template it was copied from).</summary>
    private static async Task WaitForVariablesWrittenAsync(string variables, byte[] template, CancellationToken ct)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(TimeSpan.FromSeconds(60));
        while (Same(template, await File.ReadAllBytesAsync(variables, deadline.Token)))
        {
            await Task.Delay(100, deadline.Token);
        }
    }

    private static bool Same(byte[] left, byte[] right) => left.AsSpan().SequenceEqual(right);
}
