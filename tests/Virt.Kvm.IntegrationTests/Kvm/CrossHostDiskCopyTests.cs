using System.Globalization;
using System.Text.Json;
using Virt.Kvm.IntegrationTests.Infrastructure;
using Virt.Processes;
using Virt.Tests.Lab;
using Virt.VirtualMachines;

namespace Virt.Kvm.IntegrationTests.Kvm;

/// <summary>
/// Live migration between two SDK instances of a VM whose data disk is a qcow2 file on the source host only: the
/// destination creates a new image and exports it over NBD with TLS, the source mirrors the disk into it while the
/// guest writes, and the guest finds every write on the copy at its new host.
/// </summary>
[Collection(TestGuestCollection.Name)]
public sealed class CrossHostDiskCopyTests
{
    /// <summary>
    /// Writes counter i into sector i of the data disk (its own sector, so a lost write shows as a hole), and only once
    /// it is on the disk (fsync) into RAM, /tmp/last; runs until killed by the pid in /tmp/writer.pid.
    /// </summary>
    private const string Writer =
        "echo $$ > /tmp/writer.pid; i=1; while true; do echo $i | dd of=/dev/vda bs=512 seek=$i conv=sync,fsync 2>/dev/null && echo $i > /tmp/last; i=$((i+1)); done";

    /// <summary>Stops the writer, then reads back from the disk (not the page cache) every sector it reported written.</summary>
    private const string StopAndVerify =
        "kill $(cat /tmp/writer.pid); m=$(cat /tmp/last); sync; echo 3 > /proc/sys/vm/drop_caches; i=1; " +
        "while [ $i -le $m ]; do v=$(dd if=/dev/vda bs=512 skip=$i count=1 2>/dev/null | tr -d '\\000\\n'); [ \"$v\" = \"$i\" ] || { echo \"sector $i holds '$v'\"; exit 0; }; i=$((i+1)); done; echo ok $m";

    /// <summary>Bytes of data the guest puts on its disk before the migration, so that the copy takes a while.</summary>
    private const int CopiedData = 16 << 20;

    /// <summary>Sector 0 of the data disk as text, read from the disk.</summary>
    private const string ReadMarker = "sync; echo 3 > /proc/sys/vm/drop_caches; dd if=/dev/vda bs=512 count=1 2>/dev/null | tr -d '\\000'";

