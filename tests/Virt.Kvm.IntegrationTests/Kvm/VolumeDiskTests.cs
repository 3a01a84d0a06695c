using Virt.Kvm.IntegrationTests.Infrastructure;
using Virt.Kvm.Host;
using Virt.Kvm.VirtualMachines;
using Virt.Processes;
using Virt.Storage;
using Virt.Storage.Hosting;
using Virt.Storage.IntegrationTests.Infrastructure;
using Virt.Storage.Pools;
using Virt.VirtualMachines;

namespace Virt.Kvm.IntegrationTests.Kvm;

/// <summary>
/// The test guest boots with its disk on each storage backend, named <c>pool:volume</c>: a marker written
/// in the guest survives a snapshot, is undone by a rollback, and is carried by a clone; the volume is
/// in use (not deletable) while the VM runs.
/// </summary>
[Collection(TestGuestCollection.Name)]
public sealed class VolumeDiskTests(CephCluster ceph)
{
    [Theory(Timeout = 300_000)]
    [InlineData("dir")]
    [InlineData("xfs")]
    [InlineData("btrfs")]
    [InlineData("rbd")]
    public async Task A_vm_disk_on_a_storage_volume_keeps_snapshots_rollbacks_and_clones_as_expected(string backend)
    {
        await using var host = VmTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        using var filesystem = backend is "xfs" or "btrfs" ? LoopFilesystem.Create(backend, 4) : null;
        var cephPool = backend == "rbd" ? ceph.CreatePool() : null;
        try
        {
            var storage = new StorageManager(new StorageOptions { StateDirectory = Path.Combine(host.StateDirectory, "storage") }, new System.IO.Abstractions.FileSystem(), new ProcessRunner());
            var path = Path.Combine(filesystem?.MountPoint ?? host.StateDirectory, "pool");
            StoragePoolDefinition definition = backend switch
            {
                "rbd" => new RbdPoolDefinition("local", path, ceph.ConfigPath!) { RbdPool = cephPool! },
                "btrfs" => new BtrfsPoolDefinition("local", path),
                _ => new DirPoolDefinition("local", path),
            };
            await RunCycleAsync(host, storage, await storage.DefinePoolAsync(definition, ct), ct);
        }
        finally
        {
            if (cephPool is not null)
            {
                ceph.DeletePool(cephPool);
            }
        }
    }

    [Fact(Timeout = 180_000)]
    public async Task A_read_only_rbd_disk_is_locked_and_its_QEMU_client_recorded_like_a_writable_one()
    {
        // QEMU opens an RBD image read-write even for a read-only disk (so that it can reopen it writable), so the image
        // shows QEMU's watcher and the start's check that the client is recorded passes; measured with QEMU 7.2.
        await using var host = VmTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var cephPool = ceph.CreatePool();
        try
        {
            using var storage = new StorageManager(new StorageOptions { StateDirectory = Path.Combine(host.StateDirectory, "storage") }, new System.IO.Abstractions.FileSystem(), new ProcessRunner());
            var pool = await storage.DefinePoolAsync(new RbdPoolDefinition("shared", Path.Combine(host.StateDirectory, "pool"), ceph.ConfigPath!) { RbdPool = cephPool }, ct);
            await pool.CreateVolumeAsync(new VolumeSpec("base", 16L << 20), ct);
            await using var manager = new KvmVirtualMachineManager(host.Options, new ProcessRunner(), new QemuCapabilityProbe(new ProcessRunner()), new AcceleratorProbe(new System.IO.Abstractions.FileSystem()), TimeProvider.System, volumes: storage);
            var vm = await manager.CreateAsync(VmTestHost.GuestSpec("reader") with { Disks = [new VmDisk("base", "shared:base") { ReadOnly = true }] }, ct);

            var started = System.Diagnostics.Stopwatch.StartNew();
            await vm.StartAsync(ct);
            started.Stop();

            var holder = Assert.Single(await storage.GetLockHoldersAsync(VolumeId.Parse("shared:base"), ct));
            Assert.Equal("vm:reader", holder.User);
            Assert.NotEmpty(holder.ClientAddresses);
            TestContext.Current.TestOutputHelper?.WriteLine($"started with a read-only RBD disk in {started.ElapsedMilliseconds} ms; QEMU's clients {string.Join(", ", holder.ClientAddresses)}");
            await vm.KillAsync(ct);
            Assert.Empty(await storage.GetLockHoldersAsync(VolumeId.Parse("shared:base"), ct));
            await manager.DeleteAsync("reader", cancellationToken: ct);
        }
        finally
        {
            ceph.DeletePool(cephPool);
        }
    }

