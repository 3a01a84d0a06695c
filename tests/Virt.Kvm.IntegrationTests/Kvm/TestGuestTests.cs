using System.IO.Abstractions;
using System.Text;
using Virt.Kvm.IntegrationTests.Infrastructure;
using Virt.Kvm.GuestAgent;
using Virt.Kvm.Host;
using Virt.Kvm.Qmp;
using Virt.VirtualMachines;

namespace Virt.Kvm.IntegrationTests.Kvm;

/// <summary>The embedded test guest booted for real (KVM where it works, TCG here), seen through QMP, the serial console and qemu-ga.</summary>
[Collection(TestGuestCollection.Name)]
public sealed class TestGuestTests
{
    private static readonly TimeSpan BootTimeout = TimeSpan.FromSeconds(90);

    [Fact(Timeout = 180_000)]
    public async Task The_guest_boots_runs_its_fw_cfg_script_answers_the_agent_and_powers_off_on_the_button()
    {
        TestGuest.Require();
        var ct = TestContext.Current.CancellationToken;
        var accelerator = new AcceleratorProbe(new FileSystem()).Detect();
        var script = Path.Combine(Path.GetTempPath(), $"virt-fwcfg-{Guid.NewGuid():N}.sh");
        await File.WriteAllTextAsync(script, "echo FWCFG-SCRIPT-RAN $(cat /proc/sys/kernel/hostname)\nexit 7\n", ct);
        try
        {
            await using var qemu = await BootAsync(accelerator,
            [
                "-no-reboot", "-fw_cfg", $"name=opt/virt/script,file={script}",
                "-blockdev", "driver=raw,node-name=data0,file.driver=file,file.filename={dir}/data.img",
                "-device", "virtio-blk-pci,drive=data0,id=vda",
            ],
            prepare: dir => File.WriteAllBytes(Path.Combine(dir, "data.img"), new byte[16 * 1024 * 1024]));
            await using var qmp = await QmpClient.ConnectAsync(qemu.QmpSocket, cancellationToken: ct);
            var serial = await qemu.WaitForSerialAsync("VIRT-GUEST-SCRIPT-EXIT", BootTimeout);

            Assert.Contains($"{TestGuest.ReadyMarker} {TestGuest.KernelRelease}", serial, StringComparison.Ordinal);
            Assert.Contains("FWCFG-SCRIPT-RAN virt-guest", serial, StringComparison.Ordinal);
            Assert.Contains("VIRT-GUEST-SCRIPT-EXIT 7", serial, StringComparison.Ordinal);
            Assert.True((await qmp.QueryStatusAsync(ct)).Running);
            var kvm = await qmp.ExecuteAsync("query-kvm", cancellationToken: ct);
            Assert.Equal(accelerator.Kind == AcceleratorKind.Kvm, kvm.GetProperty("enabled").GetBoolean());
            Assert.Single(await qmp.QueryCpusFastAsync(ct));

            await using var agent = await GuestAgentClient.ConnectAsync(qemu.AgentSocket, cancellationToken: ct);
            await agent.WaitForReadyAsync(TimeSpan.FromSeconds(30), ct);
            await agent.PingAsync(ct);
            var info = await agent.GetInfoAsync(ct);
            Assert.False(string.IsNullOrEmpty(info.Version));
            Assert.Contains(info.SupportedCommands, c => c.Name == "guest-exec" && c.Enabled);
            Assert.Equal(TestGuest.KernelRelease, (await agent.GetOsInfoAsync(ct)).KernelRelease);

            var exec = await agent.ExecAsync("/bin/sh", ["-c", "read x; echo \"out $x\"; echo err >&2; exit 3"], Encoding.UTF8.GetBytes("hello\n"), cancellationToken: ct);
            Assert.Equal(3, exec.ExitCode);
            Assert.Equal("out hello\n", exec.StandardOutputText);
            Assert.Equal("err\n", exec.StandardErrorText);

            await agent.WriteFileAsync("/tmp/virt-file", "written by the host"u8.ToArray(), ct);
            Assert.Equal("written by the host", Encoding.UTF8.GetString(await agent.ReadFileAsync("/tmp/virt-file", cancellationToken: ct)));
            var catted = await agent.ExecAsync("/bin/cat", ["/tmp/virt-file"], cancellationToken: ct);
            Assert.Equal("written by the host", catted.StandardOutputText);

            // An initramfs has nothing to freeze: give the guest a real ext2 filesystem on a virtio disk.
            var mount = await agent.ExecAsync("/bin/sh", ["-c", "test -b /dev/vda && mke2fs /dev/vda >/dev/null && mkdir -p /mnt/data && mount /dev/vda /mnt/data && echo data > /mnt/data/f"], cancellationToken: ct);
            Assert.True(mount.ExitCode == 0, mount.StandardErrorText);
            Assert.Equal(1, await agent.FreezeFileSystemsAsync(ct));
            Assert.Equal(GuestFsFreezeStatus.Frozen, await agent.GetFreezeStatusAsync(ct));
            Assert.Equal(1, await agent.ThawFileSystemsAsync(ct));
            Assert.Equal(GuestFsFreezeStatus.Thawed, await agent.GetFreezeStatusAsync(ct));

            var powerdown = qmp.WaitForEventAsync("POWERDOWN", null, TimeSpan.FromSeconds(10), ct);
            var shutdown = qmp.WaitForEventAsync("SHUTDOWN", null, TimeSpan.FromSeconds(30), ct);
            await qmp.SystemPowerdownAsync(ct);
            await powerdown;
            Assert.Equal("guest-shutdown", (await shutdown).GetString("reason"));
            await qemu.WaitForExitAsync(TimeSpan.FromSeconds(30));
            await Assert.ThrowsAnyAsync<Virt.VirtException>(() => agent.PingAsync(ct));
        }
        finally
        {
            File.Delete(script);
        }
    }