    [Fact(Timeout = 600_000)]
    public Task A_local_qcow2_disk_is_copied_over_TLS_with_the_writes_made_before_and_during_the_migration() =>
        OnTwoHostsAsync(async (a, b, image, ct) =>
        {
            var sourcePid = int.Parse(await a.RunAsync("start-disk", "carrier", image), CultureInfo.InvariantCulture);
            await a.ExecAsync("carrier", "/bin/sh", "-c", "printf before-migration | dd of=/dev/vda bs=512 conv=sync,fsync 2>/dev/null");

            // 16 MiB of data from 8 MiB on (clear of the writer's sectors): a copy that takes a while, reported as it goes.
            await a.ExecAsync("carrier", "/bin/sh", "-c", $"head -c {CopiedData} /dev/zero | tr '\\000' v | dd of=/dev/vda bs=1M seek=8 conv=fsync 2>/dev/null");
            await a.ExecAsync("carrier", "/bin/sh", "-c", $"({Writer}) >/dev/null 2>&1 </dev/null &");

            var sizes = await a.RunAsync("disk-sizes", "carrier");
            Assert.Equal("{\"data\":67108864}", sizes);
            var ticket = await b.RunAsync("prepare-disk", "carrier", TwoHosts.AddressB, b.TlsDirectory, "host-a", "600", image, sizes);
            var plan = Assert.Single(JsonSerializer.Deserialize<MigrationTicket>(ticket)!.Disks);
            Assert.Equal(("data", MigrationDiskTransfer.Copy), (plan.DiskId, plan.Transfer));
            Assert.StartsWith($"{TwoHosts.AddressB}:", plan.NbdAddress, StringComparison.Ordinal);
            var copy = Path.Combine(b.StateDirectory, "carrier", "disk-data.qcow2");
            Assert.True(File.Exists(copy), "host-b made no image for the copy");

            // The export is QEMU's NBD server behind the migration's TLS: a client without a certificate gets nothing.
            var intruder = await new ProcessRunner().RunAsync(new ProcessSpec("ip", ["netns", "exec", a.Namespace, "qemu-img", "info", $"nbd://{plan.NbdAddress}/{plan.ExportName}"]), ct);
            Assert.NotEqual(0, intruder.ExitCode);
            TestContext.Current.TestOutputHelper?.WriteLine($"NBD without TLS: {intruder.StandardError.Trim()}");

            // While RAM moves (the disk copy is ready by then), the guest on host-a keeps writing: note how far it got.
            var written = await a.ExecAsync("carrier", "/bin/sh", "-c", "cat /tmp/last 2>/dev/null || echo 0");
            var migration = a.Send("migrate", "carrier", ticket, a.TlsDirectory, "0", "delete-copied");
            var duringMigration = 0;
            var copyReports = new List<long>();
            Assert.Equal("completed", await a.FinishAsync(
                migration,
                async _ =>
                {
                    if (duringMigration == 0)
                    {
                        duringMigration = int.Parse(await a.ExecAsync("carrier", "/bin/cat", "/tmp/last"), CultureInfo.InvariantCulture);
                    }
                },
                copied =>
                {
                    copyReports.Add(copied);
                    return Task.CompletedTask;
                }));

            // The disk copy reported its progress before the RAM moved, in bytes of the disk, never going back.
            TestContext.Current.TestOutputHelper?.WriteLine($"disk copy reports (bytes): {string.Join(", ", copyReports)}");
            Assert.NotEmpty(copyReports);
            Assert.All(copyReports, copied => Assert.InRange(copied, 0, 64L << 20));
            Assert.Equal(copyReports.Order(), copyReports);

            await b.WaitForStateAsync("carrier", "Running", TimeSpan.FromSeconds(30));
            Assert.Equal("before-migration", await b.ExecAsync("carrier", "/bin/sh", "-c", ReadMarker));
            var verified = await b.ExecAsync("carrier", "/bin/sh", "-c", StopAndVerify);
            Assert.StartsWith("ok ", verified, StringComparison.Ordinal);
            var last = int.Parse(verified[3..].Trim(), CultureInfo.InvariantCulture);
            TestContext.Current.TestOutputHelper?.WriteLine($"counter: {written.Trim()} before the migration, {duringMigration} during it, {last} checked on host-b");
            Assert.True(duringMigration > int.Parse(written, CultureInfo.InvariantCulture), $"the guest wrote nothing while it migrated ({written.Trim()} → {duringMigration})");
            Assert.True(last >= duringMigration, $"host-b's copy ends at {last}, before {duringMigration} written on host-a");

            // The VM is host-b's, on its copy; host-a's QEMU ended and, as asked (delete-copied), its image went with it.
            Assert.Equal("absent", await a.StatusAsync("carrier"));
            Assert.True(Native.HasEnded(sourcePid), $"host-a's QEMU (pid {sourcePid}) still runs");
            Assert.False(File.Exists(image), "host-a kept the copied image although DeleteCopiedDisks was set");
            await b.RunAsync("delete", "carrier");
            Assert.False(File.Exists(copy), "host-b kept the VM's image after deleting it");
        }, TestContext.Current.CancellationToken);