    private static async Task RunCycleAsync(VmTestHost host, StorageManager storage, IStoragePool pool, CancellationToken ct)
    {
        await pool.CreateVolumeAsync(new VolumeSpec("vm-disk", 64L << 20), ct);
        await using var manager = new KvmVirtualMachineManager(host.Options, new ProcessRunner(), new QemuCapabilityProbe(new ProcessRunner()), new AcceleratorProbe(new System.IO.Abstractions.FileSystem()), TimeProvider.System, volumes: storage);

        var vm = await manager.CreateAsync(VmTestHost.GuestSpec("on-volume") with { Disks = [new VmDisk("data", "local:vm-disk")] }, ct);
        await BootAsync(vm, ct);
        await WriteMarkerAsync(vm, 'A');
        var inUse = await Assert.ThrowsAsync<VolumeStateException>(() => pool.DeleteVolumeAsync("vm-disk", ct));
        Assert.Contains("vm:on-volume", inUse.Message, StringComparison.Ordinal);
        await vm.ShutdownAsync(TimeSpan.FromSeconds(60), killAfterTimeout: true, ct);

        await pool.CreateSnapshotAsync("vm-disk", "s1", ct);
        await BootAsync(vm, ct);
        Assert.Equal("A", await ReadMarkerAsync(vm, "vda"));
        await WriteMarkerAsync(vm, 'B');
        await vm.ShutdownAsync(TimeSpan.FromSeconds(60), killAfterTimeout: true, ct);

        await pool.RollbackSnapshotAsync("vm-disk", "s1", ct);
        await pool.CloneVolumeAsync("vm-disk", "vm-clone", linked: false, cancellationToken: ct).LastAsync(ct);
        var twin = await manager.CreateAsync(VmTestHost.GuestSpec("twin") with { Disks = [new VmDisk("data", "local:vm-disk"), new VmDisk("copy", "local:vm-clone")] }, ct);
        await BootAsync(twin, ct);
        Assert.Equal("A", await ReadMarkerAsync(twin, "vda"));
        Assert.Equal("A", await ReadMarkerAsync(twin, "vdb"));
        await twin.ShutdownAsync(TimeSpan.FromSeconds(60), killAfterTimeout: true, ct);

        // Released when QEMU is gone: the volumes can be deleted now.
        await pool.DeleteVolumeAsync("vm-clone", ct);
        await pool.DeleteVolumeAsync("vm-disk", ct);
        await manager.DeleteAsync("on-volume", cancellationToken: ct);
        await manager.DeleteAsync("twin", cancellationToken: ct);
    }

    [Fact(Timeout = 120_000)]
    public async Task A_volume_disk_without_storage_registered_says_which_AddXxx_is_missing()
    {
        await using var host = VmTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var vm = await host.Manager.CreateAsync(VmTestHost.GuestSpec("no-storage") with { Disks = [new VmDisk("data", "local:vm-disk")] }, ct);
        var error = await Assert.ThrowsAsync<VmStartException>(() => vm.StartAsync(ct));
        Assert.Contains("AddStorage()", error.Message, StringComparison.Ordinal);
        Assert.Equal(VmState.Stopped, (await vm.GetStatusAsync(ct)).State);
    }

    private static async Task BootAsync(IVirtualMachine vm, CancellationToken ct)
    {
        await vm.StartAsync(ct);
        await VmTestHost.WaitForSerialAsync(vm, TestGuest.ReadyMarker);
        await GuestWait.ForAgentAsync(vm.Guest);
    }

    private static async Task WriteMarkerAsync(IVirtualMachine vm, char letter)
    {
        var result = await vm.Guest.ExecAsync("/bin/sh", ["-c", $"printf '{new string(letter, 512)}' | dd of=/dev/vda bs=512 count=1 conv=fsync 2>/dev/null"]);
        Assert.True(result.ExitCode == 0, result.StandardErrorText);
    }

    private static async Task<string> ReadMarkerAsync(IVirtualMachine vm, string device) =>
        (await vm.Guest.ExecAsync("/bin/sh", ["-c", $"dd if=/dev/{device} bs=1 count=1 2>/dev/null"])).StandardOutputText;
}
