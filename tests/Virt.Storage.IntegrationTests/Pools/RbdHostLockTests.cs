using System.Diagnostics;
using Virt.Hosting;
using Virt.Processes;
using Virt.Storage.Hosting;
using Virt.Storage.IntegrationTests.Infrastructure;
using Virt.Storage.Pools;

namespace Virt.Storage.IntegrationTests.Pools;

/// <summary>
/// Two hosts on one Ceph pool: two storage managers with their own host names, state directories and Ceph connections
/// (each a different Ceph client, as two machines are), sharing the single-node cluster.
/// </summary>
public sealed class RbdHostLockTests : IDisposable
{
    private static readonly VolumeId Disk = VolumeId.Parse("shared:disk");
    private readonly CephCluster _ceph;
    private readonly string _cephPool;
    private readonly string _root = Directory.CreateTempSubdirectory("vs-hosts-").FullName;
    private readonly List<StorageManager> _managers = [];

    public RbdHostLockTests(CephCluster ceph)
    {
        _ceph = ceph;
        _cephPool = ceph.CreatePool();
    }

    [Fact(Timeout = 120_000)]
    public async Task A_second_host_is_refused_naming_the_holder_until_the_holder_releases()
    {
        var ct = TestContext.Current.CancellationToken;
        var (a, b) = (await HostAsync("host-a", ct), await HostAsync("host-b", ct));
        await (await a.GetPoolAsync("shared", ct)).CreateVolumeAsync(new VolumeSpec("disk", 16L << 20), ct);

        await a.AcquireAsync(Disk, "vm:web", ct);
        var refused = await Assert.ThrowsAsync<VolumeStateException>(() => b.AcquireAsync(Disk, "vm:web", ct));
        Assert.Contains("host 'host-a' (vm:web)", refused.Message, StringComparison.Ordinal);
        Assert.Contains("BreakLockAsync", refused.Message, StringComparison.Ordinal);
        Assert.Equal(["host-a/vm:web"], (await b.GetLockHoldersAsync(Disk, ct)).Select(holder => holder.Holder));

        // The refused host leaves no in-use marker behind (its pool would refuse to delete the volume).
        await a.ReleaseAsync(Disk, "vm:web", ct);
        await a.ReleaseAsync(Disk, "vm:web", ct);
        Assert.Empty(await a.GetLockHoldersAsync(Disk, ct));

        await b.AcquireAsync(Disk, "vm:web", ct);
        Assert.Equal(["host-b/vm:web"], (await a.GetLockHoldersAsync(Disk, ct)).Select(holder => holder.Holder));
        await Assert.ThrowsAsync<VolumeStateException>(() => a.AcquireAsync(Disk, "vm:web", ct));
        await b.ReleaseAsync(Disk, "vm:web", ct);
        await (await b.GetPoolAsync("shared", ct)).DeleteVolumeAsync("disk", ct);
    }

    [Fact(Timeout = 120_000)]
    public async Task Fencing_named_hosts_never_breaks_a_lock_another_host_holds_and_breaks_one_they_hold()
    {
        var ct = TestContext.Current.CancellationToken;
        var (a, b) = (await HostAsync("host-a", ct), await HostAsync("host-b", ct));
        await (await a.GetPoolAsync("shared", ct)).CreateVolumeAsync(new VolumeSpec("disk", 16L << 20), ct);

        // host-b holds it now, though a caller believed host-a (dead) did: the lock is left as it was.
        await b.AcquireAsync(Disk, "vm:web", ct);
        var refused = await Assert.ThrowsAsync<StorageException>(() => a.FenceHoldersAsync(Disk, ["host-c"], ct));
        Assert.Equal(VirtErrorKind.Conflict, refused.ErrorKind);
        Assert.Contains("held by host-b/vm:web, not only by host-c; it is left as it was", refused.Message, StringComparison.Ordinal);
        Assert.Equal(["host-b/vm:web"], (await a.GetLockHoldersAsync(Disk, ct)).Select(holder => holder.Holder));
        await Assert.ThrowsAsync<ArgumentException>(() => a.FenceHoldersAsync(Disk, [], ct));

        // Named, its holder is broken (with no client open, nothing to blocklist).
        var broken = Assert.Single(await a.FenceHoldersAsync(Disk, ["host-b"], ct));
        Assert.Equal("host-b/vm:web", broken.Holder);
        Assert.Empty(await a.GetLockHoldersAsync(Disk, ct));
        Assert.Empty(await a.FenceHoldersAsync(Disk, ["host-b"], ct));
        await (await a.GetPoolAsync("shared", ct)).DeleteVolumeAsync("disk", ct);
    }

