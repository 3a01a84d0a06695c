using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Virt.Kvm.Testing;
using Virt.Tests.Lab;

namespace Virt.Panel.Tests;

/// <summary>
/// Two real panels, each a host: its own process, state directory, host name and certificate (from the lab's test
/// CA, serving its HTTPS too), in its own network namespace of a <see cref="HostLab"/>. The test, in the root
/// namespace, reaches them over the lab's root link (203.0.113.254 to 203.0.113.1 and .2: not 192.0.2.0/24, where
/// some runners' own network is) and moves the test
/// guest from host-a to host-b with the panel's migrate-to and back, and drives virtctl's <c>vm migrate --to</c> at the
/// other panel from each host's shell (a wrong token; the way back for a VM that another process, the panel, owns).
/// </summary>
public sealed partial class PanelMigrationBetweenHostsTests : IDisposable
{
    private const string HostToken = "0123456789abcdef0123456789abcdef-lab-hosts";
    private const string BootId = "/proc/sys/kernel/random/boot_id";
    private const int PanelPort = 8006;
    private readonly string _scratch = Directory.CreateTempSubdirectory("virt-panel-hosts-").FullName;

    public void Dispose() => Directory.Delete(_scratch, recursive: true);

    [Fact(Timeout = 600_000)]
    public async Task The_guest_moves_between_two_panels_over_TLS_and_back_with_virtctl_keeping_its_boot_id_and_a_refusal_leaves_nothing_behind()
    {
        var ct = TestContext.Current.CancellationToken;
        var guest = EmbeddedGuest.DefaultDirectory;
        Assert.SkipWhen(!File.Exists(Path.Combine(guest, "vmlinux")) && Environment.GetEnvironmentVariable("CI") != "true", $"the test guest is not built in {guest} (scripts/build-guest.sh)");
        var token = SecretFile("host-token", HostToken);
        var wrongToken = SecretFile("wrong-token", "not-this-set-of-hosts-not-this-set-of-hosts");

        await using var hosts = await TwoPanels.StartAsync("virt-panel", token, ct);
        var (lab, a, b, panelA, panelB, apiA, apiB) = (hosts.Lab, hosts.A, hosts.B, hosts.PanelA, hosts.PanelB, hosts.ApiA, hosts.ApiB);

        (await apiA.PostAsJsonAsync("/api/vms", new { name = "roamer", memoryMiB = 128 }, ct)).EnsureSuccessStatusCode();
        AssertCompleted(await PanelHostToHostTests.FinishedTaskAsync(apiA, await apiA.PostAsync("/api/vms/roamer/start", null, ct), ct), panelA, panelB);
        var bootId = await GuestBootIdAsync(apiA, ct);

        // virtctl on host-a (the operator's shell there, on the panel's state) with a token of another set of hosts:
        // host-b's panel refuses, naming itself, and nothing is left there; the VM runs on at host-a.
        var refused = await VirtctlInAsync(lab, a, panelA, ct, "vm", "migrate", "roamer", "--to", panelB.Address.ToString(), "--token-file", wrongToken, "--tls-dir", a.TlsDirectory, "--host-name", a.Name);
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains($"the panel at {panelB.Address} refused to receive VM 'roamer' (401)", refused.Error + refused.Output, StringComparison.Ordinal);
        Assert.Empty(await apiB.GetFromJsonAsync<JsonElement[]>("/api/vms", ct) ?? []);
        Assert.Equal("Running", await StateAsync(apiA, "roamer", ct));

        // What crosses into host-b from host-a, apart from the panel's own HTTPS: TLS records, and no QEMU stream in clear.
        await WatchMigrationStreamsAsync(lab, b.Name, a.Address, b.Address);

        var moved = await PanelHostToHostTests.FinishedTaskAsync(apiA, await apiA.PostAsJsonAsync("/api/vms/roamer/migrate-to", new { destination = panelB.Address.ToString() }, ct), ct);
        AssertCompleted(moved, panelA, panelB);
        await WaitUntilRunningAsync(apiB, "roamer", ct);
        Assert.Null(await StateAsync(apiA, "roamer", ct));
        Assert.Equal(bootId, await GuestBootIdAsync(apiB, ct));
        var (tlsRecords, clearStreams) = await MigrationStreamsSeenAsync(lab, b.Name);
        Assert.True(tlsRecords > 0, $"no TLS record crossed from {a.Address} to {b.Address} outside the panel's port");
        Assert.Equal(0, clearStreams);

        // virtctl on host-b (an operator's shell there, on the panel's state) migrates the VM that host-b's panel owns back
        // to host-a: it drives QEMU through the control monitor; host-b's panel, which watches QEMU, sees it end as migrated
        // and lets go of it. The same guest runs on at host-a, and nothing of it is left on host-b.
        var back = await VirtctlInAsync(lab, b, panelB, ct, "vm", "migrate", "roamer", "--to", panelA.Address.ToString(), "--token-file", token, "--tls-dir", b.TlsDirectory, "--host-name", b.Name);
        Assert.True(back.ExitCode == 0, $"virtctl on host-b did not migrate the VM its panel owns: {back.Error}{back.Output}");
        await WaitUntilRunningAsync(apiA, "roamer", ct);
        Assert.Null(await StateAsync(apiB, "roamer", ct));
        Assert.False(Directory.Exists(Path.Combine(panelB.State, "vms", "roamer")), "host-b still has the VM's directory after virtctl migrated it away");
        Assert.Equal(bootId, await GuestBootIdAsync(apiA, ct));
    }

