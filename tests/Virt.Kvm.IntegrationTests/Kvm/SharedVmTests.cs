using System.Diagnostics;
using Virt.Kvm.IntegrationTests.Infrastructure;
using Virt.Processes;
using Virt.VirtualMachines;

namespace Virt.Kvm.IntegrationTests.Kvm;

/// <summary>
/// Two managers on one state directory drive one VM (as the panel and virtctl do from two processes): the
/// owner keeps QEMU's main monitor and sees every change as an event, the other goes through the control
/// monitor, and when the owner lets go the other takes the VM over. The guest agent serves every process, and
/// the owner's events reach every follower's watchers through the VM's event journal.
/// </summary>
[Collection(TestGuestCollection.Name)]
public sealed class SharedVmTests
{
    [Fact(Timeout = 240_000)]
    public async Task Two_managers_pause_resume_snapshot_and_stop_one_VM_and_the_second_takes_over_when_the_owner_lets_go()
    {
        await using var host = VmTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var image = Path.Combine(host.StateDirectory, "state.qcow2");
        (await new ProcessRunner().RunAsync(new ProcessSpec("qemu-img", ["create", "-q", "-f", "qcow2", image, "64M"]), ct)).EnsureSuccess();
        var owner = await host.Manager.CreateAsync(VmTestHost.GuestSpec("shared", 128) with { Disks = [new VmDisk("state", image)] }, ct);
        await owner.StartAsync(ct);
        var pid = (await owner.GetStatusAsync(ct)).Pid!.Value;
        await VmTestHost.WaitForSerialAsync(owner, TestGuest.ReadyMarker);

        await using var secondManager = host.CreateManager();
        var second = await secondManager.GetAsync("shared", ct);
        var seen = await second.GetStatusAsync(ct);
        Assert.Equal((VmState.Running, pid), (seen.State, seen.Pid));

        // A pause from the second manager is an event for the owner, and both report it.
        var paused = VmTestHost.WaitForEventAsync(owner, VmEventKind.Paused, ct);
        await second.PauseAsync(ct);
        await paused;
        Assert.Equal(VmState.Paused, (await owner.GetStatusAsync(ct)).State);
        Assert.Equal(VmState.Paused, (await second.GetStatusAsync(ct)).State);

        var resumed = VmTestHost.WaitForEventAsync(owner, VmEventKind.Resumed, ct);
        await second.ResumeAsync(ct);
        await resumed;
        Assert.Equal(VmState.Running, (await second.GetStatusAsync(ct)).State);

        Assert.Equal("from-second", (await second.Snapshots.CreateAsync("from-second", ct)).Name);
        Assert.Equal("from-second", Assert.Single(await owner.Snapshots.ListAsync(ct)).Name);

        // The owner's manager goes away (the VM keeps running): the next operation from the second makes it the owner,
        // with the main monitor and its events.
        await host.RestartManagerAsync();
        var pausedAgain = VmTestHost.WaitForEventAsync(second, VmEventKind.Paused, ct);
        await second.PauseAsync(ct);
        await pausedAgain;

        // A third manager (the restarted one) follows, resumes and stops it; the second, now the owner, reaps and cleans up.
        var third = await host.Manager.GetAsync("shared", ct);
        Assert.Equal(VmState.Paused, (await third.GetStatusAsync(ct)).State);
        var resumedAgain = VmTestHost.WaitForEventAsync(second, VmEventKind.Resumed, ct);
        await third.ResumeAsync(ct);
        await resumedAgain;
        var stopped = VmTestHost.WaitForEventAsync(second, VmEventKind.Stopped, ct);
        await third.ShutdownAsync(TimeSpan.FromSeconds(60), killAfterTimeout: true, ct);

        Assert.Equal("guest shut down", (await stopped).Reason);
        Assert.Equal(VmState.Stopped, (await third.GetStatusAsync(ct)).State);
        Assert.Equal("guest shut down", (await second.GetStatusAsync(ct)).LastExit!.Reason);
        Assert.True(Native.HasEnded(pid));
        Assert.False(File.Exists(Path.Combine(host.StateDirectory, "shared", "runtime.json")));
    }

