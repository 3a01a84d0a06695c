using Virt.Cluster.IntegrationTests.Infrastructure;
using Virt.Clustering;
using Virt.Hosting;
using Virt.Kvm.Testing;
using Virt.Processes;
using Virt.Storage;
using Virt.Storage.Hosting;
using Virt.Storage.IntegrationTests.Infrastructure;
using Virt.Storage.Pools;
using Virt.VirtualMachines;

namespace Virt.Cluster.IntegrationTests;

/// <summary>
/// HA with the disk on RBD (the single-node Ceph fixture), two nodes in this process, each with its own storage backend
/// (named as the node, so the RBD lock names it), VM manager and HA agent. node-a's SDK "dies" while its QEMU hangs (the
/// gap the self-fence cannot close: nothing is left to kill the QEMU); node-b, handed the VM, blocklists node-a's Ceph
/// clients before it breaks node-a's lock and starts the VM, so node-a's QEMU, when it wakes, cannot write.
/// </summary>
[Collection(EtcdCollection.Name)]
public sealed class HaStorageFencingTests(EtcdCluster etcd, CephCluster ceph)
{
    private const ClusterGuestKind Vm = ClusterGuestKind.VirtualMachine;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_dead_nodes_HA_VM_on_RBD_restarts_elsewhere_only_after_its_Ceph_clients_are_blocklisted()
    {
        ClusterGuests.Require();
        var cephPool = ceph.CreatePool();
        var fenced = new List<string>();
        int? hungQemu = null;
        try
        {
            await using var lab = new ClusterLab(etcd);
            var a = await NodeAsync(lab, "node-a", cephPool, createVolume: true);
            var b = await NodeAsync(lab, "node-b", cephPool, createVolume: false);
            var spec = EmbeddedGuest.CreateSpec("ha-rbd", memoryMiB: 128) with { Disks = [new VmDisk("data", "shared:disk")] };
            await a.Ha.ProtectAsync(spec, cancellationToken: Token);
            var onA = await WaitRunningAsync(a.Vms, "ha-rbd", "node-a");
            var bootA = await ClusterGuests.BootIdAsync(onA);
            await WriteMarkerAsync(onA, 'A');
            var holder = Assert.Single(await a.Storage.GetLockHoldersAsync(VolumeId.Parse("shared:disk"), Token));
            Assert.Equal("node-a/vm:ha-rbd", holder.Holder);
            Assert.NotEmpty(holder.ClientAddresses);
            fenced.AddRange(holder.ClientAddresses);

            // node-a's SDK dies (its agent and cluster manager gone, no lease revoked) while its QEMU hangs: it may come back.
            hungQemu = (await onA.GetStatusAsync(Token)).Pid!.Value;
            await a.Ha.DisposeAsync();
            await a.Cluster.DisposeAsync();
            Host.Run("kill", "-STOP", hungQemu.Value.ToString(System.Globalization.CultureInfo.InvariantCulture));

            await ClusterGuests.WaitForAsync(async () => (await b.Cluster.GetOwnerAsync(Vm, "ha-rbd", Token))?.Node == "node-b", "ha-rbd handed to node-b");
            var onB = await WaitRunningAsync(b.Vms, "ha-rbd", "node-b");
            var bootB = await ClusterGuests.BootIdAsync(onB);
            Assert.NotEqual(bootA, bootB);
            Assert.Equal("node-b/vm:ha-rbd", Assert.Single(await b.Storage.GetLockHoldersAsync(VolumeId.Parse("shared:disk"), Token)).Holder);
            var blocklist = Host.Run("ceph", "-c", ceph.ConfigPath!, "osd", "blocklist", "ls");
            Assert.All(holder.ClientAddresses, client => Assert.Contains(client, blocklist, StringComparison.Ordinal));
            Assert.Equal("A", await ReadMarkerAsync(onB));
            await WriteMarkerAsync(onB, 'B');

            // node-a's QEMU wakes: its guest's write fails, and nothing of it reaches the disk node-b runs on.
            Host.Run("kill", "-CONT", hungQemu.Value.ToString(System.Globalization.CultureInfo.InvariantCulture));
            var late = await onA.Guest.ExecAsync("/bin/sh", ["-c", $"printf '{new string('Z', 512)}' | dd of=/dev/vda bs=512 count=1 conv=fsync 2>&1"], timeout: TimeSpan.FromSeconds(120), cancellationToken: Token);
            Assert.True(late.ExitCode != 0, $"node-a's write after fencing succeeded: {late.StandardOutputText}");
            Assert.Equal("B", await ReadMarkerAsync(onB, fromDisk: true));
            await b.Ha.UnprotectAsync("ha-rbd", Token);
            await onB.KillAsync(Token);
            Assert.Empty(await b.Storage.GetLockHoldersAsync(VolumeId.Parse("shared:disk"), Token));
        }
        finally
        {
            if (hungQemu is { } pid)
            {
                // The lab (disposed by now) killed it through node-a's VM manager, SIGKILL ending it even while stopped;
                // continuing it is for a test that failed before it was killed.
                try
                {
                    Host.Run("kill", "-CONT", pid.ToString(System.Globalization.CultureInfo.InvariantCulture));
                }
                catch (InvalidOperationException)
                {
                    // Already gone.
                }
            }

            ClusterGuests.CleanUpCeph(ceph, fenced, cephPool);
        }
    }

