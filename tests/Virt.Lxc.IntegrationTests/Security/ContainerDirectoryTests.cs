using System.Diagnostics;
using Virt.Containers;
using Virt.Lxc.IntegrationTests.Infrastructure;

namespace Virt.Lxc.IntegrationTests.Security;

/// <summary>
/// Issue 15, item 4 on real LXC: a container's directory keeps other host users away from its rootfs
/// (set-uid files included) and its config and record (environment values) while it runs, and an
/// unprivileged container still starts with the tighter modes (its mapped root only traverses).
/// </summary>
public sealed class ContainerDirectoryTests
{
    [Fact(Timeout = 180_000)]
    public async Task A_running_containers_config_record_and_setuid_files_are_out_of_other_users_reach()
    {
        await using var host = LxcTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var secret = "s3cret-" + Guid.NewGuid().ToString("N")[..8];
        var spec = LxcTestHost.Busybox("private") with { Init = new ContainerInit(["/sbin/init"]) { Environment = new Dictionary<string, string> { ["TOKEN"] = secret } } };
        var container = await host.Manager.CreateAsync(spec, ct);
        await container.StartAsync(cancellationToken: ct);
        var directory = Path.Combine(host.LxcPath, "private");
        var config = Path.Combine(directory, "config");
        Assert.Contains(secret, await File.ReadAllTextAsync(config, ct), StringComparison.Ordinal);

        // A set-uid-root copy planted in the running container's rootfs, as an image would bring it.
        File.Copy("/usr/bin/id", Path.Combine(directory, "rootfs/bin/id-suid"));
        File.SetUnixFileMode(Path.Combine(directory, "rootfs/bin/id-suid"), (UnixFileMode)Convert.ToInt32("4755", 8));

        Assert.Equal("700", LxcTestHost.Run("stat", "-c", "%a", directory).Trim());
        Assert.Equal("600", LxcTestHost.Run("stat", "-c", "%a", config).Trim());
        Assert.Equal("600", LxcTestHost.Run("stat", "-c", "%a", Path.Combine(directory, "virt-container.json")).Trim());
        AssertDenied(Path.Combine(directory, "rootfs/bin/id-suid"), "-u");
        AssertDenied("cat", config);
        AssertDenied("cat", Path.Combine(directory, "virt-container.json"));
        AssertDenied("ls", directory);
        await container.KillAsync(ct);
    }

    [Fact(Timeout = 180_000)]
    public async Task An_unprivileged_container_from_an_image_starts_in_a_directory_its_mapped_root_can_only_traverse()
    {
        await using var host = LxcTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        await host.Manager.CreateAsync(LxcTestHost.Busybox("base"), ct);
        var tarball = Path.Combine(host.LxcPath, "rootfs.tar");
        File.Copy("/usr/bin/id", Path.Combine(host.LxcPath, "base/rootfs/bin/id-suid"));
        File.SetUnixFileMode(Path.Combine(host.LxcPath, "base/rootfs/bin/id-suid"), (UnixFileMode)Convert.ToInt32("4755", 8));
        LxcTestHost.Run("tar", "-cf", tarball, "-C", Path.Combine(host.LxcPath, "base/rootfs"), ".");

        // A LXC path the SDK makes itself (0711), next to the test's.
        var lxcPath = host.LxcPath + "/own";
        var manager = host.NewManager(options => options.LxcPath = lxcPath);
        try
        {
            var container = await manager.CreateAsync(new ContainerSpec("unpriv", ContainerRootfs.Tarball(tarball)) { Unprivileged = true, Init = new ContainerInit(["/sbin/init"]) }, ct);
            await container.StartAsync(cancellationToken: ct);
            Assert.Equal("0\n", await InContainer.OutputAsync(container, "id", "-u"));
            Assert.Equal("711 0:0", LxcTestHost.Run("stat", "-c", "%a %u:%g", lxcPath).Trim());
            Assert.Equal("710 0:100000", LxcTestHost.Run("stat", "-c", "%a %u:%g", Path.Combine(lxcPath, "unpriv")).Trim());
            var binary = Path.Combine(lxcPath, "unpriv/rootfs/bin/id-suid");
            Assert.Equal("4755 100000", LxcTestHost.Run("stat", "-c", "%a %u", binary).Trim());
            AssertDenied(binary, "-u");
            AssertDenied("cat", Path.Combine(lxcPath, "unpriv/config"));
            await container.KillAsync(ct);
        }
        finally
        {
            foreach (var container in await manager.ListAsync(CancellationToken.None))
            {
                await manager.DeleteAsync(container.Name, force: true, CancellationToken.None);
            }
        }
    }

    /// <summary>Runs a command as the host's nobody (runuser: no capability is held while the path is resolved) and asserts it is denied.</summary>
    private static void AssertDenied(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo("runuser") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = "/" };
        foreach (var argument in new[] { "-u", "nobody", "--", program }.Concat(arguments))
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode != 0 && error.Contains("Permission denied", StringComparison.Ordinal), $"nobody ran {program} {string.Join(' ', arguments)}: exit {process.ExitCode}, {output.Result}{error}");
    }
}
