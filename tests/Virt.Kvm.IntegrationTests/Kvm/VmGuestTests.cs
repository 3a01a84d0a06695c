using System.Diagnostics;
using Virt.Kvm.IntegrationTests.Infrastructure;
using Virt.VirtualMachines;

namespace Virt.Kvm.IntegrationTests.Kvm;

/// <summary>IVirtualMachine.Guest on the real test guest: exec, OS info, interfaces, freeze, shutdown, and the typed errors.</summary>
[Collection(TestGuestCollection.Name)]
public sealed class VmGuestTests
{
    [Fact(Timeout = 180_000)]
    public async Task The_guest_agent_runs_programs_reports_the_OS_and_interfaces_and_shuts_the_guest_down()
    {
        await using var host = VmTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var spec = VmTestHost.GuestSpec("agent") with { Nics = [new VmNic("net0") { MacAddress = "52:54:00:12:34:56" }] };
        var vm = await host.Manager.CreateAsync(spec, ct);

        var notRunning = await Assert.ThrowsAsync<VmGuestAgentUnavailableException>(() => vm.Guest.PingAsync(ct));
        await vm.StartAsync(ct);
        await VmTestHost.WaitForSerialAsync(vm, TestGuest.ReadyMarker);
        await GuestWait.ForAgentAsync(vm.Guest);

        var result = await vm.Guest.ExecAsync("/bin/sh", ["-c", "echo out; echo err >&2; exit 7"], cancellationToken: ct);
        var piped = await vm.Guest.ExecAsync("/bin/cat", standardInput: "through stdin"u8.ToArray(), cancellationToken: ct);
        var signalled = await vm.Guest.ExecAsync("/bin/sh", ["-c", "kill -9 $$"], cancellationToken: ct);
        var os = await vm.Guest.GetOsInfoAsync(ct);
        var interfaces = await vm.Guest.GetNetworkInterfacesAsync(ct);

        Assert.Equal(7, result.ExitCode);
        Assert.Equal("out\n", result.StandardOutputText);
        Assert.Equal("err\n", result.StandardErrorText);
        Assert.Equal("through stdin", piped.StandardOutputText);
        Assert.Equal(9, signalled.Signal);
        Assert.Null(signalled.ExitCode);
        Assert.StartsWith("6.", os.KernelRelease, StringComparison.Ordinal);
        Assert.Contains(interfaces, i => i.Name == "lo");
        Assert.Contains(interfaces, i => i.HardwareAddress == "52:54:00:12:34:56");
        Assert.Contains("not running", notRunning.Message, StringComparison.Ordinal);

        // A paused guest cannot answer: a typed error within the agent's sync deadline, not a hang.
        await vm.PauseAsync(ct);
        var silent = Stopwatch.StartNew();
        var paused = await Assert.ThrowsAsync<VmGuestAgentUnavailableException>(() => vm.Guest.GetOsInfoAsync(ct));
        Assert.True(silent.Elapsed < TimeSpan.FromSeconds(10), $"took {silent.Elapsed}");
        Assert.Contains("paused", paused.Message, StringComparison.Ordinal);
        await vm.ResumeAsync(ct);

        // Shut down from inside, through the agent.
        await GuestWait.ForAgentAsync(vm.Guest);
        var stopped = VmTestHost.WaitForEventAsync(vm, VmEventKind.Stopped, ct);
        await vm.Guest.ShutdownAsync(GuestShutdownMode.Powerdown, ct);
        var exit = await stopped.WaitAsync(TimeSpan.FromSeconds(60), ct);
        Assert.Equal("guest shut down", exit.Reason);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_VM_without_an_agent_channel_says_so_at_once()
    {
        await using var host = VmTestHost.Create();
        var vm = await host.Manager.CreateAsync(VmTestHost.GuestSpec("no-agent") with { GuestAgent = false }, TestContext.Current.CancellationToken);

        var error = await Assert.ThrowsAsync<VmGuestAgentUnavailableException>(() => vm.Guest.ExecAsync("/bin/true", cancellationToken: TestContext.Current.CancellationToken));

        Assert.Equal("no-agent", error.VmName);
        Assert.Contains("VmSpec.GuestAgent", error.Message, StringComparison.Ordinal);
    }
}
