using Virt.Kvm.Testing;
using System.Text.Json;
using Virt.Storage.IntegrationTests.Infrastructure;

namespace Virt.Ctl.Tests;

/// <summary>virtctl against the real backends of this host, as a script would use it.</summary>
public sealed class VirtctlTests
{
    [Fact(Timeout = 60_000)]
    public async Task Host_check_and_pci_list_describe_this_machine_and_exit_by_the_result()
    {
        HostRequirement.RequireTool("lspci", "pciutils");
        using var virtctl = new Virtctl(TestContext.Current.CancellationToken);
        var devices = await virtctl.JsonAsync("pci", "list");
        Assert.Equal(Host.Run("lspci", "-D").Split('\n', StringSplitOptions.RemoveEmptyEntries).Length, devices.GetArrayLength());
        Assert.All(devices.EnumerateArray(), device => Assert.Matches("^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\\.[0-7]$", device.GetProperty("address").GetString()));

        var (exit, output, _) = await virtctl.RunAsync("host", "check", "--json");
        var checks = JsonDocument.Parse(output).RootElement;
        Assert.Equal(11, checks.GetArrayLength());
        var ready = checks.EnumerateArray().All(check => check.GetProperty("status").GetString() != "Fail");
        Assert.Equal(ready ? 0 : 4, exit);
    }

    [Fact(Timeout = 60_000)]
    public async Task Bad_input_missing_objects_and_an_unready_host_have_their_exit_codes()
    {
        using var virtctl = new Virtctl(TestContext.Current.CancellationToken);
        Assert.Equal(2, (await virtctl.RunAsync("vm", "bogus")).ExitCode);
        var malformed = await virtctl.RunAsync("pci", "plan", "01:00.0");
        Assert.Equal(2, malformed.ExitCode);
        Assert.Contains("DDDD:BB:SS.F", malformed.Error, StringComparison.Ordinal);
        var missing = await virtctl.RunAsync("vm", "start", "nosuch");
        Assert.Equal(3, missing.ExitCode);
        Assert.Contains("VmNotFoundException", missing.Error, StringComparison.Ordinal);
        Assert.Equal(3, (await virtctl.RunAsync("storage", "list", "nopool")).ExitCode);
        Assert.Equal(2, (await virtctl.RunAsync("storage", "create", "p", "v", "ten")).ExitCode);

        if (!Directory.EnumerateFileSystemEntries("/sys/kernel/iommu_groups").Any())
        {
            // No IOMMU here: binding is refused as the host is not ready, naming the fix.
            var address = Host.Run("lspci", "-D").Split(' ')[0];
            var refused = await virtctl.RunAsync("pci", "bind", address);
            Assert.Equal(4, refused.ExitCode);
            Assert.Contains("intel_iommu=on", refused.Error, StringComparison.Ordinal);
        }
    }

    [Fact(Timeout = 120_000)]
    public async Task Storage_define_create_clone_snapshot_and_list()
    {
        HostRequirement.RequireTool("qemu-img", "qemu-utils");
        using var virtctl = new Virtctl(TestContext.Current.CancellationToken);
        var pool = Path.Combine(virtctl.State, "pool");
        await virtctl.JsonAsync("storage", "define", "local", "--driver", "dir", "--path", pool);
        var created = await virtctl.JsonAsync("storage", "create", "local", "base", "64M");
        Assert.Equal(64L << 20, created.GetProperty("capacityBytes").GetInt64());
        await virtctl.JsonAsync("storage", "clone", "local", "base", "full");
        var linked = await virtctl.JsonAsync("storage", "clone", "local", "base", "linked", "--linked");
        Assert.Equal("local:base", linked.GetProperty("backingChain")[0].GetString());
        await virtctl.JsonAsync("storage", "snapshot", "local", "full", "before-upgrade");

        var volumes = await virtctl.JsonAsync("storage", "list", "local");
        Assert.Equal(["local:base", "local:full", "local:linked"], volumes.EnumerateArray().Select(volume => volume.GetProperty("id").GetString()).Order());
        Assert.Equal("before-upgrade", volumes.EnumerateArray().Single(volume => volume.GetProperty("id").GetString() == "local:full").GetProperty("snapshots")[0].GetString());
        Assert.Equal("local", (await virtctl.JsonAsync("storage", "list"))[0].GetProperty("name").GetString());
    }