    [Fact(Timeout = 600_000)]
    public Task A_volume_on_a_pool_only_its_host_reaches_is_copied_into_the_other_hosts_pool_of_that_name_and_back() =>
        OnTwoHostsAsync(async (a, b, _, _) =>
        {
            const string Volume = "local:roamer-data";
            await a.RunAsync("dir-pool", "local");
            await b.RunAsync("dir-pool", "local");
            await a.RunAsync("volume-create", "local", "roamer-data", (64L << 20).ToString(CultureInfo.InvariantCulture));
            await a.RunAsync("start-disk", "roamer", Volume);
            await a.ExecAsync("roamer", "/bin/sh", "-c", "printf on-a-volume | dd of=/dev/vda bs=512 conv=sync,fsync 2>/dev/null");

            // There and back, each time into the other host's pool 'local', the source's volume deleted as asked.
            foreach (var (from, to, toAddress, marker) in new[] { (a, b, TwoHosts.AddressB, "on-a-volume"), (b, a, TwoHosts.AddressA, "back-on-a") })
            {
                var sizes = await from.RunAsync("disk-sizes", "roamer");
                Assert.Equal("{\"data\":67108864}", sizes);
                var ticket = await to.RunAsync("prepare-disk", "roamer", toAddress, to.TlsDirectory, from.Name, "600", Volume, sizes);
                var plan = Assert.Single(JsonSerializer.Deserialize<MigrationTicket>(ticket)!.Disks);
                Assert.Equal(MigrationDiskTransfer.Copy, plan.Transfer);
                Assert.Equal("yes", await to.RunAsync("volume-exists", "local", "roamer-data"));

                Assert.Equal("completed", await from.FinishAsync(from.Send("migrate", "roamer", ticket, from.TlsDirectory, "0", "delete-copied"), onProgress: null));
                await to.WaitForStateAsync("roamer", "Running", TimeSpan.FromSeconds(30));
                Assert.Equal(marker, await to.ExecAsync("roamer", "/bin/sh", "-c", ReadMarker));
                Assert.Equal("absent", await from.StatusAsync("roamer"));
                Assert.Equal("no", await from.RunAsync("volume-exists", "local", "roamer-data"));
                await to.ExecAsync("roamer", "/bin/sh", "-c", "printf back-on-a | dd of=/dev/vda bs=512 conv=sync,fsync 2>/dev/null");
            }

            await a.RunAsync("delete", "roamer");
        }, TestContext.Current.CancellationToken);

    [Fact(Timeout = 600_000)]
    public Task A_destination_QEMU_killed_during_the_copy_leaves_the_VM_on_its_volume_at_the_source_and_nothing_at_the_destination() =>
        OnTwoHostsAsync(async (a, b, _, _) =>
        {
            const string Volume = "local:keeper-data";
            await a.RunAsync("dir-pool", "local");
            await b.RunAsync("dir-pool", "local");
            await a.RunAsync("volume-create", "local", "keeper-data", (64L << 20).ToString(CultureInfo.InvariantCulture));
            var pid = await a.RunAsync("start-disk", "keeper", Volume);
            await a.ExecAsync("keeper", "/bin/sh", "-c", "printf kept | dd of=/dev/vda bs=512 conv=sync,fsync 2>/dev/null");
            await a.ExecAsync("keeper", "/bin/sh", "-c", $"head -c {CopiedData} /dev/zero | tr '\\000' v | dd of=/dev/vda bs=1M seek=8 conv=fsync 2>/dev/null");
            var sizes = await a.RunAsync("disk-sizes", "keeper");
            var ticket = await b.RunAsync("prepare-disk", "keeper", TwoHosts.AddressB, b.TlsDirectory, "host-a", "600", Volume, sizes);
            var destinationPid = int.Parse((await b.StatusAsync("keeper")).Split(' ')[1], CultureInfo.InvariantCulture);
            Assert.Equal("yes", await b.RunAsync("volume-exists", "local", "keeper-data"));

            // host-b's QEMU dies at the first report: while the disk is copied into its export, or RAM has just begun to move (1 MiB/s).
            var killed = false;
            Task KillDestination(long _)
            {
                if (!killed)
                {
                    killed = true;
                    System.Diagnostics.Process.GetProcessById(destinationPid).Kill();
                }

                return Task.CompletedTask;
            }

            var migration = a.Send("migrate", "keeper", ticket, a.TlsDirectory, (1024 * 1024).ToString(CultureInfo.InvariantCulture), "delete-copied");
            var failed = await Assert.ThrowsAsync<HostCommandException>(() => a.FinishAsync(migration, KillDestination, KillDestination));
            TestContext.Current.TestOutputHelper?.WriteLine($"the migration failed: {failed.Message}");
            Assert.True(killed, "the migration reported nothing before it ended");

            // host-a runs on, on its own volume; host-b forgot the VM and deleted the volume it made for the copy.
            Assert.Equal($"Running {pid}", await a.StatusAsync("keeper"));
            Assert.Equal("kept", await a.ExecAsync("keeper", "/bin/sh", "-c", ReadMarker));
            Assert.Equal("yes", await a.RunAsync("volume-exists", "local", "keeper-data"));
            await b.WaitUntilAbsentAsync("keeper", TimeSpan.FromSeconds(60));
            Assert.Equal("no", await b.RunAsync("volume-exists", "local", "keeper-data"));
            await a.RunAsync("delete", "keeper");
        }, TestContext.Current.CancellationToken);

