using System.IO.Abstractions;
using Virt.Passthrough.Host;
using Virt.Passthrough.Hosting;
using Virt.Passthrough.Sysfs;

namespace Virt.Passthrough.Tests;

/// <summary>The pieces that read or write the real host, checked read-only (or with writes the kernel refuses).</summary>
public sealed class RealHostTests
{
    [Fact]
    public void The_controller_of_this_machines_root_disk_is_found_host_critical()
    {
        var fileSystem = new FileSystem();
        var options = new PassthroughOptions();
        var scanner = new HostUsageScanner(fileSystem, options);
        var usage = scanner.Read();

        // The root file system's block device, as the kernel links it: /sys/dev/block/MAJ:MIN -> ../../devices/pci.../block/...
        var root = File.ReadAllLines("/proc/self/mountinfo").Select(line => line.Split(' ')).First(fields => fields[4] == "/");
        var link = new FileInfo($"/sys/dev/block/{root[2]}").LinkTarget;
        HostRequirement.Require(link is not null && link.Contains("/pci", StringComparison.Ordinal), $"a root file system ({root[2]}) on a PCI block device");

        var controller = PciAddress.Parse(link.Split('/').Last(part => PciAddress.TryParse(part, out _)));
        Assert.True(usage.BlockControllers.ContainsKey(controller), $"{controller} ({link}) not found among {string.Join(", ", usage.BlockControllers.Keys)}");
        var device = new PciSysfsReader(fileSystem).GetDevice(controller);
        Assert.Contains(scanner.Findings(device, usage), finding => finding.Code == "host.block-device");
    }

    [Fact]
    public async Task A_write_the_kernel_refuses_is_reported_with_its_errno()
    {
        // Binding an address that does not exist: bus_find_device_by_name fails and bind answers ENODEV, changing nothing.
        var driver = Directory.EnumerateDirectories("/sys/bus/pci/drivers").FirstOrDefault(path => File.Exists(Path.Combine(path, "bind")));
        HostRequirement.Require(driver is not null, "a PCI driver with a bind file in /sys/bus/pci/drivers");

        var writer = new SysfsWriter(new FileSystem(), TimeSpan.FromSeconds(5), TimeProvider.System);
        var missing = PciAddress.Parse("0000:7f:1f.7");
        var failure = await Assert.ThrowsAsync<SysfsWriteFailure>(() => writer.WriteAsync(missing, Path.Combine(driver, "bind"), missing.ToString()));
        Assert.Equal("ENODEV", failure.ErrorName);
    }

    [Fact]
    public async Task Changes_wait_for_another_process_holding_the_state_directory_lock()
    {
        var state = Directory.CreateTempSubdirectory("virt-pt-lock-").FullName;
        try
        {
            var manager = new PassthroughManager(new FileSystem(), new PassthroughOptions { StateDirectory = state, LockTimeout = TimeSpan.FromMilliseconds(300) });

            // Another holder of the lock (an flock, as another process would take it).
            using (new FileStream(Path.Combine(state, "lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))
            {
                var timeout = await Assert.ThrowsAsync<TimeoutException>(() => manager.ReleaseAsync("vm:nothing", TestContext.Current.CancellationToken));
                Assert.Contains(Path.Combine(state, "lock"), timeout.Message, StringComparison.Ordinal);
            }

            await manager.ReleaseAsync("vm:nothing", TestContext.Current.CancellationToken);
        }
        finally
        {
            Directory.Delete(state, recursive: true);
        }
    }

    [Fact]
    public void The_nic_carrying_this_machines_routes_is_found_host_critical()
    {
        var routed = File.ReadAllLines("/proc/net/route").Skip(1).Select(line => line.Split('\t')[0].Trim()).Distinct()
            .Select(name => (Name: name, Link: new FileInfo($"/sys/class/net/{name}").LinkTarget))
            .FirstOrDefault(entry => entry.Link?.Contains("/pci", StringComparison.Ordinal) == true);
        HostRequirement.Require(routed.Link is not null, "a routed network interface on a PCI device");

        var controller = PciAddress.Parse(routed.Link.Split('/').Last(part => PciAddress.TryParse(part, out _)));
        var fileSystem = new FileSystem();
        var scanner = new HostUsageScanner(fileSystem, new PassthroughOptions());
        var findings = scanner.Findings(new PciSysfsReader(fileSystem).GetDevice(controller), scanner.Read());
        Assert.Contains(findings, finding => finding.Code == "host.network" && finding.Reason.Contains(routed.Name, StringComparison.Ordinal));
    }
}