    [Fact(Timeout = 180_000)]
    public async Task A_container_is_created_started_runs_a_command_with_its_exit_code_and_is_stopped_and_deleted()
    {
        HostRequirement.RequireTool("lxc-start", "lxc");
        using var virtctl = new Virtctl(TestContext.Current.CancellationToken);
        var name = "vc" + Guid.NewGuid().ToString("N")[..8];
        await virtctl.JsonAsync("ct", "create", name);
        try
        {
            await virtctl.JsonAsync("ct", "start", name);
            Assert.Equal("Running", (await virtctl.JsonAsync("ct", "list")).EnumerateArray().Single().GetProperty("state").GetString());

            var exec = await virtctl.RunAsync("ct", "exec", name, "--", "sh", "-c", "echo hello from $(hostname); echo oops >&2; exit 7");
            Assert.Equal(7, exec.ExitCode);
            Assert.Equal($"hello from {name}\n", exec.Output);
            Assert.Equal("oops\n", exec.Error);

            await virtctl.JsonAsync("ct", "stop", name);
            Assert.Equal("Stopped", (await virtctl.JsonAsync("ct", "list")).EnumerateArray().Single().GetProperty("state").GetString());
        }
        finally
        {
            await virtctl.RunAsync("ct", "delete", name, "--force");
        }

        Assert.Equal(0, (await virtctl.JsonAsync("ct", "list")).GetArrayLength());
    }

    [Fact(Timeout = 300_000)]
    public async Task A_vm_is_created_started_watched_on_its_console_snapshotted_migrated_and_stopped()
    {
        HostRequirement.RequireTool("qemu-system-x86_64", "qemu-system-x86");
        using var virtctl = new Virtctl(TestContext.Current.CancellationToken);
        var test = Virt.Kvm.Testing.EmbeddedGuest.DefaultDirectory;
        HostRequirement.Require(File.Exists(Path.Combine(test, "vmlinux")), $"the test guest in {test} (run scripts/build-guest.sh)");

        // A qcow2 data disk holds the RAM of live snapshots.
        var disk = Path.Combine(virtctl.State, "data.qcow2");
        Host.Run("qemu-img", "create", "-q", "-f", "qcow2", disk, "64M");
        await virtctl.JsonAsync("vm", "create", "guest", "--test-guest", "--disk", disk, "--allow-host-path");
        try
        {
            Assert.Equal("Running", (await virtctl.JsonAsync("vm", "start", "guest")).GetProperty("state").GetString());
            var console = await virtctl.JsonAsync("vm", "console", "guest", "--wait-for", "VIRT-GUEST-READY", "--timeout", "120");
            Assert.Contains("VIRT-GUEST-READY", console.GetProperty("serial").GetString(), StringComparison.Ordinal);

            // The interactive console: a command typed into the guest's shell on ttyS0, its answer printed back.
            var attached = await virtctl.RunAsync(["vm", "console", "guest", "--attach", "--timeout", "3"], "echo attached-$((6*7))\n");
            Assert.Contains("attached-42", attached.Output, StringComparison.Ordinal);

            Assert.Equal("s1", (await virtctl.JsonAsync("vm", "snapshot", "guest", "s1")).GetProperty("name").GetString());
            Assert.Equal("s1", (await virtctl.JsonAsync("vm", "snapshot", "guest"))[0].GetProperty("name").GetString());

            var migrated = await virtctl.JsonAsync("vm", "migrate", "guest");
            Assert.Equal("completed", migrated.GetProperty("status").GetString());
            var listed = (await virtctl.JsonAsync("vm", "list")).EnumerateArray().Single();
            Assert.Equal("Running", listed.GetProperty("state").GetString());

            Assert.Equal("Stopped", (await virtctl.JsonAsync("vm", "stop", "guest", "--timeout", "0", "--force")).GetProperty("state").GetString());
        }
        finally
        {
            await virtctl.RunAsync("vm", "delete", "guest", "--force");
        }
    }
}
