using System.Diagnostics;
using Virt.Kvm.IntegrationTests.Infrastructure;
using Virt.Processes;
using Virt.VirtualMachines;

namespace Virt.Kvm.IntegrationTests.Kvm;

/// <summary>Hotplug on the real test guest, seen from inside the guest through the agent.</summary>
[Collection(TestGuestCollection.Name)]
public sealed class HotplugTests
{
    [Fact(Timeout = 240_000)]
    public async Task Disks_NICs_vCPUs_and_memory_plug_in_and_out_and_the_guest_sees_it()
    {
        await using var host = VmTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var spec = VmTestHost.GuestSpec("hotplug") with
        {
            Cpu = new VmCpu { MaxCount = 2 },
            Memory = new VmMemory { SizeMiB = 256, MaxSizeMiB = 1024, HotplugSlots = 2 },
        };
        var vm = await host.Manager.CreateAsync(spec, ct);
        var image = Path.Combine(host.StateDirectory, "hp1.qcow2");
        (await new ProcessRunner().RunAsync(new ProcessSpec("qemu-img", ["create", "-q", "-f", "qcow2", image, "64M"]), ct)).EnsureSuccess();
        await vm.StartAsync(ct);
        await VmTestHost.WaitForSerialAsync(vm, TestGuest.ReadyMarker);
        await GuestWait.ForAgentAsync(vm.Guest);

        // Disk: in, seen as a block device (the first free name: vda, there is no boot disk), out.
        var plugged = Stopwatch.StartNew();
        await vm.Disks.AttachAsync(new VmDisk("hp1", image), ct);
        await GuestWait.UntilAsync(vm.Guest, "test -b /dev/vda");
        var diskVisible = plugged.Elapsed;
        Assert.Contains(vm.Spec.Disks, d => d.Id == "hp1");
        Assert.Contains("\"hp1\"", await File.ReadAllTextAsync(Path.Combine(host.StateDirectory, "hotplug", "spec.json"), ct), StringComparison.Ordinal);
        await vm.Disks.DetachAsync("hp1", ct);
        Assert.Equal(1, (await vm.Guest.ExecAsync("/bin/sh", ["-c", "test -e /sys/block/vda"], cancellationToken: ct)).ExitCode);
        Assert.DoesNotContain(vm.Spec.Disks, d => d.Id == "hp1");

        // NIC: in, the guest lists its MAC, out.
        await vm.Nics.AttachAsync(new VmNic("hpnet") { MacAddress = "52:54:00:00:0a:01" }, ct);
        await GuestWait.UntilAsync(vm.Guest, "grep -q 52:54:00:00:0a:01 /sys/class/net/*/address");
        Assert.Contains(await vm.Guest.GetNetworkInterfacesAsync(ct), i => i.HardwareAddress == "52:54:00:00:0a:01");
        await vm.Nics.DetachAsync("hpnet", ct);
        Assert.DoesNotContain(await vm.Guest.GetNetworkInterfacesAsync(ct), i => i.HardwareAddress == "52:54:00:00:0a:01");

        // vCPU and memory: up to the spec's maximums.
        await vm.Resources.SetCpuCountAsync(2, ct);
        await GuestWait.UntilAsync(vm.Guest, "test -d /sys/devices/system/cpu/cpu1");
        var blocksBefore = await CountAsync(vm.Guest, "/sys/devices/system/memory");
        await vm.Resources.AddMemoryAsync(128, ct);
        await GuestWait.UntilAsync(vm.Guest, $"test $(ls -d /sys/devices/system/memory/memory* | wc -l) -gt {blocksBefore}");
        Assert.Equal(2, vm.Spec.Cpu.Count);
        Assert.Equal(384, vm.Spec.Memory.SizeMiB);

        // Bad input: each a clear error, the spec unchanged, nothing left in QEMU.
        var missing = await Assert.ThrowsAsync<VmHotplugException>(() => vm.Disks.AttachAsync(new VmDisk("hp2", "/nonexistent/x.qcow2"), ct));
        var sata = await Assert.ThrowsAsync<VmHotplugException>(() => vm.Disks.AttachAsync(new VmDisk("hp3", image) { Bus = VmDiskBus.Sata }, ct));
        await Assert.ThrowsAsync<InvalidVmSpecException>(() => vm.Nics.AttachAsync(new VmNic("bad,id"), ct));
        var tooMany = await Assert.ThrowsAsync<VmHotplugException>(() => vm.Resources.SetCpuCountAsync(3, ct));
        Assert.Contains("does not exist", missing.Message, StringComparison.Ordinal);
        Assert.Contains("virtio-blk", sata.Message, StringComparison.Ordinal);
        Assert.Contains("MaxCount", tooMany.Message, StringComparison.Ordinal);
        Assert.Empty(vm.Spec.Disks);
        Assert.Empty(vm.Spec.Nics);

        TestContext.Current.TestOutputHelper?.WriteLine($"hotplug: device_add to /dev/vda visible in the guest in {diskVisible.TotalMilliseconds:0} ms");
        await vm.KillAsync(ct);
    }

    private static async Task<int> CountAsync(IVmGuest guest, string directory)
    {
        var result = await guest.ExecAsync("/bin/sh", ["-c", $"ls -d {directory}/memory* | wc -l"]);
        return int.Parse(result.StandardOutputText.Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