    [Fact(Timeout = 600_000)]
    public Task A_cancelled_copy_leaves_the_VM_on_its_own_disk_at_the_source_and_nothing_at_the_destination_and_a_retry_completes() =>
        OnTwoHostsAsync(async (a, b, image, _) =>
        {
            var pid = await a.RunAsync("start-disk", "keeper", image);
            await a.ExecAsync("keeper", "/bin/sh", "-c", "printf kept | dd of=/dev/vda bs=512 conv=sync,fsync 2>/dev/null");
            var sizes = await a.RunAsync("disk-sizes", "keeper");

            // Cancelled once RAM moves (1 MiB/s cannot move 256 MiB quickly), i.e. with the disk copy running and ready.
            var ticket = await b.RunAsync("prepare-disk", "keeper", TwoHosts.AddressB, b.TlsDirectory, "host-a", "600", image, sizes);
            var destinationPid = int.Parse((await b.StatusAsync("keeper")).Split(' ')[1], CultureInfo.InvariantCulture);
            var migration = a.Send("migrate", "keeper", ticket, a.TlsDirectory, (1024 * 1024).ToString(CultureInfo.InvariantCulture));
            var cancelled = await Assert.ThrowsAsync<HostCommandException>(() => a.FinishAsync(migration, async transferred =>
            {
                if (transferred > 0)
                {
                    await a.RunAsync("cancel", migration);
                }
            }));
            Assert.Contains("Canceled", cancelled.Message, StringComparison.Ordinal);

            // host-a runs on, on its own image, which it still writes; host-b has no VM, no image, no QEMU.
            Assert.Equal($"Running {pid}", await a.StatusAsync("keeper"));
            Assert.True(File.Exists(image), "host-a lost its image");
            Assert.Equal("kept", await a.ExecAsync("keeper", "/bin/sh", "-c", ReadMarker));
            await a.ExecAsync("keeper", "/bin/sh", "-c", "printf after-cancel | dd of=/dev/vda bs=512 conv=sync,fsync 2>/dev/null");
            Assert.Equal("after-cancel", await a.ExecAsync("keeper", "/bin/sh", "-c", ReadMarker));
            await b.WaitUntilAbsentAsync("keeper", TimeSpan.FromSeconds(60));
            Assert.True(Native.HasEnded(destinationPid), $"host-b's QEMU (pid {destinationPid}) still runs");

            // An application that stops enumerating at the first report (no cancellation, the enumerator only disposed):
            // the migration is taken back all the same, and host-b's waiting VM goes with a delete (or by itself, when the
            // stream had started and broke).
            ticket = await b.RunAsync("prepare-disk", "keeper", TwoHosts.AddressB, b.TlsDirectory, "host-a", "600", image, sizes);
            var abandonedAt = await a.RunAsync("migrate-abandon", "keeper", ticket, a.TlsDirectory, "0");
            TestContext.Current.TestOutputHelper?.WriteLine($"abandoned at: {abandonedAt}");
            Assert.NotEqual("completed", abandonedAt);
            Assert.Equal($"Running {pid}", await a.StatusAsync("keeper"));
            try
            {
                await b.RunAsync("delete", "keeper");
            }
            catch (HostCommandException)
            {
                // Already gone: the broken stream took it.
            }

            await b.WaitUntilAbsentAsync("keeper", TimeSpan.FromSeconds(60));

            // Nothing of the first attempts is left on host-a (a leftover mirror node, job or TLS object would refuse the
            // same names): a last attempt copies the disk and completes; host-a keeps its image, as by default.
            ticket = await b.RunAsync("prepare-disk", "keeper", TwoHosts.AddressB, b.TlsDirectory, "host-a", "600", image, sizes);
            Assert.Equal("completed", await a.RunAsync("migrate", "keeper", ticket, a.TlsDirectory, "0"));
            await b.WaitForStateAsync("keeper", "Running", TimeSpan.FromSeconds(30));
            Assert.Equal("after-cancel", await b.ExecAsync("keeper", "/bin/sh", "-c", ReadMarker));
            Assert.True(File.Exists(image), "host-a removed its image although DeleteCopiedDisks was not set");
            await b.RunAsync("delete", "keeper");
        }, TestContext.Current.CancellationToken);

