using System.Diagnostics;
using Virt.Kvm.IntegrationTests.Infrastructure;
using Virt.VirtualMachines;

namespace Virt.Kvm.IntegrationTests.Kvm;

/// <summary>A new manager finds the VMs an earlier one started, the way libvirt and Proxmox do.</summary>
[Collection(TestGuestCollection.Name)]
public sealed class ReattachTests
{
    [Fact(Timeout = 180_000)]
    public async Task A_VM_started_by_a_manager_in_another_process_is_found_controlled_and_stopped()
    {
        await using var host = VmTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var child = Path.Combine(AppContext.BaseDirectory, "Virt.Tests.ChildManager.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { child, host.StateDirectory, QemuBinary.Path, "orphan", TestGuest.Directory })
        {
            start.ArgumentList.Add(argument);
        }

        using var manager = Process.Start(start)!;
        var output = await manager.StandardOutput.ReadToEndAsync(ct);
        await manager.WaitForExitAsync(ct);
        Assert.True(manager.ExitCode == 0, $"the child manager failed: {output} {await manager.StandardError.ReadToEndAsync(ct)}");
        var pid = int.Parse(output.Trim().Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(Directory.Exists($"/proc/{pid}"), "QEMU died with the manager that started it");

        var vm = await host.Manager.GetAsync("orphan", ct);
        var status = await vm.GetStatusAsync(ct);
        Assert.Equal(VmState.Running, status.State);
        Assert.Equal(pid, status.Pid);
        await VmTestHost.WaitForSerialAsync(vm, TestGuest.ReadyMarker);
        await vm.PauseAsync(ct);
        await vm.ResumeAsync(ct);
        await vm.ShutdownAsync(TimeSpan.FromSeconds(60), cancellationToken: ct);

        var stopped = await vm.GetStatusAsync(ct);
        Assert.Equal(VmState.Stopped, stopped.State);
        Assert.Equal("guest shut down", stopped.LastExit!.Reason);
        Assert.True(Native.HasEnded(pid));
    }

    [Fact(Timeout = 180_000)]
    public async Task A_restarted_manager_reattaches_and_a_VM_that_died_meanwhile_is_reported_stopped()
    {
        await using var host = VmTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var survivor = await host.Manager.CreateAsync(VmTestHost.GuestSpec("survivor", 128), ct);
        var victim = await host.Manager.CreateAsync(VmTestHost.GuestSpec("victim", 128), ct);
        await survivor.StartAsync(ct);
        await victim.StartAsync(ct);
        var survivorPid = (await survivor.GetStatusAsync(ct)).Pid!.Value;
        var victimPid = (await victim.GetStatusAsync(ct)).Pid!.Value;

        await host.RestartManagerAsync();
        Assert.True(Directory.Exists($"/proc/{survivorPid}"), "disposing the manager stopped the VM");
        Native.Kill(victimPid, Native.SigKill);
        await Task.Delay(300, ct);

        var list = await host.Manager.ListAsync(ct);
        Assert.Equal(["survivor", "victim"], list.Select(vm => vm.Name).ToArray());
        var again = await host.Manager.GetAsync("survivor", ct);
        Assert.Equal(VmState.Running, (await again.GetStatusAsync(ct)).State);
        var dead = await (await host.Manager.GetAsync("victim", ct)).GetStatusAsync(ct);
        Assert.Equal(VmState.Stopped, dead.State);
        Assert.Contains("exited while no manager was watching", dead.LastExit!.Reason, StringComparison.Ordinal);
        await again.KillAsync(ct);
        Assert.True(Native.HasEnded(survivorPid));
    }

    [Fact(Timeout = 180_000)]
    public async Task A_VM_whose_monitor_does_not_answer_is_still_listed_and_reconnected_when_it_answers_again()
    {
        await using var host = VmTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var vm = await host.Manager.CreateAsync(VmTestHost.GuestSpec("frozen", 128), ct);
        await vm.StartAsync(ct);
        var pid = (await vm.GetStatusAsync(ct)).Pid!.Value;
        host.Options.Qmp = host.Options.Qmp with { HandshakeTimeout = TimeSpan.FromSeconds(1) };
        await host.RestartManagerAsync();

        Native.Kill(pid, Native.SigStop);
        IVirtualMachine again;
        try
        {
            again = Assert.Single(await host.Manager.ListAsync(ct));
            Assert.Equal(VmState.Running, (await again.GetStatusAsync(ct)).State);
            var refused = await Assert.ThrowsAsync<VmStateException>(() => again.PauseAsync(ct));
            Assert.Contains("monitor does not answer", refused.Message, StringComparison.Ordinal);
        }
        finally
        {
            Native.Kill(pid, Native.SigCont);
        }

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            try
            {
                await again.PauseAsync(ct);
                break;
            }
            catch (VmStateException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(200, ct);
            }
        }

        Assert.Equal(VmState.Paused, (await again.GetStatusAsync(ct)).State);
        await again.KillAsync(ct);
        Assert.True(Native.HasEnded(pid));
    }
}