    [Fact(Timeout = 120_000)]
    public async Task A_migration_hands_the_lock_over_with_no_moment_held_by_none_and_strangers_still_refused()
    {
        var ct = TestContext.Current.CancellationToken;
        var (a, b, c) = (await HostAsync("host-a", ct), await HostAsync("host-b", ct), await HostAsync("host-c", ct));
        await (await a.GetPoolAsync("shared", ct)).CreateVolumeAsync(new VolumeSpec("disk", 16L << 20), ct);

        await a.AcquireAsync(Disk, "vm:web", ct);
        await b.AcquireAsync(Disk, "vm:web", new VolumeAcquireOptions { AlongsideHolder = "host-a/vm:web" }, ct);
        Assert.Equal(["host-a/vm:web", "host-b/vm:web"], (await c.GetLockHoldersAsync(Disk, ct)).Select(holder => holder.Holder).Order());

        // A third host can neither take it nor join it while two hold it.
        await Assert.ThrowsAsync<VolumeStateException>(() => c.AcquireAsync(Disk, "vm:web", ct));
        var stranger = await Assert.ThrowsAsync<VolumeStateException>(() => c.AcquireAsync(Disk, "vm:web", new VolumeAcquireOptions { AlongsideHolder = "host-a/vm:web" }, ct));
        Assert.Contains("host-b", stranger.Message, StringComparison.Ordinal);

        await a.ReleaseAsync(Disk, "vm:web", ct);
        Assert.Equal(["host-b/vm:web"], (await c.GetLockHoldersAsync(Disk, ct)).Select(holder => holder.Holder));
        var refused = await Assert.ThrowsAsync<VolumeStateException>(() => c.AcquireAsync(Disk, "vm:web", ct));
        Assert.Contains("host 'host-b' (vm:web)", refused.Message, StringComparison.Ordinal);

        // The old holder starting the VM again is refused too, although the lock still has the tag it made.
        var oldHolder = await Assert.ThrowsAsync<VolumeStateException>(() => a.AcquireAsync(Disk, "vm:web", ct));
        Assert.Contains("host 'host-b' (vm:web)", oldHolder.Message, StringComparison.Ordinal);
        Assert.Equal(["host-b/vm:web"], (await c.GetLockHoldersAsync(Disk, ct)).Select(holder => holder.Holder));

        // And back: the lock keeps the first holder's tag, which the way back joins under.
        await a.AcquireAsync(Disk, "vm:web", new VolumeAcquireOptions { AlongsideHolder = "host-b/vm:web" }, ct);
        await b.ReleaseAsync(Disk, "vm:web", ct);
        Assert.Equal(["host-a/vm:web"], (await c.GetLockHoldersAsync(Disk, ct)).Select(holder => holder.Holder));
        await a.ReleaseAsync(Disk, "vm:web", ct);
        Assert.Empty(await c.GetLockHoldersAsync(Disk, ct));
    }