    [Fact(Timeout = 600_000)]
    public async Task A_receive_whose_process_and_QEMU_died_before_the_VM_arrived_is_discarded_with_its_volume_by_the_next_manager()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var hosts = await TwoHosts.CreateAsync(ct);
        const string Volume = "local:orphan-data";
        var (pid, sizes, _, destinationPid) = await ReadyToReceiveOnBAsync(hosts, "orphan", "orphan-data");

        // host-b dies before anything was sent: its process first, then its QEMU, which no manager watches end.
        await hosts.RestartBAfterKillAsync(async () =>
        {
            using (var qemu = System.Diagnostics.Process.GetProcessById(destinationPid))
            {
                qemu.Kill();
            }

            for (var waited = 0; !Native.HasEnded(destinationPid) && waited < 300; waited++)
            {
                await Task.Delay(100, ct);
            }
        });

        // The next manager on host-b finds a receive that never arrived: it discards it, with the volume made for the
        // copy, rather than keep a stopped VM on an empty (or partial) copy that a start would boot.
        Assert.Equal("absent", await hosts.B.StatusAsync("orphan"));
        Assert.Equal("no", await hosts.B.RunAsync("volume-exists", "local", "orphan-data"));
        Assert.False(Directory.Exists(Path.Combine(hosts.B.StateDirectory, "orphan")), "host-b kept the VM's directory");

