using System.Text.Json;
using Virt.Kvm.IntegrationTests.Infrastructure;
using Virt.Tests.Lab;
using Virt.VirtualMachines;

namespace Virt.Kvm.IntegrationTests.Kvm;

/// <summary>
/// Live migration between two SDK instances (two managers in two processes, two network namespaces joined by a veth
/// link, TLS with a test CA): the destination prepares and hands out a ticket, the source migrates to it.
/// </summary>
[Collection(TestGuestCollection.Name)]
public sealed class CrossHostMigrationTests
{
    private const string BootId = "/proc/sys/kernel/random/boot_id";

    [Fact(Timeout = 600_000)]
    public async Task The_guest_moves_to_the_other_host_over_TLS_keeps_its_boot_id_and_RAM_and_comes_back()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var hosts = await TwoHosts.CreateAsync(ct);
        var (a, b) = (hosts.A, hosts.B);
        var sourcePid = int.Parse(await a.RunAsync("start", "roamer"), System.Globalization.CultureInfo.InvariantCulture);
        var bootId = await a.ExecAsync("roamer", "/bin/cat", BootId);
        await a.ExecAsync("roamer", "/bin/sh", "-c", "echo in-ram > /tmp/marker");

        var ticket = await b.RunAsync("prepare", "roamer", TwoHosts.AddressB, b.TlsDirectory, "host-a", "600", "default");
        Assert.StartsWith("Incoming ", await b.StatusAsync("roamer"), StringComparison.Ordinal);
        var parsed = JsonSerializer.Deserialize<MigrationTicket>(ticket)!;
        Assert.Equal(("host-b", MigrationSecurity.Tls), (parsed.DestinationHost, parsed.Security));
        Assert.StartsWith($"{TwoHosts.AddressB}:", parsed.Address, StringComparison.Ordinal);
        Assert.StartsWith("pc-q35-", parsed.MachineType, StringComparison.Ordinal);

        Assert.Equal("completed", await a.RunAsync("migrate", "roamer", ticket, a.TlsDirectory, "0"));

        var arrivedPid = await b.WaitForStateAsync("roamer", "Running", TimeSpan.FromSeconds(30));
        Assert.Equal(bootId, await b.ExecAsync("roamer", "/bin/cat", BootId));
        Assert.Equal("in-ram\n", await b.ExecAsync("roamer", "/bin/cat", "/tmp/marker"));
        Assert.Equal("absent", await a.StatusAsync("roamer"));
        Assert.False(Directory.Exists(Path.Combine(a.StateDirectory, "roamer")), "host-a kept the VM's record");
        Assert.True(Native.HasEnded(sourcePid), $"host-a's QEMU (pid {sourcePid}) still runs");

        // host-b's application restarts: its new manager re-attaches the VM like any running one.
        await hosts.RestartBAsync();
        b = hosts.B;
        Assert.Equal($"Running {arrivedPid}", await b.StatusAsync("roamer"));
        Assert.Equal(bootId, await b.ExecAsync("roamer", "/bin/cat", BootId));

        // And back to host-a.
        var back = await a.RunAsync("prepare", "roamer", TwoHosts.AddressA, a.TlsDirectory, "host-b", "600", "default");
        Assert.Equal("completed", await b.RunAsync("migrate", "roamer", back, b.TlsDirectory, "0"));
        await a.WaitForStateAsync("roamer", "Running", TimeSpan.FromSeconds(30));
        Assert.Equal(bootId, await a.ExecAsync("roamer", "/bin/cat", BootId));
        Assert.Equal("in-ram\n", await a.ExecAsync("roamer", "/bin/cat", "/tmp/marker"));
        Assert.Equal("absent", await b.StatusAsync("roamer"));
        Assert.True(Native.HasEnded(int.Parse(arrivedPid, System.Globalization.CultureInfo.InvariantCulture)), "host-b's QEMU still runs");

