// Building small tar files for the tests: the synchronous writer is clearer here.
#pragma warning disable CA1849
using System.Diagnostics;
using System.Formats.Tar;
using Virt.Containers;
using Virt.Lxc.Containers;
using Virt.Lxc.Hosting;
using Virt.Processes;

namespace Virt.Lxc.Tests.Security;

/// <summary>
/// Issue 15, item 4 (LXC): an image's set-uid-root binary stays set-uid for the container's own use, but
/// no other host user can reach it — the reviewed attack ran such a copy from the host as <c>nobody</c> and
/// got root. Also: the container's record (environment values) cannot be read by other users, and the
/// SDK creates the LXC path 0711.
/// </summary>
public sealed class SetuidTests : IDisposable
{
    private readonly string _parent = "/tmp/vu-" + Guid.NewGuid().ToString("N")[..8];

    public SetuidTests() => Directory.CreateDirectory(_parent);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_setuid_root_binary_of_an_image_cannot_be_run_by_another_host_user(bool unprivileged)
    {
        var lxcPath = Path.Combine(_parent, "lxc");
        var manager = new LxcContainerManager(new LxcOptions { LxcPath = lxcPath }, new System.IO.Abstractions.FileSystem(), new ProcessRunner());
        var tarball = Path.Combine(_parent, "suid.tar");
        using (var stream = File.Create(tarball))
        using (var writer = new TarWriter(stream, TarEntryFormat.Pax))
        {
            writer.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "usr/") { Mode = (UnixFileMode)Convert.ToInt32("755", 8) });
            writer.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "usr/bin/") { Mode = (UnixFileMode)Convert.ToInt32("755", 8) });
            using var id = File.OpenRead("/usr/bin/id");
            writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "usr/bin/id-suid") { DataStream = id, Mode = (UnixFileMode)Convert.ToInt32("4755", 8), Uid = 0, Gid = 0 });
        }

        await manager.CreateAsync(new ContainerSpec("suid", ContainerRootfs.Tarball(tarball)) { Unprivileged = unprivileged }, Ct);
        var binary = Path.Combine(lxcPath, "suid/rootfs/usr/bin/id-suid");
        var record = Path.Combine(lxcPath, "suid/virt-container.json");

        // Kept for the container's own use: set-uid, owned by the container's root.
        Assert.True(File.GetUnixFileMode(binary).HasFlag(UnixFileMode.SetUser));
        Assert.Equal(unprivileged ? "100000" : "0", Run(["stat", "-c", "%u", binary]).Output.Trim());

        // The attack: the host's nobody runs it by its full path.
        // (runuser, not setpriv: setpriv still holds root's capabilities while it resolves the path to exec.)
        var run = Run(["runuser", "-u", "nobody", "--", binary, "-u"]);
        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("Permission denied", run.Output, StringComparison.Ordinal);
        var read = Run(["runuser", "-u", "nobody", "--", "cat", record]);
        Assert.NotEqual(0, read.ExitCode);
        Assert.Contains("Permission denied", read.Output, StringComparison.Ordinal);

        // Modes given at creation: the LXC path 0711 (the SDK made it), the container directory 0700
        // (0710 to the mapped root's group when unprivileged), the record 0600.
        Assert.Equal("711 0:0", Run(["stat", "-c", "%a %u:%g", lxcPath]).Output.Trim());
        Assert.Equal(unprivileged ? "710 0:100000" : "700 0:0", Run(["stat", "-c", "%a %u:%g", Path.Combine(lxcPath, "suid")]).Output.Trim());
        Assert.Equal("600", Run(["stat", "-c", "%a", record]).Output.Trim());
        await manager.DeleteAsync("suid", cancellationToken: Ct);
    }

    private static (int ExitCode, string Output) Run(string[] command)
    {
        var start = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = "/" };
        foreach (var argument in command[1..])
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output + error.Result);
    }

    public void Dispose() => Directory.Delete(_parent, recursive: true);
}