    [Fact(Timeout = 180_000)]
    public async Task A_host_whose_Ceph_client_was_blocklisted_opens_a_new_one_and_goes_on()
    {
        var ct = TestContext.Current.CancellationToken;
        var (a, b) = (await HostAsync("host-a", ct), await HostAsync("host-b", ct));
        await (await a.GetPoolAsync("shared", ct)).CreateVolumeAsync(new VolumeSpec("disk", 16L << 20), ct);
        await a.AcquireAsync(Disk, "vm:web", ct);

        // Host A's own librados client (the one that took its lock) is blocklisted, as when another host fences A.
        var blocklisted = LockerAddress();
        Host.Run("ceph", "-c", _ceph.ConfigPath!, "osd", "blocklist", "add", blocklisted, "600");
        try
        {
            Assert.Equal(["host-a/vm:web"], (await a.GetLockHoldersAsync(Disk, ct)).Select(holder => holder.Holder));
            await a.ReleaseAsync(Disk, "vm:web", ct);
            Assert.Empty(await b.GetLockHoldersAsync(Disk, ct));

            // The lock is taken again, by a new client of A's.
            await a.AcquireAsync(Disk, "vm:web", ct);
            Assert.NotEqual(blocklisted, LockerAddress());
            await a.ReleaseAsync(Disk, "vm:web", ct);
            Assert.Empty(await b.GetLockHoldersAsync(Disk, ct));
        }
        finally
        {
            Host.Run("ceph", "-c", _ceph.ConfigPath!, "osd", "blocklist", "rm", blocklisted);
        }
    }

    [Fact(Timeout = 180_000)]
    public async Task Hosts_racing_for_a_volume_never_both_get_it()
    {
        var ct = TestContext.Current.CancellationToken;
        var (a, b) = (await HostAsync("host-a", ct), await HostAsync("host-b", ct));
        await (await a.GetPoolAsync("shared", ct)).CreateVolumeAsync(new VolumeSpec("disk", 16L << 20), ct);
        for (var round = 0; round < 20; round++)
        {
            var racers = new[] { (Host: a, Name: "host-a"), (Host: b, Name: "host-b") };
            // Odd rounds race through the migration path: both join a holder that has already gone.
            var joining = round % 2 == 1 ? new VolumeAcquireOptions { AlongsideHolder = "host-z/vm:web" } : null;
            var results = await Task.WhenAll(racers.Select(async racer =>
            {
                try
                {
                    await (joining is null ? racer.Host.AcquireAsync(Disk, "vm:web", ct) : racer.Host.AcquireAsync(Disk, "vm:web", joining, ct));
                    return racer.Name;
                }
                catch (VolumeStateException)
                {
                    return null;
                }
            }));

            var winners = results.OfType<string>().ToList();
            Assert.True(winners.Count == 1, $"round {round}: {winners.Count} hosts got the volume");
            Assert.Equal([winners[0] + "/vm:web"], (await a.GetLockHoldersAsync(Disk, ct)).Select(holder => holder.Holder));
            await (winners[0] == "host-a" ? a : b).ReleaseAsync(Disk, "vm:web", ct);
        }
    }

