using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Virt.Kvm.IntegrationTests.Infrastructure;
using Virt.Kvm.Host;
using Virt.Kvm.VirtualMachines;
using Virt.Processes;
using Virt.VirtualMachines;

namespace Virt.Kvm.IntegrationTests.Kvm.Security;

/// <summary>
/// Attacks on the KVM backend performed for real against QEMU and the test guest: a runtime record
/// that names an unrelated process, secrets in the logged command line, a guest flooding its serial
/// console, options smuggled into a stored spec, and QEMU dropping root for an unprivileged user.
/// </summary>
[Collection(TestGuestCollection.Name)]
public sealed class KvmSecurityTests
{
    private static readonly UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    [Fact(Timeout = 120_000)]
    public async Task A_runtime_record_naming_an_unrelated_process_never_gets_it_signalled_and_the_VM_is_reported_stopped()
    {
        await using var host = VmTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var vm = await host.Manager.CreateAsync(VmTestHost.GuestSpec("stale"), ct);
        var directory = Path.GetDirectoryName(vm.Endpoints.QmpSocket)!;
        using var bystander = Process.Start("sleep", "600");
        try
        {
            // The worst case of pid reuse: the record names a live process and even its real start time.
            var stat = await File.ReadAllTextAsync($"/proc/{bystander.Id}/stat", ct);
            var startTicks = long.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[19], System.Globalization.CultureInfo.InvariantCulture);
            var record = new { Pid = bystander.Id, ProcessStartTicks = startTicks, StartedAt = DateTimeOffset.UtcNow, QemuBinary = QemuBinary.Path, QemuVersion = "7.2.0", Accelerator = "tcg", Taps = Array.Empty<string>() };
            await File.WriteAllTextAsync(Path.Combine(directory, "runtime.json"), JsonSerializer.Serialize(record), ct);
            await host.RestartManagerAsync();

            var again = await host.Manager.GetAsync("stale", ct);
            await again.KillAsync(ct);
            await again.ShutdownAsync(TimeSpan.FromSeconds(5), killAfterTimeout: true, ct);
            await host.Manager.DeleteAsync("stale", force: true, ct);

            Assert.False(bystander.HasExited, "the SDK signalled a process that merely had the recorded pid");
            Assert.False(Native.HasEnded(bystander.Id));
            Assert.Equal(VmState.Stopped, (await again.GetStatusAsync(ct)).State);
            Assert.Contains("no longer this VM's QEMU", (await again.GetStatusAsync(ct)).LastExit!.Reason, StringComparison.Ordinal);
        }
        finally
        {
            bystander.Kill();
        }
    }

    [Fact(Timeout = 180_000)]
    public async Task The_command_line_is_logged_only_at_Debug_with_secrets_masked_and_every_file_of_the_VM_is_private()
    {
        await using var host = VmTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var logs = new CapturingLoggerFactory();
        await using var manager = new KvmVirtualMachineManager(host.Options, new ProcessRunner(), new QemuCapabilityProbe(new ProcessRunner()), new AcceleratorProbe(new System.IO.Abstractions.FileSystem()), TimeProvider.System, logs);
        var spec = VmTestHost.GuestSpec("secretive");
        spec = spec with
        {
            Firmware = spec.Firmware with { KernelCommandLine = spec.Firmware.KernelCommandLine + " rootpw=hunter2-kernel" },
            ExtraArguments = ["-smbios", "type=11,value=io.systemd.credential:pw=hunter2-smbios", "-fw_cfg", "name=opt/app/token,string=hunter2-fwcfg"],
        };
        var vm = await manager.CreateAsync(spec, ct);

        await vm.StartAsync(ct);
        await VmTestHost.WaitForSerialAsync(vm, TestGuest.ReadyMarker);

        var lines = logs.Lines.ToArray();
        Assert.DoesNotContain(lines, line => line.Message.Contains("hunter2", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, line => line.Level >= LogLevel.Information && line.Message.Contains("-nodefaults", StringComparison.Ordinal));
        Assert.Contains(lines, line => line.Level >= LogLevel.Information && line.Message.Contains("QEMU started as pid", StringComparison.Ordinal));
        var debug = Assert.Single(lines, line => line.Level == LogLevel.Debug && line.Message.Contains("-nodefaults", StringComparison.Ordinal));
        Assert.Contains("rootpw=***", debug.Message, StringComparison.Ordinal);
        Assert.Contains("console=ttyS0", debug.Message, StringComparison.Ordinal);
        Assert.Contains("string=***", debug.Message, StringComparison.Ordinal);

        var directory = Path.GetDirectoryName(vm.Endpoints.QmpSocket)!;
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(directory));
        foreach (var file in new[] { "spec.json", "runtime.json", "qemu.pid", "qemu.log", "serial.log" })
        {
            Assert.True(File.GetUnixFileMode(Path.Combine(directory, file)) == Private, $"{file} is {File.GetUnixFileMode(Path.Combine(directory, file))}");
        }

        await vm.KillAsync(ct);
    }

    [Fact(Timeout = 240_000)]
    public async Task A_guest_flooding_its_serial_console_cannot_grow_the_log_beyond_its_cap()
    {
        await using var host = VmTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        const long Cap = 64 * 1024;
        // Large against the cap: the trimmer runs once a second, so what the logs may hold is about twice the cap
        // plus a second or two of output, whatever the machine's load — far under half of this.
        const int Flood = 8 * 1024 * 1024;
        host.Options.SerialLogMaxBytes = Cap;
        var vm = await host.Manager.CreateAsync(VmTestHost.GuestSpec("chatty") with
        {
            ExtraArguments = ["-fw_cfg", $"name=opt/virt/script,string=yes 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde | head -c {Flood}; echo; echo FLOOD-DONE"],
        }, ct);
        var log = vm.Endpoints.SerialLog;

        await vm.StartAsync(ct);
        long largest = 0;
        var deadline = DateTime.UtcNow.AddSeconds(200);
        while (!(await Virt.IO.LogTail.ReadTextAsync(new System.IO.Abstractions.FileSystem(), log, 4096, ct)).Contains("FLOOD-DONE", StringComparison.Ordinal))
        {
            Assert.True(DateTime.UtcNow < deadline, $"the guest did not finish its flood; the log ends: {await Virt.IO.LogTail.ReadTextAsync(new System.IO.Abstractions.FileSystem(), log, 512, ct)}");
            largest = Math.Max(largest, new FileInfo(log).Length + (File.Exists(log + ".1") ? new FileInfo(log + ".1").Length : 0));
            await Task.Delay(100, ct);
        }

        // The trimmer works behind the writer: wait until it has caught up with the last of the flood.
        var trimmed = DateTime.UtcNow.AddSeconds(60);
        while (new FileInfo(log).Length > Cap)
        {
            Assert.True(DateTime.UtcNow < trimmed, $"serial.log stayed at {new FileInfo(log).Length} bytes, above the {Cap}-byte cap, 60 s after the flood");
            await Task.Delay(100, ct);
        }

        var live = new FileInfo(log).Length;
        var rotated = new FileInfo(log + ".1").Length;
        Assert.True(live <= Cap, $"serial.log is {live} bytes after the flood, above the {Cap}-byte cap");
        Assert.True(live + rotated < Flood / 2, $"serial.log and serial.log.1 hold {live + rotated} bytes of a {Flood}-byte flood");
        Assert.True(largest < Flood / 2, $"the logs reached {largest} bytes during a {Flood}-byte flood");
        Assert.Equal(Private, File.GetUnixFileMode(log + ".1"));

        // The guest still runs and its console still logs.
        Assert.Equal(VmState.Running, (await vm.GetStatusAsync(ct)).State);
        await vm.KillAsync(ct);
    }

    [Fact(Timeout = 60_000)]
    public async Task Options_smuggled_into_a_stored_spec_are_refused_at_start_and_QEMU_never_runs_them()
    {
        await using var host = VmTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var target = Path.Combine(host.StateDirectory, "written-by-qemu");
        await Assert.ThrowsAsync<InvalidVmSpecException>(() => host.Manager.CreateAsync(VmTestHost.GuestSpec("direct") with { ExtraArguments = ["-D", target] }, ct));
        Assert.False(Directory.Exists(Path.Combine(host.StateDirectory, "direct")));

        var vm = await host.Manager.CreateAsync(VmTestHost.GuestSpec("edited"), ct);
        var specPath = Path.Combine(Path.GetDirectoryName(vm.Endpoints.QmpSocket)!, "spec.json");
        var stored = System.Text.Json.Nodes.JsonNode.Parse(await File.ReadAllTextAsync(specPath, ct))!;
        stored["ExtraArguments"] = new System.Text.Json.Nodes.JsonArray("-D", target, "-d", "guest_errors");
        await File.WriteAllTextAsync(specPath, stored.ToJsonString(), ct);
        await host.RestartManagerAsync();

        var edited = await host.Manager.GetAsync("edited", ct);
        var error = await Assert.ThrowsAsync<InvalidVmSpecException>(() => edited.StartAsync(ct));

        Assert.Contains("'-D' is not an option ExtraArguments allows", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(target));
        Assert.False(File.Exists(Path.Combine(host.StateDirectory, "edited", "qemu.log")));
        Assert.Equal(VmState.Stopped, (await edited.GetStatusAsync(ct)).State);
    }

    [Theory(Timeout = 180_000)]
    [InlineData(false)]
    [InlineData(true)]
    public async Task QEMU_runs_as_the_unprivileged_RunAsUser_and_the_guest_boots(bool qemu10)
    {
        // QEMU 7.2 drops privileges with -runas, QEMU 10 with -run-with user=.
        if (qemu10)
        {
            Qemu10.Require();
        }

        await using var host = VmTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        host.Options.RunAsUser = "nobody";
        if (qemu10)
        {
            host.Options.QemuBinary = Qemu10.Binary;
            host.Options.QemuDataDirectory = Qemu10.DataDirectory;
            await host.RestartManagerAsync();
        }

        const int Nobody = 65534;

        // A data disk the unprivileged QEMU owns, in a directory of its own.
        var disks = Directory.CreateTempSubdirectory("virt-runas-").FullName;
        try
        {
            var disk = Path.Combine(disks, "data.raw");
            await File.WriteAllBytesAsync(disk, new byte[1024 * 1024], ct);
            File.SetUnixFileMode(disk, Private);
            Assert.Equal(0, Chown(disks, Nobody));
            Assert.Equal(0, Chown(disk, Nobody));
            var vm = await host.Manager.CreateAsync(VmTestHost.GuestSpec("unprivileged") with { Disks = [new VmDisk("data", disk) { Format = VmDiskFormat.Raw }] }, ct);

            await vm.StartAsync(ct);
            await VmTestHost.WaitForSerialAsync(vm, TestGuest.ReadyMarker);

            var status = await vm.GetStatusAsync(ct);
            Assert.StartsWith(qemu10 ? "10." : "7.", status.QemuVersion, StringComparison.Ordinal);
            var pid = status.Pid!.Value;
            var argv = (await File.ReadAllTextAsync($"/proc/{pid}/cmdline", ct)).Split('\0');
            Assert.Contains(qemu10 ? "-run-with" : "-runas", argv);
            var uids = (await File.ReadAllLinesAsync($"/proc/{pid}/status", ct)).Single(line => line.StartsWith("Uid:", StringComparison.Ordinal));
            Assert.Equal(["Uid:", "65534", "65534", "65534", "65534"], uids.Split('\t', ' ').Where(part => part.Length > 0).ToArray());
            var gids = (await File.ReadAllLinesAsync($"/proc/{pid}/status", ct)).Single(line => line.StartsWith("Gid:", StringComparison.Ordinal));
            Assert.DoesNotContain("\t0", gids, StringComparison.Ordinal);

            await vm.ShutdownAsync(TimeSpan.FromSeconds(60), killAfterTimeout: true, ct);
            Assert.Equal(VmState.Stopped, (await vm.GetStatusAsync(ct)).State);
            Assert.True(Native.HasEnded(pid));
        }
        finally
        {
            Directory.Delete(disks, recursive: true);
        }
    }

    private static int Chown(string path, int uid)
    {
        using var chown = Process.Start("chown", [$"{uid}:{uid}", path]);
        chown.WaitForExit();
        return chown.ExitCode;
    }

    private sealed record LogLine(LogLevel Level, string Message);

    /// <summary>Keeps every log line of every category at every level.</summary>
    private sealed class CapturingLoggerFactory : ILoggerFactory, ILogger
    {
        public ConcurrentQueue<LogLine> Lines { get; } = new();

        public ILogger CreateLogger(string categoryName) => this;

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public void Dispose()
        {
        }

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Lines.Enqueue(new LogLine(logLevel, formatter(state, exception)));
    }
}