    [Fact(Timeout = 60_000)]
    public async Task A_VM_another_process_removed_is_gone_for_every_manager_and_its_name_can_be_used_again()
    {
        await using var host = VmTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        await host.Manager.CreateAsync(VmTestHost.GuestSpec("gone", 128), ct);
        await using var other = host.CreateManager();
        Assert.Equal("gone", (await other.GetAsync("gone", ct)).Name);

        // The first manager deletes it (as virtctl does, or a migration to another host's cleanup): the other forgets it too.
        await host.Manager.DeleteAsync("gone", cancellationToken: ct);
        await Assert.ThrowsAsync<VmNotFoundException>(() => other.GetAsync("gone", ct));
        Assert.DoesNotContain(await other.ListAsync(ct), vm => vm.Name == "gone");
        var again = await other.CreateAsync(VmTestHost.GuestSpec("gone", 256), ct);
        Assert.Equal(256, again.Spec.Memory.SizeMiB);

        // What a migration away leaves when its process dies before removing the directory (no spec): cleared on create;
        // while the cleanup after its QEMU still runs (runtime.json), refused with the reason.
        var leftover = Path.Combine(host.StateDirectory, "left");
        Directory.CreateDirectory(leftover);
        await File.WriteAllTextAsync(Path.Combine(leftover, "qemu.log"), "an old run", ct);
        await File.WriteAllTextAsync(Path.Combine(leftover, "runtime.json"), "{}", ct);
        var busy = await Assert.ThrowsAsync<VmException>(() => other.CreateAsync(VmTestHost.GuestSpec("left", 128), ct));
        Assert.Contains("cleanup after its QEMU", busy.Message, StringComparison.Ordinal);
        File.Delete(Path.Combine(leftover, "runtime.json"));
        await other.CreateAsync(VmTestHost.GuestSpec("left", 128), ct);
        Assert.False(File.Exists(Path.Combine(leftover, "qemu.log")), "the old run's log was left in the new VM's directory");
    }

    [Fact(Timeout = 120_000)]
    public async Task A_VM_whose_QEMU_has_no_control_monitor_says_which_process_to_use_and_can_still_be_killed_from_another()
    {
        await using var host = VmTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var owner = await host.Manager.CreateAsync(VmTestHost.GuestSpec("older", 128), ct);
        await owner.StartAsync(ct);
        var pid = (await owner.GetStatusAsync(ct)).Pid!.Value;

        // As a QEMU started by an older build: no control socket.
        File.Delete(Path.Combine(host.StateDirectory, "older", "control.sock"));
        await using var secondManager = host.CreateManager();
        var second = await secondManager.GetAsync("older", ct);
        var refused = await Assert.ThrowsAsync<VmStateException>(() => second.PauseAsync(ct));
        Assert.Contains("older Virt build", refused.Message, StringComparison.Ordinal);
        Assert.Contains($"process {Environment.ProcessId}", refused.Message, StringComparison.Ordinal);

        var stopped = VmTestHost.WaitForEventAsync(owner, VmEventKind.Stopped, ct);
        await second.KillAsync(ct);
        await stopped;
        Assert.True(Native.HasEnded(pid));
        Assert.Equal(VmState.Stopped, (await second.GetStatusAsync(ct)).State);
    }

