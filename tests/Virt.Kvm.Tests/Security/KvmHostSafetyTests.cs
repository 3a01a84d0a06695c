using System.Diagnostics;
using Virt.Kvm.Host;
using Virt.Kvm.Hosting;
using Virt.Kvm.Interop;
using Virt.Kvm.VirtualMachines;
using Virt.Processes;
using Virt.VirtualMachines;

namespace Virt.Kvm.Tests.Security;

/// <summary>
/// Defences of the KVM backend that need no QEMU, performed against the real host: resources beyond
/// the host's, file modes of a VM's directory, the serial log cap on real files, the pidfd signal
/// path on real processes, and the masking of secrets in the logged command line.
/// </summary>
public sealed class KvmHostSafetyTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("virt-kvm-sec-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private KvmVirtualMachineManager CreateManager(Action<KvmOptions>? configure = null)
    {
        var options = new KvmOptions { StateDirectory = Path.Combine(_directory, "vms") };
        configure?.Invoke(options);
        return new KvmVirtualMachineManager(options, new ProcessRunner(), new QemuCapabilityProbe(new ProcessRunner()), new AcceleratorProbe(new System.IO.Abstractions.FileSystem()), TimeProvider.System);
    }

    private static VmSpec Spec(string name) => new(name) { Disks = [new VmDisk("root", "/var/lib/images/x.qcow2")] };

    [Fact]
    public async Task A_VM_asking_for_more_memory_or_vCPUs_than_the_host_has_is_refused_with_the_hosts_figures_and_nothing_is_created()
    {
        await using var manager = CreateManager();
        var host = HostResources.Read(new System.IO.Abstractions.FileSystem());
        var ct = TestContext.Current.CancellationToken;

        var memory = await Assert.ThrowsAsync<InvalidVmSpecException>(() => manager.CreateAsync(Spec("huge") with { Memory = new VmMemory { SizeMiB = 4 * 1024 * 1024 } }, ct));
        var cpus = await Assert.ThrowsAsync<InvalidVmSpecException>(() => manager.CreateAsync(Spec("wide") with { Cpu = new VmCpu { Sockets = 256 } }, ct));
        var hotplug = await Assert.ThrowsAsync<InvalidVmSpecException>(() => manager.CreateAsync(Spec("grows") with { Memory = new VmMemory { SizeMiB = 256, MaxSizeMiB = (int)Math.Min(int.MaxValue, host.MemoryMiB * 2) } }, ct));

        var problem = Assert.Single(memory.Problems);
        Assert.Equal("Memory.SizeMiB", problem.Field);
        Assert.Contains($"{host.MemoryMiB} MiB", problem.Message, StringComparison.Ordinal);
        Assert.Contains("AllowResourcesBeyondHost", problem.Message, StringComparison.Ordinal);
        Assert.Contains($"{host.Cpus} online CPUs", Assert.Single(cpus.Problems).Message, StringComparison.Ordinal);
        Assert.Equal("Memory.MaxSizeMiB", Assert.Single(hotplug.Problems).Field);
        // Refused before anything is written: not even the state directory, which is made on first use.
        Assert.False(Directory.Exists(Path.Combine(_directory, "vms")));
    }

    [Fact]
    public async Task A_VM_within_the_host_is_accepted_and_overcommit_is_an_explicit_option()
    {
        var ct = TestContext.Current.CancellationToken;
        var host = HostResources.Read(new System.IO.Abstractions.FileSystem());
        await using (var manager = CreateManager())
        {
            await manager.CreateAsync(Spec("fits") with { Cpu = new VmCpu { Sockets = host.Cpus }, Memory = new VmMemory { SizeMiB = (int)Math.Min(host.MemoryMiB, 4 * 1024 * 1024) } }, ct);
        }

        await using var overcommitting = CreateManager(options => options.AllowResourcesBeyondHost = true);
        await overcommitting.CreateAsync(Spec("big") with { Cpu = new VmCpu { Sockets = host.Cpus + 1 } }, ct);
    }

    [Fact]
    public void The_host_figures_come_from_meminfo_and_the_online_CPU_list()
    {
        var root = Path.Combine(_directory, "root");
        Directory.CreateDirectory(Path.Combine(root, "proc"));
        Directory.CreateDirectory(Path.Combine(root, "sys/devices/system/cpu"));
        File.WriteAllText(Path.Combine(root, "proc/meminfo"), "MemTotal:       16384000 kB\nMemFree:         1000 kB\n");
        File.WriteAllText(Path.Combine(root, "sys/devices/system/cpu/online"), "0-3,8,10-11\n");

        var host = HostResources.Read(new System.IO.Abstractions.FileSystem(), root);

        Assert.Equal(new HostResources(16000, 7), host);
        Assert.Equal(2, HostResources.CountCpuList("0-1\n"));
    }

    [Fact]
    public async Task A_VMs_directory_is_0700_and_its_spec_0600_from_creation()
    {
        await using var manager = CreateManager();
        var vm = await manager.CreateAsync(Spec("private"), TestContext.Current.CancellationToken);
        var directory = Path.GetDirectoryName(vm.Endpoints.QmpSocket)!;

        Assert.Equal(Virt.IO.OwnerOnly.DirectoryMode, File.GetUnixFileMode(Path.Combine(_directory, "vms")));
        Assert.Equal(Virt.IO.OwnerOnly.DirectoryMode, File.GetUnixFileMode(directory));
        Assert.Equal(Virt.IO.OwnerOnly.FileMode, File.GetUnixFileMode(Path.Combine(directory, "spec.json")));
        Assert.Equal(["spec.json"], Directory.EnumerateFileSystemEntries(directory).Select(Path.GetFileName).ToArray());
    }

    [Fact]
    public void Private_files_are_created_0600_even_where_a_wider_file_was()
    {
        var path = Path.Combine(_directory, "cidata.iso");
        File.WriteAllText(path, "old");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        // What the VM lifecycle does for its seed and UEFI variables: remove, then create new with the mode.
        var host = new System.IO.Abstractions.FileSystem();
        File.Delete(path);
        using (var seed = Virt.IO.OwnerOnly.Open(host, path, FileMode.CreateNew, FileAccess.Write))
        {
            seed.Write("new"u8);
        }

        using (var copy = Virt.IO.OwnerOnly.Open(host, path + ".copy", FileMode.CreateNew, FileAccess.Write))
        {
            copy.Write(File.ReadAllBytes(path));
        }

        var wide = Path.Combine(_directory, "wide");
        Directory.CreateDirectory(wide);
        File.SetUnixFileMode(wide, (UnixFileMode)Convert.ToInt32("755", 8));
        Virt.IO.OwnerOnly.CreateDirectory(host, wide);

        Assert.Equal(Virt.IO.OwnerOnly.FileMode, File.GetUnixFileMode(path));
        Assert.Equal(Virt.IO.OwnerOnly.FileMode, File.GetUnixFileMode(path + ".copy"));
        Assert.Equal("new", File.ReadAllText(path + ".copy"));
        Assert.Equal(Virt.IO.OwnerOnly.DirectoryMode, File.GetUnixFileMode(wide));
    }

    [Fact]
    public void A_serial_log_above_its_cap_is_trimmed_in_place_keeping_the_newest_half_and_the_older_part_in_dot_1()
    {
        // The state directory's file system (ext4 here): the newest half stays in the live file.
        var path = Path.Combine(_directory, "serial.log");
        const long Cap = 64 * 1024;
        var content = Enumerable.Range(0, 20_000).Select(i => $"line {i:D6}\n").Aggregate(new System.Text.StringBuilder(), (b, l) => b.Append(l)).ToString();
        using (var writer = new FileStream(path, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = Virt.IO.OwnerOnly.FileMode }))
        {
            writer.Write(System.Text.Encoding.ASCII.GetBytes(content));
        }

        // A writer that appends like QEMU (O_APPEND) keeps its descriptor across the trim.
        using var qemuLike = AppendingWriter.Open(path);
        Assert.True(SerialLogFile.Trim(path, Cap));
        qemuLike.WriteLine("after the trim");

        var live = File.ReadAllText(path);
        var older = File.ReadAllText(path + ".1");
        Assert.True(new FileInfo(path).Length <= Cap, $"the live log is {new FileInfo(path).Length} bytes");
        Assert.EndsWith("line 019999\nafter the trim\n", live, StringComparison.Ordinal);
        Assert.Equal(content, older + live[..^"after the trim\n".Length]);
        Assert.Equal(Virt.IO.OwnerOnly.FileMode, File.GetUnixFileMode(path + ".1"));
        Assert.False(SerialLogFile.Trim(path, Cap));
    }

    [Fact]
    public void Where_the_file_system_cannot_collapse_a_range_the_log_is_rotated_and_emptied_in_place()
    {
        // tmpfs has no FALLOC_FL_COLLAPSE_RANGE.
        var directory = Directory.CreateDirectory(Path.Combine("/dev/shm", $"virt-kvm-sec-{Guid.NewGuid():N}")).FullName;
        try
        {
            var path = Path.Combine(directory, "serial.log");
            File.WriteAllBytes(path, new byte[200 * 1024]);
            using var qemuLike = AppendingWriter.Open(path);

            Assert.True(SerialLogFile.Trim(path, 64 * 1024));
            qemuLike.WriteLine("next");

            Assert.Equal(200 * 1024, new FileInfo(path + ".1").Length);
            Assert.Equal("next\n", File.ReadAllText(path));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void Starting_a_VM_rotates_a_serial_log_above_its_cap_and_creates_a_new_one_0600()
    {
        var path = Path.Combine(_directory, "serial.log");
        File.WriteAllBytes(path, new byte[100 * 1024]);

        SerialLogFile.PrepareForStart(new System.IO.Abstractions.FileSystem(), path, 64 * 1024);

        Assert.Equal(100 * 1024, new FileInfo(path + ".1").Length);
        Assert.Equal(0, new FileInfo(path).Length);
        Assert.Equal(Virt.IO.OwnerOnly.FileMode, File.GetUnixFileMode(path));
    }

    [Fact]
    public async Task A_pidfd_signals_exactly_its_process_and_nothing_once_that_process_is_gone()
    {
        using var sleeper = Process.Start("sleep", "600");
        using var bystander = Process.Start("sleep", "600");
        try
        {
            using var handle = PidFd.Open(sleeper.Id)!;
            Assert.False(handle.HasExited);

            Assert.True(handle.Signal(LibC.SigKill));
            await sleeper.WaitForExitAsync(TestContext.Current.CancellationToken);

            // The process is gone and collected: the descriptor still names it, so the signal goes nowhere.
            Assert.True(handle.HasExited);
            Assert.False(handle.Signal(LibC.SigKill));
            Assert.False(bystander.HasExited);
        }
        finally
        {
            bystander.Kill();
            sleeper.Kill();
        }
    }

    [Fact]
    public void The_logged_command_line_masks_kernel_parameters_fw_cfg_strings_smbios_values_and_secret_keys()
    {
        string[] argv =
        [
            "-name", "guest=db,debug-threads=on", "-append", "console=ttyS0 quiet rootpw=hunter2 ds=nocloud;s=http://x/?token=abc panic=-1",
            "-fw_cfg", "name=opt/app/key,string=s3cr3t,,value", "-smbios", "type=11,value=io.systemd.credential:pw=topsecret",
            "-object", "secret,id=s0,data=cGFzc3dvcmQ=,format=base64", "-vnc", "127.0.0.1:1,password-secret=s0",
            "-blockdev", "driver=rbd,node-name=x,pool=p,image=i,key=AQBsecret==,user=admin",
        ];

        var shown = QemuArgumentMasker.Describe(argv);

        foreach (var secret in new[] { "hunter2", "abc", "s3cr3t", "topsecret", "cGFzc3dvcmQ=", "AQBsecret" })
        {
            Assert.DoesNotContain(secret, shown, StringComparison.Ordinal);
        }

        Assert.Contains("-append console=ttyS0 quiet rootpw=*** ds=*** panic=-1", shown, StringComparison.Ordinal);
        Assert.Contains("-fw_cfg name=opt/app/key,string=***", shown, StringComparison.Ordinal);
        Assert.Contains("type=11,value=***", shown, StringComparison.Ordinal);
        Assert.Contains("secret,id=s0,data=***,format=base64", shown, StringComparison.Ordinal);
        Assert.Contains("pool=p,image=i,key=***,user=admin", shown, StringComparison.Ordinal);
    }

    /// <summary>
    /// Another process holding the log open the way QEMU does with logappend=on (O_WRONLY|O_APPEND:
    /// the shell's <c>&gt;&gt;</c>), which writes a line when told to, after the trim.
    /// </summary>
    private sealed class AppendingWriter : IDisposable
    {
        private readonly Process _shell;

        private AppendingWriter(Process shell) => _shell = shell;

        public static AppendingWriter Open(string path)
        {
            var start = new ProcessStartInfo("sh") { RedirectStandardInput = true, RedirectStandardOutput = true };
            foreach (var argument in new[] { "-c", "exec 3>>\"$1\"; echo opened; while read -r line; do printf '%s\\n' \"$line\" >&3; echo written; done", "sh", path })
            {
                start.ArgumentList.Add(argument);
            }

            var shell = Process.Start(start)!;
            Assert.Equal("opened", shell.StandardOutput.ReadLine());
            return new AppendingWriter(shell);
        }

        public void WriteLine(string line)
        {
            _shell.StandardInput.WriteLine(line);
            _shell.StandardInput.Flush();
            Assert.Equal("written", _shell.StandardOutput.ReadLine());
        }

        public void Dispose()
        {
            _shell.StandardInput.Close();
            _shell.WaitForExit();
            _shell.Dispose();
        }
    }
}
