using System.Globalization;
using Virt.Hosting;
using Virt.Kvm.IntegrationTests.Infrastructure;
using Virt.Processes;
using Virt.Storage;
using Virt.Storage.Hosting;
using Virt.Storage.IntegrationTests.Infrastructure;
using Virt.Storage.Pools;
using Virt.Tests.Lab;

namespace Virt.Kvm.IntegrationTests.Kvm;

/// <summary>
/// An RBD-backed VM between two SDK hosts (a <see cref="HostLab"/> with a root link: each host reaches the Ceph test
/// cluster over its link, through the root namespace). Each host defines the same Ceph pool with its own storage state
/// and host name; this test watches the image's cross-host lock from the root namespace through a third storage manager.
/// </summary>
[Collection(TestGuestCollection.Name)]
public sealed class CrossHostRbdMigrationTests(CephCluster ceph)
{
    private const string Vm = "rbdvm";
    private const string Volume = "shared:disk";
    private static readonly VolumeId Disk = VolumeId.Parse(Volume);

    [Fact(Timeout = 600_000)]
    public async Task The_disk_lock_follows_the_VM_to_the_other_host_and_back_with_no_gap_and_the_disk_keeps_both_hosts_writes()
    {
        var ct = TestContext.Current.CancellationToken;
        HostRequirement.RequireTool("ceph-mon", "ceph-mon ceph-mgr ceph-osd ceph-common");
        HostRequirement.Require(ceph.Address != "127.0.0.1", "root, to give the Ceph test cluster an address the lab's hosts reach");
        var cephPool = ceph.CreatePool();
        var observerState = Directory.CreateTempSubdirectory("virt-rbd-observer-").FullName;
        try
        {
            await using var hosts = await TwoHosts.CreateAsync(ct, withRootLink: true);
            var (a, b) = (hosts.A, hosts.B);
            using var observer = new StorageManager(new StorageOptions { StateDirectory = observerState }, new System.IO.Abstractions.FileSystem(), new ProcessRunner(), host: new VirtHostIdentity("observer"));
            var pool = await observer.DefinePoolAsync(new RbdPoolDefinition("shared", Path.Combine(observerState, "pool"), ceph.ConfigPath!) { RbdPool = cephPool }, ct);
            await pool.CreateVolumeAsync(new VolumeSpec("disk", 64L << 20), ct);
            await a.RunAsync("rbd-pool", "shared", ceph.ConfigPath!, cephPool);
            await b.RunAsync("rbd-pool", "shared", ceph.ConfigPath!, cephPool);

            // host-a runs the VM and writes the first marker.
            await a.RunAsync("start", Vm, "disk=" + Volume);
            Assert.Equal(["host-a/vm:rbdvm"], await HoldersAsync(observer, ct));
            await WriteMarkerAsync(a, 'A', sector: 0);

            // host-b may not start it while host-a runs it.
            var refused = await Assert.ThrowsAsync<HostCommandException>(() => b.RunAsync("start", Vm, "disk=" + Volume));
            Assert.Contains("host 'host-a' (vm:rbdvm)", refused.Message, StringComparison.Ordinal);
            await b.RunAsync("delete", Vm);
            Assert.Equal(["host-a/vm:rbdvm"], await HoldersAsync(observer, ct));

            // A cancelled migration: host-b joined the lock while it waited, and leaves it; host-a keeps it.
            var ticket = await b.RunAsync("prepare", Vm, b.Address, b.TlsDirectory, "host-a", "600", "disk=" + Volume);
            Assert.Equal(["host-a/vm:rbdvm", "host-b/vm:rbdvm"], await HoldersAsync(observer, ct));
            var slow = a.Send("migrate", Vm, ticket, a.TlsDirectory, (1024 * 1024).ToString(CultureInfo.InvariantCulture));
            var cancelled = await Assert.ThrowsAsync<HostCommandException>(() => a.FinishAsync(slow, async transferred =>
            {
                if (transferred > 0)
                {
                    await a.RunAsync("cancel", slow);
                }
            }));
            Assert.True(cancelled.Message.Contains("Canceled", StringComparison.Ordinal) || cancelled.Message.Contains("migration cancelled", StringComparison.Ordinal), cancelled.Message);
            await b.WaitUntilAbsentAsync(Vm, TimeSpan.FromSeconds(60));
            Assert.Equal(["host-a/vm:rbdvm"], await HoldersAsync(observer, ct));
            Assert.StartsWith("Running ", await a.StatusAsync(Vm), StringComparison.Ordinal);

            // To host-b over TLS, watched all along: the lock is never held by nobody, nor by anyone but the two hosts.
            await MigrateAsync(observer, from: a, to: b, ct);
            Assert.Equal("A", await ReadMarkerAsync(b, sector: 0));
            await WriteMarkerAsync(b, 'B', sector: 1);

            // host-a starting the VM again is refused, naming host-b (the lock still carries the tag host-a made).
            var moved = await Assert.ThrowsAsync<HostCommandException>(() => a.RunAsync("start", Vm, "disk=" + Volume));
            Assert.Contains("host 'host-b' (vm:rbdvm)", moved.Message, StringComparison.Ordinal);
            await a.RunAsync("delete", Vm);
            Assert.Equal(["host-b/vm:rbdvm"], await HoldersAsync(observer, ct));

            // And back to host-a.
            await MigrateAsync(observer, from: b, to: a, ct);
            Assert.Equal("A", await ReadMarkerAsync(a, sector: 0));
            Assert.Equal("B", await ReadMarkerAsync(a, sector: 1));

            await a.RunAsync("delete", Vm);
            await WaitForHoldersAsync(observer, [], ct);
        }
        finally
        {
            ceph.DeletePool(cephPool);
            Directory.Delete(observerState, recursive: true);
        }
    }

