using System.Text;
using Virt.Kvm.IntegrationTests.Infrastructure;
using Virt.Kvm.Host;
using Virt.Kvm.VirtualMachines;
using Virt.Processes;
using Virt.Storage;
using Virt.Storage.Hosting;
using Virt.Storage.Pools;
using Virt.VirtualMachines;

namespace Virt.Kvm.IntegrationTests.Kvm;

/// <summary>
/// Issue 15, item 3, end to end: a raw pool volume whose start holds a qcow2 header naming a host file as
/// its backing file (what its guest can write with dd) is started as a VM disk. QEMU must be given
/// <c>driver=raw</c>: the guest sees its own 64 MiB of bytes, header included, and never the host file.
/// </summary>
[Collection(TestGuestCollection.Name)]
public sealed class VolumeFormatAttackTests
{
    [Fact(Timeout = 300_000)]
    public async Task A_guest_written_qcow2_header_on_a_raw_volume_does_not_give_the_guest_a_host_file()
    {
        await using var host = VmTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var marker = "HOST-SECRET-" + Guid.NewGuid().ToString("N");
        var secret = Path.Combine(host.StateDirectory, "secret");
        await File.WriteAllTextAsync(secret, string.Concat(Enumerable.Repeat(marker + "\n", 1024)), ct);

        var storage = new StorageManager(new StorageOptions { StateDirectory = Path.Combine(host.StateDirectory, "storage") }, new System.IO.Abstractions.FileSystem(), new ProcessRunner());
        var pool = await storage.DefinePoolAsync(new DirPoolDefinition("local", Path.Combine(host.StateDirectory, "pool")), ct);
        var volume = await pool.CreateVolumeAsync(new VolumeSpec("victim", 64L << 20) { Format = VolumeFormat.Raw }, ct);

        // The guest's write: a qcow2 header (16 MiB virtual, backing file = the host file) over the start of its raw disk.
        var header = Path.Combine(host.StateDirectory, "hostile.qcow2");
        Run("qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", secret, "-F", "raw", header, "16M");
        Run("qemu-io", "-f", "raw", "-c", $"write -s {header} 0 {new FileInfo(header).Length}", volume.Path);

        await using var manager = new KvmVirtualMachineManager(host.Options, new ProcessRunner(), new QemuCapabilityProbe(new ProcessRunner()), new AcceleratorProbe(new System.IO.Abstractions.FileSystem()), TimeProvider.System, volumes: storage);
        var vm = await manager.CreateAsync(VmTestHost.GuestSpec("header-attack") with { Disks = [new VmDisk("data", "local:victim")] }, ct);
        await vm.StartAsync(ct);
        await VmTestHost.WaitForSerialAsync(vm, TestGuest.ReadyMarker);
        await GuestWait.ForAgentAsync(vm.Guest);

        // Raw: the disk is the volume's 64 MiB (as qcow2 it would be 16 MiB), it starts with the header's magic, and the host file is not in it.
        var size = (await vm.Guest.ExecAsync("/bin/sh", ["-c", "cat /sys/block/vda/size"], cancellationToken: ct)).StandardOutputText.Trim();
        Assert.Equal(((64L << 20) / 512).ToString(System.Globalization.CultureInfo.InvariantCulture), size);
        var magic = (await vm.Guest.ExecAsync("/bin/sh", ["-c", "dd if=/dev/vda bs=1 count=3 2>/dev/null"], cancellationToken: ct)).StandardOutputText;
        Assert.Equal("QFI", magic);
        // Reading all 64 MiB under TCG takes seconds idle and over a minute on a loaded host: allow for the latter.
        var found = await vm.Guest.ExecAsync("/bin/sh", ["-c", $"grep -c {marker} /dev/vda || true"], timeout: TimeSpan.FromMinutes(5), cancellationToken: ct);
        Assert.Equal("0", found.StandardOutputText.Trim());
        await vm.ShutdownAsync(TimeSpan.FromSeconds(60), killAfterTimeout: true, ct);
        await manager.DeleteAsync("header-attack", cancellationToken: ct);
        Assert.DoesNotContain(marker, Encoding.ASCII.GetString(await File.ReadAllBytesAsync(volume.Path, ct)), StringComparison.Ordinal);
    }

    private static void Run(string program, params string[] arguments)
    {
        var start = new System.Diagnostics.ProcessStartInfo(program) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = System.Diagnostics.Process.Start(start)!;
        var error = process.StandardError.ReadToEnd();
        process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{program} failed: {error}");
    }
}