        // A VM that arrived over TLS carries no TLS setting into its next migration: a same-host one, in clear text
        // on a unix socket, works (it failed with "Expected TLS credentials for a client endpoint" before).
        Assert.StartsWith("completed ", await a.RunAsync("migrate-local", "roamer"), StringComparison.Ordinal);
        Assert.Equal(bootId, await a.ExecAsync("roamer", "/bin/cat", BootId));
        await a.RunAsync("delete", "roamer");
    }

    [Fact(Timeout = 600_000)]
    public async Task A_cancelled_migration_or_a_destination_that_dies_leaves_the_VM_running_on_the_source_and_nothing_on_the_destination()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var hosts = await TwoHosts.CreateAsync(ct);
        var (a, b) = (hosts.A, hosts.B);
        var pid = await a.RunAsync("start", "stayer");

        // Cancelled by the source's caller once the stream runs (1 MiB/s cannot move 256 MiB quickly).
        var ticket = await b.RunAsync("prepare", "stayer", TwoHosts.AddressB, b.TlsDirectory, "host-a", "600", "default");
        var migration = a.Send("migrate", "stayer", ticket, a.TlsDirectory, (1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture));
        var cancelled = await Assert.ThrowsAsync<HostCommandException>(() => a.FinishAsync(migration, async transferred =>
        {
            if (transferred > 0)
            {
                await a.RunAsync("cancel", migration);
            }
        }));
        Assert.Contains("Canceled", cancelled.Message, StringComparison.Ordinal);
        Assert.Equal($"Running {pid}", await a.StatusAsync("stayer"));
        await b.WaitUntilAbsentAsync("stayer", TimeSpan.FromSeconds(60));

        // The destination's QEMU is killed while the stream runs.
        ticket = await b.RunAsync("prepare", "stayer", TwoHosts.AddressB, b.TlsDirectory, "host-a", "600", "default");
        var destinationPid = int.Parse((await b.StatusAsync("stayer")).Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        migration = a.Send("migrate", "stayer", ticket, a.TlsDirectory, (1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture));
        var broken = await Assert.ThrowsAsync<HostCommandException>(() => a.FinishAsync(migration, transferred =>
        {
            if (transferred > 0 && !Native.HasEnded(destinationPid))
            {
                System.Diagnostics.Process.GetProcessById(destinationPid).Kill();
            }

            return Task.CompletedTask;
        }));
        Assert.Contains("VmMigrationException", broken.Message, StringComparison.Ordinal);
        Assert.Equal($"Running {pid}", await a.StatusAsync("stayer"));
        await b.WaitUntilAbsentAsync("stayer", TimeSpan.FromSeconds(60));
        Assert.NotEmpty(await a.ExecAsync("stayer", "/bin/cat", BootId));
        await a.RunAsync("delete", "stayer");
    }

    [Fact(Timeout = 600_000)]
    public async Task A_wrong_token_an_expired_ticket_another_machine_type_another_source_host_or_a_host_device_is_refused_and_leaves_nothing()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var hosts = await TwoHosts.CreateAsync(ct);
        var (a, b) = (hosts.A, hosts.B);
        var pid = await a.RunAsync("start", "picky");

        // A wrong token: the gate refuses it and says so; the destination keeps waiting for the right one.
        var ticket = JsonSerializer.Deserialize<MigrationTicket>(await b.RunAsync("prepare", "picky", TwoHosts.AddressB, b.TlsDirectory, "host-a", "600", "default"))!;
        var forged = JsonSerializer.Serialize(ticket with { Token = "not-the-token" });
        var wrong = await Assert.ThrowsAsync<HostCommandException>(() => a.RunAsync("migrate", "picky", forged, a.TlsDirectory, "0"));
        Assert.Contains("refused the ticket: wrong token", wrong.Message, StringComparison.Ordinal);
        Assert.StartsWith("Incoming ", await b.StatusAsync("picky"), StringComparison.Ordinal);
        await b.RunAsync("delete", "picky");
        await b.WaitUntilAbsentAsync("picky", TimeSpan.FromSeconds(30));

        // An expired ticket: the destination removes what it prepared; the source refuses before anything moves.
        var expiring = await b.RunAsync("prepare", "picky", TwoHosts.AddressB, b.TlsDirectory, "host-a", "2", "default");
        await b.WaitUntilAbsentAsync("picky", TimeSpan.FromSeconds(60));
        var expired = await Assert.ThrowsAsync<HostCommandException>(() => a.RunAsync("migrate", "picky", expiring, a.TlsDirectory, "0"));
        Assert.Contains("expired", expired.Message, StringComparison.Ordinal);

        // Another machine type: refused by the source's check.
        var pc = await b.RunAsync("prepare", "picky", TwoHosts.AddressB, b.TlsDirectory, "host-a", "600", "pc");
        var mismatch = await Assert.ThrowsAsync<HostCommandException>(() => a.RunAsync("migrate", "picky", pc, a.TlsDirectory, "0"));
        Assert.Contains("machine types differ", mismatch.Message, StringComparison.Ordinal);
        await b.RunAsync("delete", "picky");
        await b.WaitUntilAbsentAsync("picky", TimeSpan.FromSeconds(30));

        // TLS admits only the named source host's certificate: host-a's, signed by the same CA, is turned away
        // by the destination QEMU, whose failed stream ends it.
        var forAnotherHost = await b.RunAsync("prepare", "picky", TwoHosts.AddressB, b.TlsDirectory, "host-c", "600", "default");
        var notAdmitted = await Assert.ThrowsAsync<HostCommandException>(() => a.RunAsync("migrate", "picky", forAnotherHost, a.TlsDirectory, "0"));
        Assert.Contains("VmMigrationException", notAdmitted.Message, StringComparison.Ordinal);
        await b.WaitUntilAbsentAsync("picky", TimeSpan.FromSeconds(90));

        // A host device: the destination refuses to prepare at all.
        var device = await Assert.ThrowsAsync<HostCommandException>(() => b.RunAsync("prepare", "picky", TwoHosts.AddressB, b.TlsDirectory, "host-a", "600", "hostdev"));
        Assert.Contains("host devices", device.Message, StringComparison.Ordinal);
        await b.WaitUntilAbsentAsync("picky", TimeSpan.FromSeconds(30));

        Assert.Equal($"Running {pid}", await a.StatusAsync("picky"));
        Assert.Empty(Directory.GetDirectories(b.StateDirectory));
        await a.RunAsync("delete", "picky");
    }
}