    [Fact(Timeout = 180_000)]
    public async Task A_dead_holders_lock_is_broken_only_with_fencing_and_its_client_can_no_longer_write()
    {
        var ct = TestContext.Current.CancellationToken;
        var (a, b) = (await HostAsync("host-a", ct), await HostAsync("host-b", ct));
        await (await a.GetPoolAsync("shared", ct)).CreateVolumeAsync(new VolumeSpec("disk", 16L << 20), ct);

        // Host A's writer: qemu-io holding the image open through librbd, as QEMU does.
        await a.AcquireAsync(Disk, "vm:web", ct);
        using var writer = QemuIo.Open($"rbd:{_cephPool}/disk:conf={_ceph.ConfigPath}:id=admin");
        Assert.Contains("wrote", await writer.RunAsync("write -P 0x61 0 4k", ct), StringComparison.Ordinal);
        var recorded = await WaitForRecordedClientAsync(b, ct);

        var refused = await Assert.ThrowsAsync<StorageException>(() => b.BreakLockAsync(Disk, fence: false, ct));
        Assert.Contains(recorded, refused.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<VolumeStateException>(() => b.AcquireAsync(Disk, "vm:web", ct));

        var broken = await b.BreakLockAsync(Disk, fence: true, ct);
        try
        {
            var holder = Assert.Single(broken);
            Assert.Equal("host-a/vm:web", holder.Holder);
            Assert.Contains(recorded, holder.ClientAddresses);
            Assert.All(holder.ClientAddresses, address => Assert.Matches(@"/[1-9]\d*$", address));
            Assert.Contains(recorded, Host.Run("ceph", "-c", _ceph.ConfigPath!, "osd", "blocklist", "ls"), StringComparison.Ordinal);

            await b.AcquireAsync(Disk, "vm:web", ct);
            var late = await writer.RunAsync("write -P 0x62 0 4k", ct);
            Assert.Contains("failed", late, StringComparison.Ordinal);
            var volume = await (await b.GetPoolAsync("shared", ct)).GetVolumeAsync("disk", ct);
            Assert.True(Host.HasPattern(volume, 0x61, "0", "4k"), "the fenced client's late write reached the image");
            await b.ReleaseAsync(Disk, "vm:web", ct);
        }
        finally
        {
            foreach (var address in broken.SelectMany(holder => holder.ClientAddresses).Distinct())
            {
                Host.Run("ceph", "-c", _ceph.ConfigPath!, "osd", "blocklist", "rm", address);
            }
        }
    }

    [Fact(Timeout = 180_000)]
    public async Task A_client_the_holder_opens_after_its_lock_was_broken_is_fenced_by_the_holder_itself()
    {
        var ct = TestContext.Current.CancellationToken;
        var (a, b) = (await HostAsync("host-a", ct), await HostAsync("host-b", ct));
        await (await a.GetPoolAsync("shared", ct)).CreateVolumeAsync(new VolumeSpec("disk", 16L << 20), ct);
        await a.AcquireAsync(Disk, "vm:web", ct);
        using var first = QemuIo.Open($"rbd:{_cephPool}/disk:conf={_ceph.ConfigPath}:id=admin");
        Assert.Contains("wrote", await first.RunAsync("write -P 0x61 0 4k", ct), StringComparison.Ordinal);
        await WaitForRecordedClientAsync(b, ct);
        var before = BlocklistEntries();
        try
        {
            await b.BreakLockAsync(Disk, fence: true, ct);

            // Host A's process opens another client after the break: nobody recorded it, the breaker never saw it, and it
            // can write. Host A's recording (every 10 s) finds the lock gone and blocklists it.
            using var late = QemuIo.Open($"rbd:{_cephPool}/disk:conf={_ceph.ConfigPath}:id=admin");
            Assert.Contains("wrote", await late.RunAsync("write -P 0x62 0 4k", ct), StringComparison.Ordinal);
            var fencedAfter = System.Diagnostics.Stopwatch.StartNew();
            var lastWritten = 0x62;
            for (var pattern = 0x63; ; pattern = pattern == 0x7f ? 0x63 : pattern + 1)
            {
                if ((await late.RunAsync($"write -P {pattern} 0 4k", ct)).Contains("failed", StringComparison.Ordinal))
                {
                    break;
                }

                lastWritten = pattern;
                Assert.True(fencedAfter.Elapsed < TimeSpan.FromSeconds(40), "host A never fenced the client it opened after its lock was broken");
                await Task.Delay(500, ct);
            }

            Assert.Equal(2, BlocklistEntries().Except(before).Count());
            TestContext.Current.TestOutputHelper?.WriteLine($"the late client was fenced by its own host {fencedAfter.Elapsed.TotalSeconds:0.0} s after its first write");
            await b.AcquireAsync(Disk, "vm:web", ct);
            var volume = await (await b.GetPoolAsync("shared", ct)).GetVolumeAsync("disk", ct);
            Assert.True(Host.HasPattern(volume, lastWritten, "0", "4k"), "the image does not hold the late client's last write before it was fenced");
            await b.ReleaseAsync(Disk, "vm:web", ct);
        }
        finally
        {
            foreach (var address in BlocklistEntries().Except(before))
            {
                Host.Run("ceph", "-c", _ceph.ConfigPath!, "osd", "blocklist", "rm", address);
            }
        }
    }

    /// <summary>The addresses on the cluster's blocklist (<c>ceph osd blocklist ls</c>).</summary>
    private HashSet<string> BlocklistEntries() =>
        Host.Run("ceph", "-c", _ceph.ConfigPath!, "osd", "blocklist", "ls")
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => line.Split(' ')[0])
            .Where(address => address.Contains('/', StringComparison.Ordinal))
            .ToHashSet(StringComparer.Ordinal);

