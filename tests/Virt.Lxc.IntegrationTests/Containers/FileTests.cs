using System.Text;
using Virt.Containers;
using Virt.Lxc.IntegrationTests.Infrastructure;

namespace Virt.Lxc.IntegrationTests.Containers;

/// <summary>Push and pull through the container's root, where no symlink can lead back to the host.</summary>
public sealed class FileTests
{
    [Fact(Timeout = 60_000)]
    public async Task Files_round_trip_and_symlinks_planted_in_the_container_cannot_reach_host_files()
    {
        await using var host = LxcTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var container = await host.Manager.CreateAsync(LxcTestHost.Busybox("files"), ct);
        await container.StartAsync(cancellationToken: ct);

        await container.PushFileAsync("/root/greeting.txt", new MemoryStream(Encoding.UTF8.GetBytes("hello from the host")), cancellationToken: ct);
        Assert.Equal("hello from the host", await InContainer.OutputAsync(container, "cat", "/root/greeting.txt"));
        var pulled = new MemoryStream();
        await container.PullFileAsync("/etc/passwd", pulled, ct);
        Assert.StartsWith("root:x:0:0", Encoding.UTF8.GetString(pulled.ToArray()), StringComparison.Ordinal);

        // A host file and a host directory that a container process would like to reach.
        var secretDirectory = Path.Combine(host.LxcPath, "host-only");
        Directory.CreateDirectory(secretDirectory);
        var secret = Path.Combine(secretDirectory, "secret");
        await File.WriteAllTextAsync(secret, "host secret", ct);
        var climb = string.Concat(Enumerable.Repeat("../", 12));
        await InContainer.OutputAsync(container, "ln", "-s", climb + secret.TrimStart('/'), "/escape-file");
        await InContainer.OutputAsync(container, "ln", "-s", secretDirectory, "/escape-dir");

        var read = new MemoryStream();
        var refusedRead = await Assert.ThrowsAsync<ContainerPathException>(() => container.PullFileAsync("/escape-file", read, ct));
        Assert.Contains("No such file", refusedRead.Message, StringComparison.Ordinal);
        Assert.Empty(read.ToArray());
        await Assert.ThrowsAsync<ContainerPathException>(() => container.PullFileAsync("/escape-dir/secret", read, ct));

        await Assert.ThrowsAsync<ContainerPathException>(() => container.PushFileAsync("/escape-dir/secret", new MemoryStream(Encoding.UTF8.GetBytes("overwritten")), cancellationToken: ct));
        Assert.Equal("host secret", await File.ReadAllTextAsync(secret, ct));

        var dotDot = await Assert.ThrowsAsync<ContainerPathException>(() => container.PullFileAsync("/../../etc/passwd", read, ct));
        Assert.Contains("'..' is refused", dotDot.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ContainerPathException>(() => container.PullFileAsync("/etc", read, ct));
        await container.KillAsync(ct);
    }
}
