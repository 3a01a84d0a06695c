using System.Globalization;
using Virt.Containers;
using Virt.Lxc.IntegrationTests.Infrastructure;

namespace Virt.Lxc.IntegrationTests.Containers;

/// <summary>Unprivileged containers (a user namespace over a shifted rootfs), mounts and capabilities on real LXC.</summary>
public sealed class IsolationTests
{
    [Fact(Timeout = 120_000)]
    public async Task An_unprivileged_container_is_root_inside_and_uid_100000_on_the_host()
    {
        await using var host = LxcTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var container = await host.Manager.CreateAsync(LxcTestHost.Busybox("unpriv") with { Unprivileged = true }, ct);
        await container.StartAsync(cancellationToken: ct);

        Assert.Equal("0\n", await InContainer.OutputAsync(container, "id", "-u"));
        var pid = (await container.GetStatusAsync(ct)).InitPid!.Value;
        var uidLine = (await File.ReadAllLinesAsync($"/proc/{pid}/status", ct)).Single(line => line.StartsWith("Uid:", StringComparison.Ordinal));
        Assert.Equal("100000", uidLine.Split('\t', StringSplitOptions.RemoveEmptyEntries)[1]);
        Assert.Contains("0     100000      65536", (await File.ReadAllTextAsync($"/proc/{pid}/uid_map", ct)).Trim(), StringComparison.Ordinal);

        // A pushed file belongs to the container's root, as it sees it.
        await container.PushFileAsync("/root/pushed", new MemoryStream("x"u8.ToArray()), cancellationToken: ct);
        Assert.Equal("0 0\n", await InContainer.OutputAsync(container, "stat", "-c", "%u %g", "/root/pushed"));
        await container.StopAsync(TimeSpan.FromSeconds(10), ct);
    }

    [Fact(Timeout = 120_000)]
    public async Task An_unprivileged_container_on_an_existing_directory_sees_it_through_an_idmapped_mount_and_leaves_its_owners_alone()
    {
        await using var host = LxcTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        await host.Manager.CreateAsync(LxcTestHost.Busybox("donor"), ct);
        var directory = Path.Combine(host.LxcPath, "host-owned");
        LxcTestHost.Run("cp", "-a", Path.Combine(host.LxcPath, "donor/rootfs"), directory);

        var container = await host.Manager.CreateAsync(new ContainerSpec("mapped", ContainerRootfs.Directory(directory)) { Unprivileged = true }, ct);
        await container.StartAsync(cancellationToken: ct);
        Assert.Equal("0\n", await InContainer.OutputAsync(container, "id", "-u"));
        Assert.Equal("0 0\n", await InContainer.OutputAsync(container, "stat", "-c", "%u %g", "/bin/busybox"));
        await InContainer.OutputAsync(container, "touch", "/root/made-inside");
        await container.KillAsync(ct);

        // On the host the tree still belongs to root: the mapping happened at mount time only.
        Assert.Equal("0:0", LxcTestHost.Run("stat", "-c", "%u:%g", Path.Combine(directory, "bin/busybox")).Trim());
        Assert.Equal("0:0", LxcTestHost.Run("stat", "-c", "%u:%g", Path.Combine(directory, "root/made-inside")).Trim());
    }

    [Fact(Timeout = 120_000)]
    public async Task Bind_and_tmpfs_mounts_appear_with_their_options_and_dropped_capabilities_are_gone()
    {
        await using var host = LxcTestHost.Create();
        var ct = TestContext.Current.CancellationToken;
        var shared = Path.Combine(host.LxcPath, "shared");
        Directory.CreateDirectory(shared);
        await File.WriteAllTextAsync(Path.Combine(shared, "from-host"), "host data", ct);
        var spec = LxcTestHost.Busybox("mounts") with
        {
            Mounts = [ContainerMount.Bind(shared, "/srv/shared"), ContainerMount.Tmpfs("/scratch", 8)],
            Capabilities = new ContainerCapabilities { Drop = ["sys_time", "mknod"] },
        };
        var container = await host.Manager.CreateAsync(spec, ct);
        await container.StartAsync(cancellationToken: ct);

        Assert.Equal("host data", await InContainer.OutputAsync(container, "cat", "/srv/shared/from-host"));
        var write = await InContainer.RunAsync(container, "sh", "-c", "echo x > /srv/shared/new");
        Assert.NotEqual(0, write.ExitCode);
        Assert.False(File.Exists(Path.Combine(shared, "new")));
        var scratch = await InContainer.OutputAsync(container, "df", "-k", "/scratch");
        Assert.Contains("8192", scratch, StringComparison.Ordinal);

        var mknod = await InContainer.RunAsync(container, "mknod", "/tmp/node", "c", "1", "3");
        Assert.NotEqual(0, mknod.ExitCode);
        var capEff = (await InContainer.OutputAsync(container, "grep", "CapEff", "/proc/self/status")).Split('\t')[1].Trim();
        var effective = ulong.Parse(capEff, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        const int CapMknod = 27;
        const int CapSysTime = 25;
        Assert.Equal(0UL, effective & ((1UL << CapMknod) | (1UL << CapSysTime)));
        await container.KillAsync(ct);
    }
}