    [Fact(Timeout = 240_000)]
    public async Task Followers_here_and_in_another_process_use_the_guest_agent_and_see_the_owners_state_events()
    {
        await using var host = VmTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var owner = await host.Manager.CreateAsync(VmTestHost.GuestSpec("agents", 128), ct);
        await owner.StartAsync(ct);
        await VmTestHost.WaitForSerialAsync(owner, TestGuest.ReadyMarker);
        await GuestWait.ForAgentAsync(owner.Guest);

        // The owner uses the agent, then a follower: each call has the agent's channel for its own length.
        Assert.Equal("owner\n", (await owner.Guest.ExecAsync("/bin/sh", ["-c", "echo owner"], cancellationToken: ct)).StandardOutputText);
        await using var secondManager = host.CreateManager();
        var second = await secondManager.GetAsync("agents", ct);
        Assert.Equal(0, (await second.Guest.ExecAsync("/bin/sh", ["-c", "echo from-second > /tmp/shared.txt"], cancellationToken: ct)).ExitCode);
        Assert.Equal("from-second\n", (await second.Guest.ExecAsync("/bin/cat", ["/tmp/shared.txt"], cancellationToken: ct)).StandardOutputText);
        Assert.Equal("from-second\n", (await owner.Guest.ExecAsync("/bin/cat", ["/tmp/shared.txt"], cancellationToken: ct)).StandardOutputText);

        // Calls from both at once take turns instead of failing.
        var both = await Task.WhenAll(
            owner.Guest.ExecAsync("/bin/sh", ["-c", "echo a"], cancellationToken: ct),
            second.Guest.ExecAsync("/bin/sh", ["-c", "echo b"], cancellationToken: ct));
        Assert.Equal(["a\n", "b\n"], both.Select(r => r.StandardOutputText));

        // Another process reads the file through the agent while this one owns the VM.
        using (var reader = StartChild(host, "guest-exec", "agents", "/bin/cat", "/tmp/shared.txt"))
        {
            var output = await reader.StandardOutput.ReadToEndAsync(ct);
            await reader.WaitForExitAsync(ct);
            Assert.True(reader.ExitCode == 0, $"the child's guest-exec failed ({reader.ExitCode}): {output} {await reader.StandardError.ReadToEndAsync(ct)}");
            Assert.Equal("from-second\n", output);
        }

        // A pause by the owner reaches the watchers of a follower in this process and of one in another process.
        using var watcher = StartChild(host, "watch", "agents", nameof(VmEventKind.Paused));
        try
        {
            Assert.Equal("watching", await watcher.StandardOutput.ReadLineAsync(ct));
            var followerPaused = VmTestHost.WaitForEventAsync(second, VmEventKind.Paused, ct);
            await owner.PauseAsync(ct);
            await followerPaused;
            Assert.Equal("seen Paused", await watcher.StandardOutput.ReadLineAsync(ct));
            await watcher.WaitForExitAsync(ct);
            Assert.Equal(VmState.Paused, (await second.GetStatusAsync(ct)).State);
        }
        finally
        {
            if (!watcher.HasExited)
            {
                watcher.Kill();
            }
        }

        // A resume by the follower reaches its own watchers (through the owner) and the owner's.
        var followerResumed = VmTestHost.WaitForEventAsync(second, VmEventKind.Resumed, ct);
        var ownerResumed = VmTestHost.WaitForEventAsync(owner, VmEventKind.Resumed, ct);
        await second.ResumeAsync(ct);
        await Task.WhenAll(followerResumed, ownerResumed);

        // The follower learns how the run ended as the owner recorded it.
        var followerStopped = VmTestHost.WaitForEventAsync(second, VmEventKind.Stopped, ct);
        await owner.KillAsync(ct);
        Assert.Equal("killed", (await followerStopped).Reason);
        Assert.Equal("killed", (await second.GetStatusAsync(ct)).LastExit!.Reason);
    }

    /// <summary>The child-process manager (another process on the same state directory) in one of its follower modes.</summary>
    private static Process StartChild(VmTestHost host, string mode, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { Path.Combine(AppContext.BaseDirectory, "Virt.Tests.ChildManager.dll"), mode, host.StateDirectory, QemuBinary.Path }.Concat(arguments))
        {
            start.ArgumentList.Add(argument);
        }

        return Process.Start(start)!;
    }
}
