using System.Security.Cryptography;
using System.Text;
using Virt.Containers;
using Virt.Lxc.IntegrationTests.Infrastructure;

namespace Virt.Lxc.IntegrationTests.Security;

/// <summary>
/// The container's processes own its tree: what they plant at a push target or pull source — a FIFO, a
/// device, a link to a host file, a kernel file under /proc — must be refused at once, never opened.
/// </summary>
public sealed class FileAccessSecurityTests
{
    private static readonly TimeSpan NotHung = TimeSpan.FromSeconds(30);

    [Fact(Timeout = 180_000)]
    public async Task Fifos_planted_at_a_push_target_or_pull_source_are_refused_without_blocking()
    {
        await using var host = LxcTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var container = await host.Manager.CreateAsync(LxcTestHost.Busybox("fifo"), ct);
        await container.StartAsync(cancellationToken: ct);
        await InContainer.OutputAsync(container, "mkfifo", "/root/push-fifo", "/root/pull-fifo");
        await InContainer.OutputAsync(container, "ln", "-s", "/root/pull-fifo", "/root/link-to-fifo");

        var push = await Assert.ThrowsAsync<ContainerPathException>(() => container.PushFileAsync("/root/push-fifo", new MemoryStream(Encoding.UTF8.GetBytes("data")), cancellationToken: ct).WaitAsync(NotHung, ct));
        Assert.Contains("a fifo", push.Message, StringComparison.Ordinal);

        var pulled = new MemoryStream();
        var pull = await Assert.ThrowsAsync<ContainerPathException>(() => container.PullFileAsync("/root/pull-fifo", pulled, ct).WaitAsync(NotHung, ct));
        Assert.Contains("a fifo", pull.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ContainerPathException>(() => container.PullFileAsync("/root/link-to-fifo", pulled, ct).WaitAsync(NotHung, ct));

        // A device that never ends: refused, not read.
        var zero = await Assert.ThrowsAsync<ContainerPathException>(() => container.PullFileAsync("/dev/zero", pulled, ct).WaitAsync(NotHung, ct));
        Assert.Contains("a character device", zero.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ContainerPathException>(() => container.PushFileAsync("/dev/null", new MemoryStream([1, 2, 3]), cancellationToken: ct).WaitAsync(NotHung, ct));
        Assert.Empty(pulled.ToArray());

        // The FIFOs are still FIFOs, and a regular file still round-trips.
        Assert.Equal("p p", (await InContainer.OutputAsync(container, "sh", "-c", "[ -p /root/push-fifo ] && printf 'p '; [ -p /root/pull-fifo ] && printf p")).Trim());
        await container.PushFileAsync("/root/plain", new MemoryStream(Encoding.UTF8.GetBytes("plain")), cancellationToken: ct);
        await container.PushFileAsync("/root/plain", new MemoryStream(Encoding.UTF8.GetBytes("again")), cancellationToken: ct);
        var plain = new MemoryStream();
        await container.PullFileAsync("/root/plain", plain, ct);
        Assert.Equal("again", Encoding.UTF8.GetString(plain.ToArray()));
        await container.KillAsync(ct);
    }

    [Fact(Timeout = 180_000)]
    public async Task Links_to_host_files_and_kernel_files_under_proc_never_reach_the_host()
    {
        await using var host = LxcTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var container = await host.Manager.CreateAsync(LxcTestHost.Busybox("links"), ct);
        await container.StartAsync(cancellationToken: ct);
        var shadowHash = SHA256.HashData(await File.ReadAllBytesAsync("/etc/shadow", ct));
        var hostShadow = await File.ReadAllTextAsync("/etc/shadow", ct);

        await InContainer.OutputAsync(container, "ln", "-s", "/etc/shadow", "/root/shadow-link");
        await InContainer.OutputAsync(container, "ln", "-s", "../../../../../../etc/shadow", "/root/shadow-climb");

        // A link resolves inside the container: the container's own /etc/shadow (or none), never the host's.
        foreach (var link in new[] { "/root/shadow-link", "/root/shadow-climb" })
        {
            var pulled = new MemoryStream();
            try
            {
                await container.PullFileAsync(link, pulled, ct).WaitAsync(NotHung, ct);
            }
            catch (ContainerPathException)
            {
                // No /etc/shadow in the container.
            }

            Assert.NotEqual(hostShadow, Encoding.UTF8.GetString(pulled.ToArray()));
        }

        // A pushed path's last component is never followed.
        var pushed = await Assert.ThrowsAsync<ContainerPathException>(() => container.PushFileAsync("/root/shadow-link", new MemoryStream(Encoding.UTF8.GetBytes("root::0:0:99999:7:::\n")), cancellationToken: ct).WaitAsync(NotHung, ct));
        Assert.Contains("symbolic link", pushed.Message, StringComparison.Ordinal);

        // Kernel files seen through the container's /proc are the host kernel's: refused both ways.
        var cmdline = new MemoryStream();
        var kernelRead = await Assert.ThrowsAsync<ContainerPathException>(() => container.PullFileAsync("/proc/cmdline", cmdline, ct).WaitAsync(NotHung, ct));
        Assert.Contains("kernel filesystem", kernelRead.Message, StringComparison.Ordinal);
        Assert.Empty(cmdline.ToArray());
        await InContainer.OutputAsync(container, "ln", "-s", "/proc/sys/vm/drop_caches", "/root/sysctl-link");
        await Assert.ThrowsAsync<ContainerPathException>(() => container.PullFileAsync("/root/sysctl-link", cmdline, ct).WaitAsync(NotHung, ct));
        var kernelWrite = await Assert.ThrowsAsync<ContainerPathException>(() => container.PushFileAsync("/proc/sys/vm/drop_caches", new MemoryStream(Encoding.UTF8.GetBytes("1")), cancellationToken: ct).WaitAsync(NotHung, ct));
        Assert.Contains("kernel filesystem", kernelWrite.Message, StringComparison.Ordinal);

        Assert.Equal(shadowHash, SHA256.HashData(await File.ReadAllBytesAsync("/etc/shadow", ct)));
        await container.KillAsync(ct);
    }
}
