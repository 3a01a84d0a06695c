using Virt.Kvm.IntegrationTests.Infrastructure;
using Virt.Kvm.CloudInit;
using Virt.Processes;
using Virt.VirtualMachines;

namespace Virt.Kvm.IntegrationTests.Kvm;

/// <summary>The NoCloud seed ISO read back on the host (isoinfo) and mounted by the guest kernel from its CD-ROM.</summary>
[Collection(TestGuestCollection.Name)]
public sealed class CloudInitSeedTests
{
    private static readonly CloudInitSpec Spec = new()
    {
        Hostname = "seeded",
        Users = [new CloudInitUser("deploy") { SshAuthorizedKeys = ["ssh-ed25519 AAAAC3Nza deploy@ci"] }],
        WriteFiles = [new CloudInitFile("/etc/motd", "hello\n")],
        Ethernets = [new CloudInitEthernet("eth0", "52:54:00:12:34:56") { Dhcp4 = true }],
    };

    [Fact(Timeout = 60_000)]
    public async Task The_seed_ISO_has_label_cidata_and_every_file_reads_back_from_both_name_trees()
    {
        // This host's kernel has no iso9660 driver to loop-mount with (the guest test below mounts it in
        // a real kernel); here isoinfo (genisoimage) reads the image from user space, Joliet and primary trees.
        HostRequirement.Require(File.Exists("/usr/bin/isoinfo"), "isoinfo (apt-get install genisoimage; scripts/setup-host.sh does)");
        var ct = TestContext.Current.CancellationToken;
        var directory = Directory.CreateTempSubdirectory("virt-seed-").FullName;
        var iso = Path.Combine(directory, "cidata.iso");
        var runner = new ProcessRunner();
        var files = NoCloudSeed.Render("vm1", Spec);
        await File.WriteAllBytesAsync(iso, NoCloudSeed.BuildIso("vm1", Spec, DateTimeOffset.UtcNow), ct);
        try
        {
            var label = await runner.RunAsync(new ProcessSpec("blkid", ["-o", "value", "-s", "LABEL", iso]), ct);
            var header = await runner.RunAsync(new ProcessSpec("isoinfo", ["-d", "-i", iso]), ct);
            var joliet = await runner.RunAsync(new ProcessSpec("isoinfo", ["-J", "-f", "-i", iso]), ct);
            var primary = await runner.RunAsync(new ProcessSpec("isoinfo", ["-f", "-i", iso]), ct);

            Assert.Equal("cidata", label.StandardOutput.Trim());
            Assert.Contains("Volume id: CIDATA", header.StandardOutput, StringComparison.Ordinal);
            Assert.Contains("Joliet with UCS level 3 found", header.StandardOutput, StringComparison.Ordinal);
            Assert.Equal(["/meta-data", "/network-config", "/user-data"], joliet.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Equal(["/META_DATA.;1", "/NETWORK_CONFIG.;1", "/USER_DATA.;1"], primary.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            foreach (var (name, content) in files)
            {
                var extracted = await runner.RunAsync(new ProcessSpec("isoinfo", ["-J", "-x", "/" + name, "-i", iso]), ct);
                Assert.Equal(System.Text.Encoding.UTF8.GetString(content), extracted.StandardOutput);
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact(Timeout = 180_000)]
    public async Task A_VM_with_cloud_init_sees_its_seed_on_a_CD_ROM()
    {
        await using var host = VmTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var vm = await host.Manager.CreateAsync(VmTestHost.GuestSpec("seeded") with { CloudInit = Spec }, ct);
        await vm.StartAsync(ct);
        await VmTestHost.WaitForSerialAsync(vm, TestGuest.ReadyMarker);
        await GuestWait.ForAgentAsync(vm.Guest);

        var read = await vm.Guest.ExecAsync("/bin/sh", ["-c", "mkdir -p /run/seed && mount -t iso9660 -o ro /dev/sr0 /run/seed && cat /run/seed/user-data && umount /run/seed"], cancellationToken: ct);

        Assert.True(read.ExitCode == 0, read.StandardErrorText);
        Assert.Equal(NoCloudSeed.Render("seeded", Spec)["user-data"], read.StandardOutput);
        await vm.KillAsync(ct);
    }
}