    [Fact(Timeout = 180_000)]
    public async Task The_guest_agent_survives_a_reboot_and_can_shut_the_guest_down()
    {
        TestGuest.Require();
        var ct = TestContext.Current.CancellationToken;
        var accelerator = new AcceleratorProbe(new FileSystem()).Detect();
        await using var qemu = await BootAsync(accelerator, []);
        await using var qmp = await QmpClient.ConnectAsync(qemu.QmpSocket, cancellationToken: ct);
        await using var agent = await GuestAgentClient.ConnectAsync(qemu.AgentSocket, cancellationToken: ct);
        await qemu.WaitForSerialAsync(TestGuest.ReadyMarker, BootTimeout);
        await agent.WaitForReadyAsync(TimeSpan.FromSeconds(30), ct);
        var before = await agent.ExecAsync("/bin/cat", ["/proc/sys/kernel/random/boot_id"], cancellationToken: ct);

        var reset = qmp.WaitForEventAsync("RESET", null, TimeSpan.FromSeconds(10), ct);
        await qmp.SystemResetAsync(ct);
        await reset;
        await agent.WaitForReadyAsync(BootTimeout, ct);
        var after = await agent.ExecAsync("/bin/cat", ["/proc/sys/kernel/random/boot_id"], cancellationToken: ct);
        Assert.NotEqual(before.StandardOutputText, after.StandardOutputText);

        var shutdown = qmp.WaitForEventAsync("SHUTDOWN", null, TimeSpan.FromSeconds(30), ct);
        await agent.ShutdownAsync(GuestShutdownMode.Powerdown, ct);
        Assert.Equal("guest-shutdown", (await shutdown).GetString("reason"));
        await qemu.WaitForExitAsync(TimeSpan.FromSeconds(30));
    }

    private static Task<QemuProcess> BootAsync(AcceleratorChoice accelerator, string[] extra, Action<string>? prepare = null) => QemuProcess.StartAsync(
    [
        "-machine", "q35", "-accel", accelerator.QemuName, "-m", "256",
        "-bios", "/usr/share/qemu/qboot.rom",
        "-kernel", TestGuest.Kernel, "-initrd", TestGuest.Initramfs,
        "-append", "console=ttyS0 panic=-1 quiet no_timer_check",
        "-serial", "file:{dir}/serial.log",
        "-chardev", "socket,path={dir}/qga.sock,server=on,wait=off,id=qga0",
        "-device", "virtio-serial-pci", "-device", "virtserialport,chardev=qga0,name=org.qemu.guest_agent.0",
        .. extra,
    ],
    prepare: prepare);
}
