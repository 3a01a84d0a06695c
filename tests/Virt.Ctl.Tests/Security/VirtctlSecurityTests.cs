using System.Security.Cryptography;

namespace Virt.Ctl.Tests.Security;

/// <summary>virtctl's safer defaults (issue 15): a VM disk is a storage volume unless --allow-host-path says otherwise.</summary>
public sealed class VirtctlSecurityTests
{
    [Fact(Timeout = 120_000)]
    public async Task A_host_file_as_a_disk_is_refused_without_allow_host_path_and_nothing_is_created()
    {
        using var virtctl = new Virtctl(TestContext.Current.CancellationToken);
        var shadow = Convert.ToHexString(SHA256.HashData(await File.ReadAllBytesAsync("/etc/shadow", TestContext.Current.CancellationToken)));
        foreach (var disk in new[] { "/etc/shadow", "/dev/sda", "etc/shadow" })
        {
            var refused = await virtctl.RunAsync("vm", "create", "shadow", "--test-guest", "--disk", disk);
            Assert.Equal(2, refused.ExitCode);
            Assert.Contains(disk, refused.Error + refused.Output, StringComparison.Ordinal);
        }

        Assert.Contains("--allow-host-path", (await virtctl.RunAsync("vm", "create", "shadow", "--test-guest", "--disk", "/etc/shadow")).Error, StringComparison.Ordinal);
        Assert.Equal(0, (await virtctl.JsonAsync("vm", "list")).GetArrayLength());
        Assert.False(Directory.Exists(Path.Combine(virtctl.State, "vms", "shadow")));

        // A relative path is refused even with the option: only absolute host paths or pool:name volumes.
        Assert.Equal(2, (await virtctl.RunAsync("vm", "create", "shadow", "--test-guest", "--disk", "etc/shadow", "--allow-host-path")).ExitCode);
        Assert.Equal(shadow, Convert.ToHexString(SHA256.HashData(await File.ReadAllBytesAsync("/etc/shadow", TestContext.Current.CancellationToken))));
    }
}