    [Fact(Timeout = 600_000)]
    public async Task A_VM_with_a_data_disk_on_a_dir_pool_moves_between_two_panels_with_its_data_and_host_a_deletes_its_copy()
    {
        var ct = TestContext.Current.CancellationToken;
        var guest = EmbeddedGuest.DefaultDirectory;
        Assert.SkipWhen(!File.Exists(Path.Combine(guest, "vmlinux")) && Environment.GetEnvironmentVariable("CI") != "true", $"the test guest is not built in {guest} (scripts/build-guest.sh)");
        var token = SecretFile("host-token", HostToken);
        await using var hosts = await TwoPanels.StartAsync("virt-pdisk", token, ct);
        var (lab, a, b, panelA, panelB, apiA, apiB) = (hosts.Lab, hosts.A, hosts.B, hosts.PanelA, hosts.PanelB, hosts.ApiA, hosts.ApiB);

        // Each host's pool 'local', defined from its shell (virtctl on the panel's state); the volume on host-a only.
        foreach (var (machine, panel) in new[] { (a, panelA), (b, panelB) })
        {
            var defined = await VirtctlInAsync(lab, machine, panel, ct, "storage", "define", "local", "--path", Path.Combine(panel.State, "pool-local"));
            Assert.True(defined.ExitCode == 0, $"virtctl storage define on {machine.Name}: {defined.Error}{defined.Output}");
        }

        (await apiA.PostAsJsonAsync("/api/storage/pools/local/volumes", new { name = "carrier-data", sizeBytes = 64L << 20 }, ct)).EnsureSuccessStatusCode();
        (await apiA.PostAsJsonAsync("/api/vms", new { name = "carrier", memoryMiB = 128, disk = "local:carrier-data" }, ct)).EnsureSuccessStatusCode();
        AssertCompleted(await PanelHostToHostTests.FinishedTaskAsync(apiA, await apiA.PostAsync("/api/vms/carrier/start", null, ct), ct), panelA, panelB);
        await GuestExecAsync(apiA, "carrier", ["/bin/sh", "-c", "printf carried-by-panels | dd of=/dev/vda bs=512 conv=sync,fsync 2>/dev/null"], ct);

        var moved = await PanelHostToHostTests.FinishedTaskAsync(apiA, await apiA.PostAsJsonAsync("/api/vms/carrier/migrate-to", new { destination = panelB.Address.ToString() }, ct), ct);
        AssertCompleted(moved, panelA, panelB);
        await WaitUntilRunningAsync(apiB, "carrier", ct);
        Assert.Equal("carried-by-panels", await GuestExecAsync(apiB, "carrier", ["/bin/sh", "-c", "sync; echo 3 > /proc/sys/vm/drop_caches; dd if=/dev/vda bs=512 count=1 2>/dev/null | tr -d '\\000'"], ct));
        Assert.Null(await StateAsync(apiA, "carrier", ct));
        Assert.Equal(["local:carrier-data"], await VolumesAsync(apiB, ct));
        Assert.Empty(await VolumesAsync(apiA, ct));
    }