        // host-a runs on, and nothing left on host-b refuses the next migration (the VM's name, the volume's name).
        Assert.Equal($"Running {pid}", await hosts.A.StatusAsync("orphan"));
        var ticket = await hosts.B.RunAsync("prepare-disk", "orphan", TwoHosts.AddressB, hosts.B.TlsDirectory, "host-a", "600", Volume, sizes);
        Assert.Equal("completed", await hosts.A.RunAsync("migrate", "orphan", ticket, hosts.A.TlsDirectory, "0", "delete-copied"));
        await hosts.B.WaitForStateAsync("orphan", "Running", TimeSpan.FromSeconds(30));
        Assert.Equal("kept", await hosts.B.ExecAsync("orphan", "/bin/sh", "-c", ReadMarker));
        await hosts.B.RunAsync("delete", "orphan");
    }

    [Fact(Timeout = 600_000)]
    public async Task A_receive_whose_process_and_QEMU_died_after_the_stream_began_is_kept_refuses_to_start_and_goes_with_its_volume_on_delete()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var hosts = await TwoHosts.CreateAsync(ct);
        var (pid, _, ticket, destinationPid) = await ReadyToReceiveOnBAsync(hosts, "midway", "midway-data");
        var hostB = hosts.B;

        // Once RAM moves (1 MiB/s: the stream is QEMU's by then), host-b dies: its process, then its QEMU.
        var killed = false;
        async Task KillHostB(long transferred)
        {
            if (transferred > 0 && !killed)
            {
                killed = true;
                await hostB.KillAsync();
                using var qemu = System.Diagnostics.Process.GetProcessById(destinationPid);
                qemu.Kill();
            }
        }

        var migration = hosts.A.Send("migrate", "midway", ticket, hosts.A.TlsDirectory, (1024 * 1024).ToString(CultureInfo.InvariantCulture), "delete-copied");
        await Assert.ThrowsAsync<HostCommandException>(() => hosts.A.FinishAsync(migration, KillHostB));
        Assert.True(killed, "the migration reported no RAM moving before it ended");
        Assert.Equal($"Running {pid}", await hosts.A.StatusAsync("midway"));
        for (var waited = 0; !Native.HasEnded(destinationPid) && waited < 300; waited++)
        {
            await Task.Delay(100, ct);
        }

        // The next manager on host-b cannot know how far the stream got: it keeps the VM, stopped, with its volume, and
        // refuses to start it (its disk may be a partial copy), saying what to do.
        await hosts.RestartBAfterKillAsync(() => Task.CompletedTask);
        Assert.Equal("Stopped -", await hosts.B.StatusAsync("midway"));
        Assert.Equal("yes", await hosts.B.RunAsync("volume-exists", "local", "midway-data"));
        var refused = await Assert.ThrowsAsync<HostCommandException>(() => hosts.B.RunAsync("start-defined", "midway"));
        Assert.Contains("may be a partial copy", refused.Message, StringComparison.Ordinal);
        Assert.Contains("host-a", refused.Message, StringComparison.Ordinal);

        // The VM runs on host-a, so host-b's copy is deleted, with the volume made for it.
        await hosts.B.RunAsync("delete", "midway");
        Assert.Equal("absent", await hosts.B.StatusAsync("midway"));
        Assert.Equal("no", await hosts.B.RunAsync("volume-exists", "local", "midway-data"));
        Assert.Equal("kept", await hosts.A.ExecAsync("midway", "/bin/sh", "-c", ReadMarker));
        await hosts.A.RunAsync("delete", "midway");
    }

    /// <summary>
    /// Host-a runs <paramref name="vm"/> on its dir-pool volume <c>local:<paramref name="volume"/></c> with "kept" in its
    /// first sector; host-b (a pool "local" too) is ready to receive it, the volume for the copy made.
    /// </summary>
    /// <returns>Host-a's status of the VM, the disk sizes, host-b's ticket, and host-b's waiting QEMU's pid.</returns>
    private static async Task<(string Pid, string Sizes, string Ticket, int DestinationPid)> ReadyToReceiveOnBAsync(TwoHosts hosts, string vm, string volume)
    {
        await hosts.A.RunAsync("dir-pool", "local");
        await hosts.B.RunAsync("dir-pool", "local");
        await hosts.A.RunAsync("volume-create", "local", volume, (64L << 20).ToString(CultureInfo.InvariantCulture));
        var pid = await hosts.A.RunAsync("start-disk", vm, "local:" + volume);
        await hosts.A.ExecAsync(vm, "/bin/sh", "-c", "printf kept | dd of=/dev/vda bs=512 conv=sync,fsync 2>/dev/null");
        var sizes = await hosts.A.RunAsync("disk-sizes", vm);
        var ticket = await hosts.B.RunAsync("prepare-disk", vm, TwoHosts.AddressB, hosts.B.TlsDirectory, "host-a", "600", "local:" + volume, sizes);
        var destinationPid = int.Parse((await hosts.B.StatusAsync(vm)).Split(' ')[1], CultureInfo.InvariantCulture);
        Assert.Equal("yes", await hosts.B.RunAsync("volume-exists", "local", volume));
        return (pid, sizes, ticket, destinationPid);
    }

    /// <summary>Runs <paramref name="test"/> on two fresh hosts with the path for host-a's image in a directory removed afterwards.</summary>
    private static async Task OnTwoHostsAsync(Func<LabHost, LabHost, string, CancellationToken, Task> test, CancellationToken cancellationToken)
    {
        await using var hosts = await TwoHosts.CreateAsync(cancellationToken);
        var images = Directory.CreateTempSubdirectory("virt-copy-");
        try
        {
            await test(hosts.A, hosts.B, Path.Combine(images.FullName, "data.qcow2"), cancellationToken);
        }
        finally
        {
            images.Delete(recursive: true);
        }
    }
}
