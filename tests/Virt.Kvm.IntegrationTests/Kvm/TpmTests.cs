using Virt.Kvm.IntegrationTests.Infrastructure;
using Virt.VirtualMachines;

namespace Virt.Kvm.IntegrationTests.Kvm;

/// <summary>A VM with a TPM 2.0: swtpm starts before QEMU, the guest sees the TPM, swtpm ends with the VM.</summary>
[Collection(TestGuestCollection.Name)]
public sealed class TpmTests
{
    [Fact(Timeout = 180_000)]
    public async Task Swtpm_starts_and_stops_with_the_VM_and_the_guest_sees_a_TPM2()
    {
        HostRequirement.Require(File.Exists("/usr/bin/swtpm"), "swtpm (apt-get install swtpm swtpm-tools; scripts/setup-host.sh does)");
        await using var host = VmTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var vm = await host.Manager.CreateAsync(VmTestHost.GuestSpec("tpm") with { Tpm = true }, ct);

        await vm.StartAsync(ct);
        await VmTestHost.WaitForSerialAsync(vm, TestGuest.ReadyMarker);
        await GuestWait.ForAgentAsync(vm.Guest);
        var runtime = await File.ReadAllTextAsync(Path.Combine(host.StateDirectory, "tpm", "runtime.json"), ct);
        var swtpmPid = int.Parse(System.Text.RegularExpressions.Regex.Match(runtime, "\"TpmPid\":\\s*(\\d+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        var table = await vm.Guest.ExecAsync("/bin/sh", ["-c", "test -e /sys/firmware/acpi/tables/TPM2"], cancellationToken: ct);

        Assert.Equal("swtpm", (await File.ReadAllTextAsync($"/proc/{swtpmPid}/comm", ct)).Trim());
        Assert.Equal(0, table.ExitCode);
        Assert.True(Directory.Exists(Path.Combine(host.StateDirectory, "tpm", "tpm")), "the TPM state directory");

        await vm.ShutdownAsync(TimeSpan.FromSeconds(60), killAfterTimeout: true, cancellationToken: ct);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!Native.HasEnded(swtpmPid) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50, ct);
        }

        Assert.True(Native.HasEnded(swtpmPid), "swtpm still runs after the VM stopped");
        Assert.False(File.Exists(Path.Combine(host.StateDirectory, "tpm", "swtpm.sock")));
        Assert.NotEmpty(Directory.GetFiles(Path.Combine(host.StateDirectory, "tpm", "tpm")));
    }
}
