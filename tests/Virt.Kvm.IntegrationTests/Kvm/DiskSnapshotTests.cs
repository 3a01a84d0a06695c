using Virt.Kvm.IntegrationTests.Infrastructure;
using Virt.Processes;
using Virt.VirtualMachines;

namespace Virt.Kvm.IntegrationTests.Kvm;

/// <summary>Disk-only external snapshots and block commit on the real test guest.</summary>
[Collection(TestGuestCollection.Name)]
public sealed class DiskSnapshotTests
{
    [Fact(Timeout = 240_000)]
    public async Task The_base_keeps_the_data_of_the_snapshot_and_a_commit_merges_what_came_after()
    {
        await using var host = VmTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var runner = new ProcessRunner();
        var image = Path.Combine(host.StateDirectory, "data.qcow2");
        var overlay = Path.Combine(host.StateDirectory, "data-s1.qcow2");
        (await runner.RunAsync(new ProcessSpec("qemu-img", ["create", "-q", "-f", "qcow2", image, "64M"]), ct)).EnsureSuccess();
        var vm = await host.Manager.CreateAsync(VmTestHost.GuestSpec("dsnap") with { Disks = [new VmDisk("data", image)] }, ct);
        await vm.StartAsync(ct);
        await VmTestHost.WaitForSerialAsync(vm, TestGuest.ReadyMarker);
        await GuestWait.ForAgentAsync(vm.Guest);

        await WriteSectorAsync(vm, 'A');
        var snapshot = await vm.Disks.CreateSnapshotAsync("data", overlay, ct);
        await WriteSectorAsync(vm, 'B');

        Assert.True(snapshot.FileSystemsFrozen);
        Assert.Equal(image, snapshot.BackingPath);
        Assert.Equal(overlay, vm.Spec.Disks.Single().Path);
        Assert.True(await HasPatternAsync(runner, image, 0x41), "the base image keeps the data of the snapshot");
        Assert.True(await HasPatternAsync(runner, overlay, 0x42), "the overlay has what came after");

        var reports = new List<VmBlockJobProgress>();
        await foreach (var progress in vm.Disks.CommitAsync("data", ct))
        {
            reports.Add(progress);
        }

        Assert.True(reports[^1].Completed, string.Join(", ", reports.Select(r => r.Status)));
        Assert.Equal(image, vm.Spec.Disks.Single().Path);
        Assert.False(File.Exists(overlay));
        Assert.True(await HasPatternAsync(runner, image, 0x42), "the commit merged the later data into the base");
        Assert.Equal("B", (await vm.Guest.ExecAsync("/bin/sh", ["-c", "dd if=/dev/vda bs=1 count=1 2>/dev/null"], cancellationToken: ct)).StandardOutputText);

        var noOverlay = await Assert.ThrowsAsync<VmSnapshotException>(async () =>
        {
            await foreach (var _ in vm.Disks.CommitAsync("data", ct))
            {
            }
        });
        var exists = await Assert.ThrowsAsync<VmSnapshotException>(() => vm.Disks.CreateSnapshotAsync("data", image, ct));
        Assert.Contains("no overlay", noOverlay.Message, StringComparison.Ordinal);
        Assert.Contains("exists", exists.Message, StringComparison.Ordinal);
        await vm.KillAsync(ct);
    }

    private static async Task WriteSectorAsync(IVirtualMachine vm, char letter)
    {
        var result = await vm.Guest.ExecAsync("/bin/sh", ["-c", $"test -b /dev/vda && printf '{new string(letter, 512)}' | dd of=/dev/vda bs=512 count=1 conv=fsync 2>/dev/null"]);
        Assert.True(result.ExitCode == 0, result.StandardErrorText);
    }

    /// <summary>Reads the first sector of an image (in use: -U) and checks it is all <paramref name="pattern"/>.</summary>
    private static async Task<bool> HasPatternAsync(ProcessRunner runner, string image, int pattern)
    {
        var read = await runner.RunAsync(new ProcessSpec("qemu-io", ["-r", "-U", "-f", "qcow2", "-c", $"read -P 0x{pattern:x2} 0 512", image]));
        return read.ExitCode == 0 && !read.StandardOutput.Contains("failed", StringComparison.OrdinalIgnoreCase);
    }
}
