using Virt.Kvm.IntegrationTests.Infrastructure;
using Virt.Processes;
using Virt.VirtualMachines;

namespace Virt.Kvm.IntegrationTests.Kvm;

/// <summary>Live snapshots with RAM on the real test guest.</summary>
[Collection(TestGuestCollection.Name)]
public sealed class SnapshotTests
{
    [Fact(Timeout = 240_000)]
    public async Task A_marker_written_after_a_snapshot_is_gone_once_the_snapshot_is_loaded()
    {
        await using var host = VmTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var image = Path.Combine(host.StateDirectory, "state.qcow2");
        (await new ProcessRunner().RunAsync(new ProcessSpec("qemu-img", ["create", "-q", "-f", "qcow2", image, "64M"]), ct)).EnsureSuccess();
        var vm = await host.Manager.CreateAsync(VmTestHost.GuestSpec("snap") with { Disks = [new VmDisk("state", image)] }, ct);
        await vm.StartAsync(ct);
        await VmTestHost.WaitForSerialAsync(vm, TestGuest.ReadyMarker);
        await GuestWait.ForAgentAsync(vm.Guest);

        var before = await vm.Snapshots.CreateAsync("before-marker", ct);
        await vm.Guest.ExecAsync("/bin/sh", ["-c", "echo written-after > /tmp/marker"], cancellationToken: ct);
        Assert.Equal(0, (await vm.Guest.ExecAsync("/bin/sh", ["-c", "test -e /tmp/marker"], cancellationToken: ct)).ExitCode);
        await vm.Snapshots.RestoreAsync("before-marker", ct);
        await GuestWait.ForAgentAsync(vm.Guest);
        var markerAfterLoad = await vm.Guest.ExecAsync("/bin/sh", ["-c", "test -e /tmp/marker"], cancellationToken: ct);
        var listed = await vm.Snapshots.ListAsync(ct);

        Assert.Equal(1, markerAfterLoad.ExitCode);
        Assert.Equal(VmState.Running, (await vm.GetStatusAsync(ct)).State);
        Assert.Equal("before-marker", Assert.Single(listed).Name);
        Assert.True(before.VmStateBytes > 1024 * 1024, $"RAM state of {before.VmStateBytes} bytes");

        // Bad input and missing snapshots: clear errors, nothing changed.
        var duplicate = await Assert.ThrowsAsync<VmSnapshotException>(() => vm.Snapshots.CreateAsync("before-marker", ct));
        var badName = await Assert.ThrowsAsync<VmSnapshotException>(() => vm.Snapshots.CreateAsync("../x", ct));
        var unknown = await Assert.ThrowsAsync<VmSnapshotException>(() => vm.Snapshots.RestoreAsync("nope", ct));
        Assert.Contains("exists", duplicate.Message, StringComparison.Ordinal);
        Assert.Contains("1–63", badName.Message, StringComparison.Ordinal);
        Assert.Contains("before-marker", unknown.Message, StringComparison.Ordinal);

        await vm.Snapshots.DeleteAsync("before-marker", ct);
        Assert.Empty(await vm.Snapshots.ListAsync(ct));
        await vm.KillAsync(ct);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_VM_without_a_qcow2_disk_cannot_hold_a_live_snapshot()
    {
        await using var host = VmTestHost.Create();
        var vm = await host.Manager.CreateAsync(VmTestHost.GuestSpec("snap-raw") with { Disks = [new VmDisk("raw", "/dev/null") { Format = VmDiskFormat.Raw }] }, TestContext.Current.CancellationToken);

        var error = await Assert.ThrowsAsync<VmSnapshotException>(() => vm.Snapshots.CreateAsync("s1", TestContext.Current.CancellationToken));

        Assert.Contains("qcow2", error.Message, StringComparison.Ordinal);
    }
}