    /// <summary>The ids of the volumes of pool 'local' on a panel.</summary>
    private static async Task<string[]> VolumesAsync(HttpClient api, CancellationToken ct) =>
        [.. (await api.GetFromJsonAsync<JsonElement[]>("/api/storage/pools/local/volumes", ct) ?? []).Select(volume => volume.GetProperty("id").GetString()!)];

    /// <summary>Runs a command in the guest through the panel's guest-agent exec, waiting for the agent; its standard output.</summary>
    private static async Task<string> GuestExecAsync(HttpClient api, string vm, string[] command, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow.AddMinutes(3);
        while (true)
        {
            using var response = await api.PostAsJsonAsync($"/api/vms/{vm}/exec", new { command }, ct);
            var body = await response.Content.ReadAsStringAsync(ct);
            if (response.IsSuccessStatusCode)
            {
                var result = JsonDocument.Parse(body).RootElement;
                Assert.True(result.GetProperty("exitCode").GetInt32() == 0, $"{string.Join(' ', command)} in {vm}: {body}");
                return result.GetProperty("stdout").GetString()!.Trim();
            }

            Assert.True(DateTime.UtcNow < deadline, $"the guest agent of {vm} did not answer: {(int)response.StatusCode} {body}");
            await Task.Delay(500, ct);
        }
    }

    /// <summary>Two lab hosts, each with its panel (the other's its peer) and an API client of it; disposed in reverse.</summary>
    private sealed record TwoPanels(HostLab Lab, LabMachine A, LabMachine B, PanelProcess PanelA, PanelProcess PanelB, HttpClient ApiA, HttpClient ApiB) : IAsyncDisposable
    {
        public static async Task<TwoPanels> StartAsync(string namespacePrefix, string tokenFile, CancellationToken ct)
        {
            var lab = await HostLab.CreateAsync(
                ["host-a", "host-b"],
                new HostLabOptions { QemuBinary = "qemu-system-x86_64", GuestDirectory = EmbeddedGuest.DefaultDirectory, NamespacePrefix = namespacePrefix, WithRootLink = true, Subnet = HostLab.RootLinkSubnet, StartHostAgents = false },
                ct);
            PanelProcess? panelA = null;
            try
            {
                var (a, b) = (lab.Machines[0], lab.Machines[1]);
                panelA = await StartPanelAsync(lab, a, b, tokenFile, ct);
                var panelB = await StartPanelAsync(lab, b, a, tokenFile, ct);
                return new TwoPanels(lab, a, b, panelA, panelB, panelA.Api(), panelB.Api());
            }
            catch
            {
                if (panelA is not null)
                {
                    await panelA.DisposeAsync();
                }

                await lab.DisposeAsync();
                throw;
            }
        }

        public async ValueTask DisposeAsync()
        {
            ApiB.Dispose();
            ApiA.Dispose();
            await PanelB.DisposeAsync();
            await PanelA.DisposeAsync();
            await Lab.DisposeAsync();
        }
    }

    /// <summary>A panel as host <paramref name="machine"/>: in its namespace, on its address, its certificate for HTTPS and migration, <paramref name="peer"/>'s panel its peer.</summary>
    private static Task<PanelProcess> StartPanelAsync(HostLab lab, LabMachine machine, LabMachine peer, string tokenFile, CancellationToken ct) =>
        PanelProcess.StartAsync(
            ct,
            [
                $"--Panel:HostName={machine.Name}",
                $"--Panel:HostTokenFile={tokenFile}",
                $"--Panel:TlsDirectory={machine.TlsDirectory}",
                $"--Panel:PeerHosts={PanelAddressOf(peer)}",
                $"--Kestrel:Certificates:Default:Path={Path.Combine(machine.TlsDirectory, "server-cert.pem")}",
                $"--Kestrel:Certificates:Default:KeyPath={Path.Combine(machine.TlsDirectory, "server-key.pem")}",
            ],
            address: PanelAddressOf(machine),
            launcher: start => lab.StartIn(machine.Name, start));

