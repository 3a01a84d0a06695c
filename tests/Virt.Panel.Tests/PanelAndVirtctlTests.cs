using Virt.Kvm.Testing;
using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;

namespace Virt.Panel.Tests;

/// <summary>
/// The panel (a service) and virtctl (an operator's shell) drive one VM on one state directory, as two
/// real processes: the panel owns the VM and watches it; virtctl goes through QEMU's control monitor.
/// </summary>
public sealed class PanelAndVirtctlTests
{
    [Fact(Timeout = 300_000)]
    public async Task Virtctl_pauses_and_snapshots_a_VM_the_panel_runs_and_watches_and_the_panel_stops_it()
    {
        var ct = TestContext.Current.CancellationToken;
        var guest = Virt.Kvm.Testing.EmbeddedGuest.DefaultDirectory;
        Assert.SkipWhen(!File.Exists(Path.Combine(guest, "vmlinux")) && Environment.GetEnvironmentVariable("CI") != "true", $"the test guest is not built in {guest} (scripts/build-guest.sh)");
        Assert.SkipWhen(!File.Exists("/usr/bin/qemu-img") && Environment.GetEnvironmentVariable("CI") != "true", "qemu-img is not installed (apt install qemu-utils)");
        await using var panel = await PanelProcess.StartAsync(ct, ["--Panel:AllowHostPaths=true"]);
        using var api = panel.Api();

        // A qcow2 disk holds the RAM of the live snapshot.
        var disk = Path.Combine(panel.State, "shared.qcow2");
        using (var create = Process.Start("qemu-img", ["create", "-q", "-f", "qcow2", disk, "64M"]))
        {
            await create.WaitForExitAsync(ct);
            Assert.Equal(0, create.ExitCode);
        }

        (await api.PostAsJsonAsync("/api/vms", new { name = "shared", memoryMiB = 128, disk }, ct)).EnsureSuccessStatusCode();
        (await api.PostAsync("/api/vms/shared/start", null, ct)).EnsureSuccessStatusCode();
        var pid = (await WaitForStateAsync(api, "Running", ct)).GetProperty("pid").GetInt32();

        // The panel watches (its server-sent events) while virtctl, another process, pauses the VM.
        using var events = new StreamReader(await api.GetStreamAsync("/api/events", ct));
        var pausedSeen = ReadEventsUntilAsync(events, "\"name\":\"shared\",\"state\":\"Paused\"", ct);
        var pausedByVirtctl = await VirtctlAsync(panel.State, ct, "vm", "pause", "shared");
        Assert.Equal("Paused", pausedByVirtctl.GetProperty("state").GetString());
        Assert.Equal(pid, pausedByVirtctl.GetProperty("pid").GetInt32());
        await pausedSeen;
        Assert.Equal("Paused", (await StatusAsync(api, ct)).GetProperty("state").GetString());

        // A snapshot from virtctl, and its list from virtctl again (each run is a new process).
        Assert.Equal("s1", (await VirtctlAsync(panel.State, ct, "vm", "snapshot", "shared", "s1")).GetProperty("name").GetString());
        Assert.Equal("s1", (await VirtctlAsync(panel.State, ct, "vm", "snapshot", "shared"))[0].GetProperty("name").GetString());

        // The panel stops it (it owns the VM: it reaps QEMU and cleans up); virtctl sees it stopped.
        var stopped = await (await api.PostAsync("/api/vms/shared/stop?force=true", null, ct)).EnsureSuccessStatusCode().Content.ReadFromJsonAsync<JsonElement>(ct);
        Assert.Equal("Stopped", stopped.GetProperty("state").GetString());
        Assert.Equal("killed", stopped.GetProperty("lastExit").GetProperty("reason").GetString());
        Assert.False(Directory.Exists($"/proc/{pid}"), $"QEMU (pid {pid}) was not reaped by the panel");
        Assert.Equal("Stopped", (await VirtctlAsync(panel.State, ct, "vm", "list")).EnumerateArray().Single().GetProperty("state").GetString());
    }

    private static async Task<JsonElement> StatusAsync(HttpClient api, CancellationToken ct) =>
        JsonDocument.Parse(await api.GetStringAsync("/api/vms/shared", ct)).RootElement.GetProperty("status").Clone();

    private static async Task<JsonElement> WaitForStateAsync(HttpClient api, string state, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (true)
        {
            var status = await StatusAsync(api, ct);
            if (status.GetProperty("state").GetString() == state)
            {
                return status;
            }

            Assert.True(DateTime.UtcNow < deadline, $"the VM did not become {state}: {status}");
            await Task.Delay(250, ct);
        }
    }

    private static async Task ReadEventsUntilAsync(StreamReader events, string text, CancellationToken ct)
    {
        while (await events.ReadLineAsync(ct) is { } line)
        {
            if (line.Contains(text, StringComparison.Ordinal))
            {
                return;
            }
        }

        Assert.Fail($"the panel's events ended before '{text}'");
    }

    /// <summary>Runs virtctl (built with the tests) on the panel's state directory with --json; expects success.</summary>
    private static async Task<JsonElement> VirtctlAsync(string state, CancellationToken ct, params string[] arguments)
    {
        var (exitCode, output, error) = await VirtctlProcess.FinishAsync(Process.Start(VirtctlProcess.StartInfo(state, arguments))!, ct);
        Assert.True(exitCode == 0, $"virtctl {string.Join(' ', arguments)} exited {exitCode}: {error}{output}");
        return JsonDocument.Parse(output).RootElement.Clone();
    }
}