    private async Task<TestNode> NodeAsync(ClusterLab lab, string name, string cephPool, bool createVolume)
    {
        var cluster = lab.Node(name);
        await cluster.JoinAsync(cancellationToken: Token);
        var storage = new StorageManager(new StorageOptions { StateDirectory = Path.Combine(lab.Root, name + "-storage") }, new System.IO.Abstractions.FileSystem(), new ProcessRunner(), host: new VirtHostIdentity(name));
        lab.OnDispose(storage);
        var pool = await storage.DefinePoolAsync(new RbdPoolDefinition("shared", Path.Combine(lab.Root, name + "-pool"), ceph.ConfigPath!) { RbdPool = cephPool }, Token);
        if (createVolume)
        {
            await pool.CreateVolumeAsync(new VolumeSpec("disk", 64L << 20), Token);
        }

        var vms = lab.VmManager(name, cluster, storage);
        var ha = new ClusterHaAgent(cluster, vms, storage, ClusterGuests.FastHa, volumeLocks: storage);
        lab.OnDispose(ha);
        await ha.StartAsync(Token);
        return new TestNode(cluster, vms, storage, ha);
    }

    private static async Task<IVirtualMachine> WaitRunningAsync(IVirtualMachineManager vms, string name, string node)
    {
        await ClusterGuests.WaitForAsync(async () => (await vms.ListAsync(Token)).Any(vm => vm.Name == name), $"{name} defined on {node}");
        var vm = await vms.GetAsync(name, Token);
        await ClusterGuests.WaitForAsync(async () => (await vm.GetStatusAsync(Token)).State == VmState.Running, $"{name} running on {node}");
        return vm;
    }

    private static async Task WriteMarkerAsync(IVirtualMachine vm, char letter)
    {
        var result = await vm.Guest.ExecAsync("/bin/sh", ["-c", $"printf '{new string(letter, 512)}' | dd of=/dev/vda bs=512 count=1 conv=fsync 2>&1"], cancellationToken: Token);
        Assert.True(result.ExitCode == 0, result.StandardOutputText);
    }

    /// <summary>The disk's first byte; <paramref name="fromDisk"/> drops the guest's page cache first, so the byte is the image's.</summary>
    private static async Task<string> ReadMarkerAsync(IVirtualMachine vm, bool fromDisk = false) =>
        (await vm.Guest.ExecAsync("/bin/sh", ["-c", $"{(fromDisk ? "echo 3 > /proc/sys/vm/drop_caches; " : string.Empty)}dd if=/dev/vda bs=1 count=1 2>/dev/null"], cancellationToken: Token)).StandardOutputText;

    private sealed record TestNode(ClusterManager Cluster, IVirtualMachineManager Vms, StorageManager Storage, ClusterHaAgent Ha);
}
