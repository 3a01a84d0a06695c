using Virt.Kvm.IntegrationTests.Infrastructure;
using Virt.Kvm.IntegrationTests.Kvm;
using Virt.Kvm.Qmp;

namespace Virt.Kvm.IntegrationTests.Cluster;

/// <summary>
/// Virt.Cluster's HA watchdog on a real watchdog device. The host has none (and arming a host's would reset it), so the
/// test guest gets QEMU's emulated Intel 6300ESB timer with <c>-action watchdog=pause</c>, mounts this host's root over
/// 9p and runs tests/Virt.Cluster.WatchdogProbe from this build in a chroot: the HA agent's keeper with the real
/// Linux driver. A clean stop disarms the device (magic close): no expiry follows. A process that ends without one (as
/// a kill or a crash would end it) leaves it armed: QEMU reports the expiry (event WATCHDOG) about the timeout later.
/// </summary>
[Collection(TestGuestCollection.Name)]
public sealed class WatchdogDeviceInGuestTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(240);

    [Fact(Timeout = 300_000)]
    public async Task A_clean_stop_disarms_the_device_and_a_process_that_dies_leaves_it_to_fire()
    {
        TestGuest.Require();
        HostRootInGuest.Require();
        var ct = TestContext.Current.CancellationToken;
        var probe = Path.Combine(AppContext.BaseDirectory, "Virt.Cluster.WatchdogProbe.dll");
        var script = Path.Combine(Path.GetTempPath(), $"virt-watchdog-{Guid.NewGuid():N}.sh");
        await File.WriteAllTextAsync(
            script,
            $"""
            set -e
            load-modules watchdog
            {HostRootInGuest.Mount}
            set +e
            {HostRootInGuest.Dotnet} {probe} clean-stop /dev/watchdog 5
            sleep 15
            echo ALIVE-AFTER-DISARM
            {HostRootInGuest.Dotnet} {probe} crash /dev/watchdog 5
            echo PROBE-ENDED
            sleep 200
            echo NEVER-FIRED
            """,
            ct);
        try
        {
            await using var qemu = await QemuProcess.StartAsync(
            [
                "-machine", "q35", "-accel", "tcg", "-smp", "1", "-m", "1024",
                "-kernel", TestGuest.Kernel, "-initrd", TestGuest.Initramfs,
                "-append", "console=ttyS0 panic=-1 quiet no_timer_check",
                "-serial", "file:{dir}/serial.log", "-no-reboot",
                "-device", "i6300esb", "-action", "watchdog=pause",
                .. HostRootInGuest.QemuArguments,
                "-fw_cfg", $"name=opt/virt/script,file={script}",
            ]);
            await using var qmp = await QmpClient.ConnectAsync(qemu.QmpSocket, cancellationToken: ct);
            using var watchdog = qmp.Subscribe(new QmpSubscriptionOptions { EventNames = ["WATCHDOG"] });
            var firstExpiry = watchdog.ReadAsync(ct);

            // Armed, kept alive for twice its timeout, disarmed by the clean stop, then 15 s (three timeouts) without a
            // keepalive. 5 s, not less: QEMU's timer runs on host time, and the probe's start (JIT) in a TCG guest on a
            // loaded 2-core machine must not eat the countdown.
            var serial = await qemu.WaitForSerialAsync("ALIVE-AFTER-DISARM", Deadline);
            Assert.Contains("WATCHDOG-ARMED i6300ESB timer timeout=5s", serial, StringComparison.Ordinal);
            Assert.Contains("WATCHDOG-DISARMED", serial, StringComparison.Ordinal);
            Assert.False(firstExpiry.IsCompleted, "the watchdog fired after a clean stop");

            // Armed again, kept alive for its timeout, then the process ends without a clean stop: the device fires.
            var fired = await firstExpiry.WaitAsync(Deadline, ct);
            serial = await File.ReadAllTextAsync(qemu.SerialLog, ct);
            TestContext.Current.SendDiagnosticMessage(serial);
            Assert.NotNull(fired);
            Assert.Equal("pause", fired.GetString("action"));
            Assert.Contains("WATCHDOG-ABANDONED", serial, StringComparison.Ordinal);
            Assert.DoesNotContain("NEVER-FIRED", serial, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(script);
        }
    }
}