    /// <summary>
    /// Prepares the VM on <paramref name="to"/> (only <paramref name="from"/>'s client certificate admitted), migrates it,
    /// and checks the lock at every step: both hold it while the destination waits, then only the destination; a
    /// watcher polling all along never sees it free or held by a stranger.
    /// </summary>
    private static async Task MigrateAsync(StorageManager observer, LabHost from, LabHost to, CancellationToken ct)
    {
        var (source, destination) = ($"{from.Name}/vm:{Vm}", $"{to.Name}/vm:{Vm}");
        var sourcePid = int.Parse((await from.StatusAsync(Vm)).Split(' ')[1], CultureInfo.InvariantCulture);
        var ticket = await to.RunAsync("prepare", Vm, to.Address, to.TlsDirectory, from.Name, "600", "disk=" + Volume);
        Assert.Equal(new[] { source, destination }.Order(StringComparer.Ordinal), await HoldersAsync(observer, ct));

        using var stopWatching = new CancellationTokenSource();
        var seen = new List<IReadOnlyList<string>>();
        var watching = Task.Run(async () =>
        {
            while (!stopWatching.IsCancellationRequested)
            {
                seen.Add(await HoldersAsync(observer, CancellationToken.None));
                await Task.Delay(10, CancellationToken.None);
            }
        }, CancellationToken.None);

        Assert.Equal("completed", await from.RunAsync("migrate", Vm, ticket, from.TlsDirectory, "0"));
        await to.WaitForStateAsync(Vm, "Running", TimeSpan.FromSeconds(30));
        await WaitForHoldersAsync(observer, [destination], ct);
        await stopWatching.CancelAsync();
        await watching;

        Assert.NotEmpty(seen);
        Assert.All(seen, holders =>
        {
            Assert.NotEmpty(holders);
            Assert.Subset(new HashSet<string> { source, destination }, holders.ToHashSet());
        });
        Assert.Equal("absent", await from.StatusAsync(Vm));
        Assert.True(ProcessTable.HasEnded(sourcePid), $"{from.Name}'s QEMU (pid {sourcePid}) still runs");
    }

    private static async Task<IReadOnlyList<string>> HoldersAsync(StorageManager observer, CancellationToken ct) =>
        (await observer.GetLockHoldersAsync(Disk, ct)).Select(holder => holder.Holder).Order(StringComparer.Ordinal).ToList();

    /// <summary>Waits for the lock's holders to be <paramref name="expected"/>: the source releases its share in its QEMU's clean-up, just after the migration reports completion.</summary>
    private static async Task WaitForHoldersAsync(StorageManager observer, IReadOnlyList<string> expected, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        IReadOnlyList<string> holders;
        while (!(holders = await HoldersAsync(observer, ct)).SequenceEqual(expected))
        {
            Assert.True(DateTime.UtcNow < deadline, $"the lock is held by [{string.Join(", ", holders)}], not [{string.Join(", ", expected)}], after 30 s");
            await Task.Delay(50, ct);
        }
    }

    /// <summary>Writes 512 bytes of <paramref name="letter"/> at the disk's sector <paramref name="sector"/>, synchronously.</summary>
    private static async Task WriteMarkerAsync(LabHost host, char letter, int sector)
    {
        var output = await host.ExecAsync(Vm, "/bin/sh", "-c", $"printf '{new string(letter, 512)}' | dd of=/dev/vda bs=512 seek={sector} count=1 conv=fsync 2>&1 && echo written");
        Assert.EndsWith("written\n", output, StringComparison.Ordinal);
    }

    /// <summary>The first byte of sector <paramref name="sector"/> as the image has it (the guest's page cache dropped first).</summary>
    private static Task<string> ReadMarkerAsync(LabHost host, int sector) =>
        host.ExecAsync(Vm, "/bin/sh", "-c", $"echo 3 > /proc/sys/vm/drop_caches; dd if=/dev/vda bs=1 skip={sector * 512} count=1 2>/dev/null");
}
