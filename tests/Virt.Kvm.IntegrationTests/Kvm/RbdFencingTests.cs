using System.Diagnostics;
using Virt.Hosting;
using Virt.Kvm.Host;
using Virt.Kvm.IntegrationTests.Infrastructure;
using Virt.Kvm.VirtualMachines;
using Virt.Processes;
using Virt.Storage;
using Virt.Storage.Hosting;
using Virt.Storage.IntegrationTests.Infrastructure;
using Virt.Storage.Pools;
using Virt.VirtualMachines;

namespace Virt.Kvm.IntegrationTests.Kvm;

/// <summary>
/// One RBD-backed VM, two hosts: host A is a manager in a child process (its own host name and state directories),
/// host B this test's. B may not start the VM while A runs it; when A "dies" — its QEMU frozen (a hung host that may
/// come back) and its manager killed — B is still refused until it fences A; then B runs the VM, and A's QEMU, thawed,
/// can no longer write to the disk.
/// </summary>
[Collection(TestGuestCollection.Name)]
public sealed class RbdFencingTests(CephCluster ceph)
{
    private static readonly VolumeId Disk = VolumeId.Parse("shared:disk");

    [Fact(Timeout = 420_000)]
    public async Task A_second_host_starts_a_running_VMs_disk_only_after_fencing_the_first_whose_late_writes_then_fail()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var hostA = VmTestHost.Create();
        await using var hostB = VmTestHost.Create();
        var cephPool = ceph.CreatePool();
        var fenced = new List<string>();
        Process? managerA = null;
        int? qemuA = null;
        try
        {
            using var storageB = new StorageManager(new StorageOptions { StateDirectory = Path.Combine(hostB.StateDirectory, "storage") }, new System.IO.Abstractions.FileSystem(), new ProcessRunner(), host: new VirtHostIdentity("host-b"));
            var pool = await storageB.DefinePoolAsync(new RbdPoolDefinition("shared", Path.Combine(hostB.StateDirectory, "pool"), ceph.ConfigPath!) { RbdPool = cephPool }, ct);
            await pool.CreateVolumeAsync(new VolumeSpec("disk", 64L << 20), ct);

            // Host A runs the VM and writes 'A' to its disk.
            (managerA, qemuA, var clientsA) = await StartHostAAsync(hostA, cephPool, ct);
            var onA = await hostA.Manager.GetAsync("web", ct);
            await VmTestHost.WaitForSerialAsync(onA, TestGuest.ReadyMarker);
            await GuestWait.ForAgentAsync(onA.Guest);
            await WriteMarkerAsync(onA, 'A');

            await using var managerB = new KvmVirtualMachineManager(hostB.Options, new ProcessRunner(), new QemuCapabilityProbe(new ProcessRunner()), new AcceleratorProbe(new System.IO.Abstractions.FileSystem()), TimeProvider.System, volumes: storageB);
            var onB = await managerB.CreateAsync(VmTestHost.GuestSpec("web") with { Disks = [new VmDisk("data", "shared:disk")] }, ct);
            var refused = await Assert.ThrowsAsync<VolumeStateException>(() => onB.StartAsync(ct));
            Assert.Contains("host 'host-a' (vm:web)", refused.Message, StringComparison.Ordinal);

            // A dies: its QEMU hangs (SIGSTOP: it may come back), its manager is killed.
            Assert.Equal(0, Native.Kill(qemuA.Value, Native.SigStop));
            managerA.Kill();
            await managerA.WaitForExitAsync(ct);
            await Assert.ThrowsAsync<VolumeStateException>(() => onB.StartAsync(ct));
            Assert.Equal(VmState.Stopped, (await onB.GetStatusAsync(ct)).State);

            var broken = Assert.Single(await storageB.BreakLockAsync(Disk, fence: true, ct));
            fenced.AddRange(broken.ClientAddresses);
            Assert.Equal("host-a/vm:web", broken.Holder);
            Assert.Subset(clientsA.ToHashSet(), broken.ClientAddresses.ToHashSet());

            await onB.StartAsync(ct);
            await VmTestHost.WaitForSerialAsync(onB, TestGuest.ReadyMarker);
            await GuestWait.ForAgentAsync(onB.Guest);
            Assert.Equal("A", await ReadMarkerAsync(onB));
            await WriteMarkerAsync(onB, 'B');

            // A comes back: its guest's write fails, and nothing of it reaches the disk B now runs on.
            Assert.Equal(0, Native.Kill(qemuA.Value, Native.SigCont));
            var late = await onA.Guest.ExecAsync("/bin/sh", ["-c", $"printf '{new string('Z', 512)}' | dd of=/dev/vda bs=512 count=1 conv=fsync 2>&1"], timeout: TimeSpan.FromSeconds(120), cancellationToken: ct);
            Assert.True(late.ExitCode != 0, $"host A's write after fencing succeeded: {late.StandardOutputText}");
            Assert.Equal("B", await ReadMarkerAsync(onB, fromDisk: true));

            await onB.ShutdownAsync(TimeSpan.FromSeconds(60), killAfterTimeout: true, ct);
            Assert.Empty(await storageB.GetLockHoldersAsync(Disk, ct));
        }
        finally
        {
            if (managerA is { HasExited: false })
            {
                managerA.Kill();
            }

            managerA?.Dispose();
            if (qemuA is { } pid)
            {
                Native.Kill(pid, Native.SigCont);
                Native.Kill(pid, Native.SigKill);
            }

            foreach (var address in fenced.Distinct())
            {
                Virt.Storage.IntegrationTests.Infrastructure.Host.Run("ceph", "-c", ceph.ConfigPath!, "osd", "blocklist", "rm", address);
            }

            ceph.DeletePool(cephPool);
        }
    }

    /// <summary>Starts host A's manager (a child process) with the VM on the shared volume; returns it, QEMU's pid and the Ceph clients A's lock recorded.</summary>
    private async Task<(Process Manager, int Qemu, IReadOnlyList<string> Clients)> StartHostAAsync(VmTestHost hostA, string cephPool, CancellationToken ct)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { Path.Combine(AppContext.BaseDirectory, "Virt.Tests.ChildManager.dll"), "rbd-vm", hostA.StateDirectory, QemuBinary.Path, "web", TestGuest.Directory, "host-a", Path.Combine(hostA.StateDirectory, "storage"), ceph.ConfigPath!, cephPool, "disk" })
        {
            start.ArgumentList.Add(argument);
        }

        var manager = Process.Start(start)!;
        var started = await manager.StandardOutput.ReadLineAsync(ct) ?? throw new InvalidOperationException($"host A's manager failed: {await manager.StandardError.ReadToEndAsync(ct)}");
        var recorded = await manager.StandardOutput.ReadLineAsync(ct) ?? throw new InvalidOperationException($"host A's manager failed: {await manager.StandardError.ReadToEndAsync(ct)}");
        return (manager, int.Parse(started.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture), recorded.Split(' ')[1..]);
    }

    private static async Task WriteMarkerAsync(IVirtualMachine vm, char letter)
    {
        var result = await vm.Guest.ExecAsync("/bin/sh", ["-c", $"printf '{new string(letter, 512)}' | dd of=/dev/vda bs=512 count=1 conv=fsync 2>&1"]);
        Assert.True(result.ExitCode == 0, result.StandardOutputText);
    }

    /// <summary>The disk's first byte; <paramref name="fromDisk"/> drops the guest's page cache first, so the byte is the image's.</summary>
    private static async Task<string> ReadMarkerAsync(IVirtualMachine vm, bool fromDisk = false) =>
        (await vm.Guest.ExecAsync("/bin/sh", ["-c", $"{(fromDisk ? "echo 3 > /proc/sys/vm/drop_caches; " : string.Empty)}dd if=/dev/vda bs=1 count=1 2>/dev/null"])).StandardOutputText;
}