    /// <summary>Waits until host A's manager has recorded the writer's client (the image's watcher) for its lock.</summary>
    private static async Task<string> WaitForRecordedClientAsync(StorageManager observer, CancellationToken ct)
    {
        while (true)
        {
            var holder = Assert.Single(await observer.GetLockHoldersAsync(Disk, ct));
            if (holder.ClientAddresses.Count > 0)
            {
                return Assert.Single(holder.ClientAddresses);
            }

            await Task.Delay(50, ct);
        }
    }

    private async Task<StorageManager> HostAsync(string name, CancellationToken ct)
    {
        var manager = new StorageManager(new StorageOptions { StateDirectory = Path.Combine(_root, name) }, new System.IO.Abstractions.FileSystem(), new ProcessRunner(), host: new VirtHostIdentity(name));
        _managers.Add(manager);
        await manager.DefinePoolAsync(new RbdPoolDefinition("shared", Path.Combine(_root, name, "pool"), _ceph.ConfigPath!) { RbdPool = _cephPool }, ct);
        return manager;
    }

    public void Dispose()
    {
        foreach (var manager in _managers)
        {
            manager.Dispose();
        }

        _ceph.DeletePool(_cephPool);
        Directory.Delete(_root, recursive: true);
    }

    /// <summary>The address of the client holding the image's cross-host lock, as <c>rados lock info</c> reports it (without the messenger's prefix).</summary>
    private string LockerAddress()
    {
        using var image = System.Text.Json.JsonDocument.Parse(Host.Run("rbd", "-c", _ceph.ConfigPath!, "info", "--format", "json", $"{_cephPool}/disk"));
        var header = "rbd_header." + image.RootElement.GetProperty("id").GetString();
        using var info = System.Text.Json.JsonDocument.Parse(Host.Run("rados", "-c", _ceph.ConfigPath!, "-p", _cephPool, "lock", "info", header, "virt.host", "--format", "json"));
        var address = info.RootElement.GetProperty("lockers").EnumerateArray().Single().GetProperty("addr").GetString()!;
        return address.StartsWith("v1:", StringComparison.Ordinal) || address.StartsWith("v2:", StringComparison.Ordinal) ? address[3..] : address;
    }

    /// <summary>An interactive qemu-io on one image: a Ceph client that keeps the image open between commands.</summary>
    private sealed class QemuIo : IDisposable
    {
        private readonly Process _process;

        private QemuIo(Process process) => _process = process;

        public static QemuIo Open(string image)
        {
            var start = new ProcessStartInfo("qemu-io") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var argument in new[] { "-f", "raw", image })
            {
                start.ArgumentList.Add(argument);
            }

            return new QemuIo(Process.Start(start)!);
        }

        /// <summary>Runs one command and returns its report line (the line that says what became of the I/O).</summary>
        public async Task<string> RunAsync(string command, CancellationToken ct)
        {
            await _process.StandardInput.WriteLineAsync(command.AsMemory(), ct);
            await _process.StandardInput.FlushAsync(ct);
            while (await _process.StandardOutput.ReadLineAsync(ct) is { } line)
            {
                if (line.Contains("wrote", StringComparison.Ordinal) || line.Contains("read ", StringComparison.Ordinal) || line.Contains("failed", StringComparison.Ordinal))
                {
                    return line;
                }
            }

            return await _process.StandardError.ReadToEndAsync(ct);
        }

        public void Dispose()
        {
            _process.Kill();
            _process.WaitForExit();
            _process.Dispose();
        }
    }
}