    private static Uri PanelAddressOf(LabMachine machine) => new($"https://{machine.Address}:{PanelPort.ToString(CultureInfo.InvariantCulture)}");

    private static async Task<(int ExitCode, string Output, string Error)> VirtctlInAsync(HostLab lab, LabMachine machine, PanelProcess panel, CancellationToken ct, params string[] arguments) =>
        await VirtctlProcess.FinishAsync(lab.StartIn(machine.Name, VirtctlProcess.StartInfo(panel.State, arguments)), ct);

    /// <summary>The VM's state on a panel, or null when that panel has no such VM (404).</summary>
    private static async Task<string?> StateAsync(HttpClient api, string name, CancellationToken ct)
    {
        using var response = await api.GetAsync($"/api/vms/{name}", ct);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("status").GetProperty("state").GetString();
    }

    /// <summary>
    /// Waits for the destination's VM to run: the source's task ends when its QEMU reports completion, and the destination
    /// resumes the guest a poll later (it is <c>Incoming</c> until then).
    /// </summary>
    private static async Task WaitUntilRunningAsync(HttpClient api, string name, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        string? state;
        while ((state = await StateAsync(api, name, ct)) != "Running")
        {
            Assert.True(DateTime.UtcNow < deadline, $"VM '{name}' is {state ?? "absent"} on the destination 30 s after the migration completed");
            await Task.Delay(50, ct);
        }
    }

    /// <summary>The guest's boot id, read through the panel's guest-agent exec (which answers once the agent runs in the guest).</summary>
    private static Task<string> GuestBootIdAsync(HttpClient api, CancellationToken ct) => GuestExecAsync(api, "roamer", ["cat", BootId], ct);

    private static void AssertCompleted(JsonElement task, PanelProcess panelA, PanelProcess panelB) =>
        Assert.True(task.GetProperty("state").GetString() == "completed", $"task {task}\nhost-a's panel:\n{panelA.Output}\nhost-b's panel:\n{panelB.Output}");

    /// <summary>
    /// Counts, on <paramref name="host"/>'s input, TCP segments from <paramref name="from"/> to <paramref name="to"/> on
    /// any port but the panel's whose payload starts a TLS record (0x16 0x03: a handshake) or QEMU's migration stream
    /// in clear ("QEVM"). The table lives in the host's namespace and goes with it.
    /// </summary>
    private async Task WatchMigrationStreamsAsync(HostLab lab, string host, string from, string to)
    {
        var ruleset = Path.Combine(_scratch, "watch.nft");
        var match = $"ip saddr {from} ip daddr {to} tcp dport != {PanelPort}";
        await File.WriteAllTextAsync(ruleset, $$"""
            table inet virt_panel_test {
              chain seen {
                type filter hook input priority 0; policy accept;
                {{match}} @ih,0,16 0x1603 counter comment "tls"
                {{match}} @ih,0,32 0x5145564d counter comment "clear"
              }
            }
            """);
        await lab.RunInAsync(host, "nft", "-f", ruleset);
    }

    private static async Task<(long TlsRecords, long ClearStreams)> MigrationStreamsSeenAsync(HostLab lab, string host)
    {
        var table = await lab.RunInAsync(host, "nft", "list", "table", "inet", "virt_panel_test");
        long Packets(string comment) => long.Parse(CounterOf().Matches(table).Single(m => m.Groups["comment"].Value == comment).Groups["packets"].Value, CultureInfo.InvariantCulture);
        return (Packets("tls"), Packets("clear"));
    }

    [GeneratedRegex("counter packets (?<packets>[0-9]+) bytes [0-9]+ comment \"(?<comment>[a-z]+)\"")]
    private static partial Regex CounterOf();

    private string SecretFile(string name, string content)
    {
        var path = Path.Combine(_scratch, name);
        File.WriteAllText(path, content + "\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return path;
    }
}
